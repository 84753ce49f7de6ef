"""Hugging Face transformers and Accelerate, run for real on tiny models built from configs.

The Trainer trains a one-layer BERT for a few steps on CPU with synthetic token ids; nothing
is downloaded. Runs are read back through `fwtrack.Api`.
"""

from __future__ import annotations

import json
import os
import pickle
import runpy
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import accelerate  # noqa: F401
import numpy as np
import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    EvalPrediction,
    Trainer,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.integrations import integration_utils

import fwtrack
from fwtrack.errors import FwTrackWarning
from fwtrack.integrations import _import_hooks
from fwtrack.integrations.accelerate import FwTrackTracker
from fwtrack.integrations.transformers import FwTrackCallback

if TYPE_CHECKING:
    from conftest import ScriptRunner

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("tmp_dir")

SUMMARY_ONLY = {
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "train_loss",
    "total_flos",
}


class Synthetic(torch.utils.data.Dataset):
    """Token ids whose label is whether the first id is in the lower half."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(0, 100, (n, 8), generator=g)
        self.labels = (self.input_ids[:, 0] < 50).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "input_ids": self.input_ids[i],
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": self.labels[i],
        }


def tiny_bert(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    return BertForSequenceClassification(config)


def training_args(tmp_path: Path, **kwargs: Any) -> Any:
    defaults: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 4,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8,
        "logging_steps": 1,
        "eval_strategy": "steps",
        "eval_steps": 2,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    return TrainingArguments(**{**defaults, **kwargs})


def accuracy(pred: EvalPrediction) -> dict[str, float]:
    return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}


def trainer(args: Any, model: Any = None, **kwargs: Any) -> Any:
    return Trainer(
        model=model if model is not None else tiny_bert(),
        args=args,
        train_dataset=Synthetic(16, seed=1),
        eval_dataset=Synthetic(8, seed=2),
        compute_metrics=accuracy,
        **kwargs,
    )


def read(run_id: str) -> Any:
    return fwtrack.Api().run(run_id)


def fwtrack_callbacks(t: Any) -> list[FwTrackCallback]:
    return [cb for cb in t.callback_handler.callbacks if isinstance(cb, FwTrackCallback)]


# -- report_to ----------------------------------------------------------------------------


def test_registered_in_transformers_registry() -> None:
    assert integration_utils.INTEGRATION_TO_CALLBACK["fwtrack"] is FwTrackCallback
    assert integration_utils.get_reporting_integration_callbacks("fwtrack") == [FwTrackCallback]


def test_report_to_fwtrack_train_evaluate_predict(tmp_path: Path) -> None:
    args = training_args(tmp_path, report_to="fwtrack", run_name="tiny-bert")
    assert args.report_to == ["fwtrack"]
    t = trainer(args)
    (cb,) = fwtrack_callbacks(t)
    t.train()
    run = fwtrack.run
    assert run is not None
    assert cb.run is run
    t.evaluate()
    t.predict(Synthetic(8, seed=3))
    assert not run.finished  # left open for evaluate()/predict(), finished at exit
    fwtrack.finish()

    got = read(run.id)
    assert (got.project, got.name, got.state) == ("huggingface", "tiny-bert", "finished")
    history = got.history()
    rows = [
        {k: v for k, v in row.items() if not k.startswith("_") and v == v}  # drop NaN
        for row in history.to_dict("records")
    ]
    sections = [
        (
            sorted({k.split("/")[0] for k in row if k != "train/global_step"}),
            row["train/global_step"],
        )
        for row in rows
    ]
    # train.log at steps 1-4, an evaluation every 2 steps, the end-of-training row (epoch
    # only: its speed metrics go to the summary), evaluate(), predict().
    assert sections == [
        (["train"], 1),
        (["train"], 2),
        (["eval", "train"], 2),
        (["train"], 3),
        (["train"], 4),
        (["eval", "train"], 4),
        (["train"], 4),
        (["eval", "train"], 4),
        (["test"], 4),
    ]
    assert set(rows[0]) == {
        "train/loss",
        "train/grad_norm",
        "train/learning_rate",
        "train/epoch",
        "train/global_step",
    }
    assert {"eval/loss", "eval/accuracy", "eval/runtime", "train/epoch"} <= set(rows[2])
    assert {"test/loss", "test/accuracy", "test/runtime"} <= set(rows[-1])
    assert not SUMMARY_ONLY & set(history.columns)
    assert not any(k.startswith(("eval_", "test_")) for k in history.columns)

    summary = got.summary
    assert set(summary) >= SUMMARY_ONLY
    assert summary["train_loss"] > 0
    assert summary["total_flos"] > 0
    assert summary["train/global_step"] == 4
    assert summary["eval/accuracy"] == rows[-2]["eval/accuracy"]

    config = got.config
    assert config["hidden_size"] == 16  # model config
    assert config["model_type"] == "bert"
    assert config["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert config["learning_rate"] == args.learning_rate  # training arguments
    assert config["max_steps"] == 4
    assert config["run_name"] == "tiny-bert"
    assert config["hub_token"] == "<HUB_TOKEN>"  # masked by TrainingArguments.to_dict()
    assert config["model/num_parameters"] == t.model.num_parameters()

    metrics = {m["name"]: m["step_metric"] for m in got.metrics}
    assert metrics == {
        "train/global_step": None,
        "train/*": "train/global_step",
        "eval/*": "train/global_step",
        "test/*": "train/global_step",
    }

    # The callback survives pickling (Ray Tune workers, deep copies) without its run.
    clone = pickle.loads(pickle.dumps(cb))
    assert clone.run is None


def test_report_to_list_and_fwtrack_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_PROJECT", "from-env")

    def with_per_class(pred: EvalPrediction) -> dict[str, Any]:
        return {**accuracy(pred), "per_class": [0.5, 0.5]}  # a list: left out, with a warning

    args = training_args(tmp_path, report_to=["fwtrack"], max_steps=2)
    t = Trainer(
        model=tiny_bert(),
        args=args,
        train_dataset=Synthetic(8, seed=1),
        eval_dataset=Synthetic(8, seed=2),
        compute_metrics=with_per_class,
    )
    assert len(fwtrack_callbacks(t)) == 1
    with pytest.warns(FwTrackWarning, match=r"'eval/per_class' \(list\)"):
        t.train()
    run = fwtrack.run
    assert run is not None
    fwtrack.finish()
    got = read(run.id)
    assert got.project == "from-env"
    assert got.name == run.name  # no run_name: a generated name
    assert "eval/accuracy" in got.history().columns
    assert "eval/per_class" not in got.history().columns


def test_callback_instance_reuses_active_run(tmp_path: Path) -> None:
    mine = fwtrack.init(project="mine", name="my-run", config={"dataset": "synthetic"})
    cb = FwTrackCallback(project="ignored-for-an-active-run")
    t = trainer(training_args(tmp_path, max_steps=2, run_name="ignored"), callbacks=[cb])
    assert fwtrack_callbacks(t) == [cb]
    t.train()
    t.evaluate()
    assert cb.run is mine
    assert fwtrack.run is mine
    assert not mine.finished  # the user's run: flushed, never finished by the callback
    mine.log({"after/training": 1.0})
    mine.finish()

    got = read(mine.id)
    assert (got.project, got.name) == ("mine", "my-run")
    assert got.config["dataset"] == "synthetic"
    assert got.config["hidden_size"] == 16
    assert got.config["max_steps"] == 2
    history = got.history()
    assert history["train/global_step"].dropna().tolist() == [1, 2, 2, 2, 2]
    assert history["after/training"].dropna().tolist() == [1.0]


def test_callback_arguments_start_a_run(tmp_path: Path) -> None:
    cb = FwTrackCallback(project="hf-args", tags=["tiny"], notes="from the callback")
    t = trainer(training_args(tmp_path, max_steps=1, eval_strategy="no"), callbacks=[cb])
    t.train()
    run = cb.run
    assert run is not None
    assert fwtrack.run is run
    fwtrack.finish()
    got = read(run.id)
    assert (got.project, got.tags, got.notes) == ("hf-args", ["tiny"], "from the callback")
    assert got.history()["train/global_step"].tolist() == [1, 1]


def test_only_world_process_zero_logs(tmp_path: Path) -> None:
    """The real callback hooks, driven by the real CallbackHandler with the state another
    process of a distributed run has: nothing is started, logged or written."""
    args = training_args(tmp_path, report_to="fwtrack", max_steps=1)
    t = trainer(args)
    handler = t.callback_handler
    state = TrainerState(is_world_process_zero=False, is_local_process_zero=True)
    control = TrainerControl()
    handler.on_train_begin(args, state, control)
    handler.on_log(args, state, control, logs={"loss": 0.5, "train_runtime": 1.0})
    handler.on_evaluate(args, state, control, metrics={"eval_loss": 0.4})
    handler.on_predict(args, state, control, metrics={"test_loss": 0.3})
    handler.on_train_end(args, state, control)
    (cb,) = fwtrack_callbacks(t)
    assert cb.run is None
    assert fwtrack.run is None
    assert not (tmp_path / "fwtrack").exists()

    # The same hooks on world-process-zero do log.
    state = TrainerState(is_world_process_zero=True, global_step=3)
    handler.on_train_begin(args, state, control)
    handler.on_log(args, state, control, logs={"loss": 0.5, "train_runtime": 1.0})
    run = cb.run
    assert run is not None
    fwtrack.finish()
    got = read(run.id)
    assert got.history()[["train/loss", "train/global_step"]].to_dict("records") == [
        {"train/loss": 0.5, "train/global_step": 3}
    ]
    assert got.summary["train_runtime"] == 1.0


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_peft_config(tmp_path: Path) -> None:
    import peft

    model = peft.get_peft_model(
        tiny_bert(),
        peft.LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value"], task_type="SEQ_CLS"),
    )
    t = trainer(training_args(tmp_path, report_to="fwtrack", max_steps=2), model=model)
    t.train()
    run = fwtrack.run
    assert run is not None
    fwtrack.finish()
    config = read(run.id).config
    lora = config["peft_config"]["default"]
    assert (lora["r"], lora["lora_alpha"]) == (2, 4)
    assert lora["target_modules"] == ["query", "value"]  # a set in peft: a sorted list
    assert (lora["peft_type"], lora["task_type"]) == ("LORA", "SEQ_CLS")
    assert config["hidden_size"] == 16
    assert config["model/num_parameters"] == model.num_parameters()


# -- hyperparameter search -----------------------------------------------------------------


def test_each_trial_gets_its_own_run(tmp_path: Path) -> None:
    """Trials as `Trainer.hyperparameter_search` runs them: `train(trial=...)` on a Trainer
    built with `model_init`, named by `hp_name`. transformers accepts a dict trial only when
    wandb or Ray Tune is installed (optuna, which would drive a real search, is not)."""
    args = training_args(
        tmp_path, report_to="fwtrack", run_name="search", max_steps=2, eval_strategy="no"
    )
    t = Trainer(
        model_init=lambda trial: tiny_bert(),
        args=args,
        train_dataset=Synthetic(8, seed=1),
        eval_dataset=Synthetic(8, seed=2),
    )
    t.hp_name = lambda trial: f"lr-{trial['learning_rate']}"
    runs = []
    for lr in (1e-3, 1e-4):
        args.learning_rate = lr  # what Trainer._hp_search_setup() does with the trial's params
        t.train(trial={"learning_rate": lr})
        assert t.state.is_hyper_param_search
        t.evaluate()  # the objective, as the optuna backend computes it
        runs.append(fwtrack.run)
    t.train()  # training with the best parameters after the search: a run of its own
    runs.append(fwtrack.run)
    fwtrack.finish()

    assert len({r.id for r in runs}) == 3
    got = [read(r.id) for r in runs]
    assert [(g.name, g.group, g.state) for g in got] == [
        ("lr-0.001", "search", "finished"),
        ("lr-0.0001", "search", "finished"),
        ("search", None, "finished"),
    ]
    assert [g.config["learning_rate"] for g in got] == [1e-3, 1e-4, 1e-4]
    for g in got[:2]:
        history = g.history()
        assert history["train/global_step"].tolist() == [1, 2, 2, 2]
        assert "eval/loss" in history.columns


def test_trial_hooks_start_a_run_per_trial_and_finish_the_previous(tmp_path: Path) -> None:
    """The trial protocol through the real CallbackHandler (no search backend needed)."""
    args = training_args(tmp_path, report_to="fwtrack", run_name="study", max_steps=1)
    handler = trainer(args).callback_handler
    control = TrainerControl()
    mine = fwtrack.init(project="mine")  # one process, one active run: the first trial ends it
    runs = []
    for i in range(2):
        state = TrainerState(is_hyper_param_search=True, trial_name=f"trial-{i}", global_step=1)
        handler.on_train_begin(args, state, control)
        handler.on_log(args, state, control, logs={"loss": 1.0 / (i + 1)})
        handler.on_train_end(args, state, control)
        runs.append(fwtrack.run)
    assert runs[0] is not None
    assert runs[1] is not None
    assert mine.finished
    assert runs[0].finished
    assert not runs[1].finished
    fwtrack.finish()
    got = [read(r.id) for r in runs]
    assert [(g.name, g.group) for g in got] == [("trial-0", "study"), ("trial-1", "study")]
    assert [g.summary["train/loss"] for g in got] == [1.0, 0.5]


# -- the post-import hook -------------------------------------------------------------------


def test_transformers_first_then_fwtrack(run_script: ScriptRunner) -> None:
    """transformers' integration registry loaded before `import fwtrack`: fwtrack registers
    at once. (Importing fwtrack first, the post-import hook registers it: the example's test
    below, and this test module itself.)"""
    out = run_script(
        """
        import json, sys, warnings
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", ".*CUDA initialization.*", UserWarning)
        import torch
        from transformers import (
            BertConfig, BertForSequenceClassification, Trainer, TrainingArguments,
        )
        loaded_before = "transformers.integrations.integration_utils" in sys.modules
        import fwtrack
        args = TrainingArguments(
            output_dir="out", report_to=["fwtrack"], run_name="late", max_steps=1,
            per_device_train_batch_size=2, use_cpu=True, disable_tqdm=True,
        )
        model = BertForSequenceClassification(BertConfig(
            vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=32,
        ))
        data = [{"input_ids": torch.arange(8), "labels": torch.tensor(1)}] * 2
        trainer = Trainer(model=model, args=args, train_dataset=data)
        trainer.train()
        print(json.dumps({
            "loaded_before": loaded_before,
            "callbacks": [type(c).__name__ for c in trainer.callback_handler.callbacks],
            "finders": [type(f).__name__ for f in sys.meta_path],
            "run": fwtrack.run.id,
        }))
        """,
        timeout=110,
        OMP_NUM_THREADS="1",
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded_before"]
    assert got["callbacks"] == ["DefaultFlowCallback", "FwTrackCallback", "PrinterCallback"]
    assert "_Finder" not in got["finders"]  # nothing left to watch
    run = read(got["run"])
    assert (run.name, run.state) == ("late", "finished")
    assert run.history()["train/global_step"].tolist() == [1]
    assert "train_runtime" in run.summary


@pytest.fixture
def watched_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"fwtrack_hooked_{os.getpid()}_{id(tmp_path)}"
    (tmp_path / f"{name}.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    _import_hooks._pending.pop(name, None)
    if not _import_hooks._pending and _import_hooks._finder in sys.meta_path:
        sys.meta_path.remove(_import_hooks._finder)


def test_import_hook_runs_after_the_module_and_never_breaks_the_import(
    watched_module: str,
) -> None:
    import importlib

    seen: list[int] = []

    def good(module: Any) -> None:
        seen.append(module.VALUE)

    def bad(module: Any) -> None:
        raise RuntimeError("registry moved")

    _import_hooks.when_imported(watched_module, good)
    _import_hooks.when_imported(watched_module, bad)
    assert seen == []
    with pytest.warns(FwTrackWarning, match=f"could not register with {watched_module}"):
        module = importlib.import_module(watched_module)
    assert module.VALUE == 42
    assert seen == [42]
    assert type(module.__loader__).__name__ == "SourceFileLoader"
    assert watched_module not in _import_hooks._pending
    # A module imported already gets its hook at once.
    _import_hooks.when_imported(watched_module, good)
    assert seen == [42, 42]


# -- Accelerate ---------------------------------------------------------------------------


@pytest.fixture
def fresh_accelerate() -> Iterator[None]:
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def accelerate_loop(accelerator: Any, steps: int = 3) -> list[float]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    losses = []
    for step in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"train/loss": loss.item(), "train/lr": 0.1}, step=step)
        losses.append(loss.item())
    return losses


@pytest.mark.usefixtures("fresh_accelerate")
def test_accelerate_tracker() -> None:
    tracker = FwTrackTracker()
    accelerator = Accelerator(cpu=True, log_with=[tracker])
    accelerator.init_trackers(
        "acc-proj",
        config={"lr": 0.1, "model": "linear", "sizes": [4, 1]},
        init_kwargs={"fwtrack": {"tags": ["accelerate"], "name": "linear-sgd"}},
    )
    run = accelerator.get_tracker("fwtrack", unwrap=True)
    assert run is fwtrack.run
    assert accelerator.get_tracker("fwtrack") is tracker
    losses = accelerate_loop(accelerator)
    accelerator.end_training()
    assert run.finished

    got = read(run.id)
    assert (got.project, got.name, got.tags, got.state) == (
        "acc-proj",
        "linear-sgd",
        ["accelerate"],
        "finished",
    )
    assert got.config == {"lr": 0.1, "model": "linear", "sizes": [4, 1]}
    history = got.history()
    assert history["_step"].tolist() == [0, 1, 2]
    assert history["train/loss"].tolist() == pytest.approx(losses)
    assert pickle.loads(pickle.dumps(tracker)).tracker is None
    from fwtrack.integrations.transformers import FwTrackTracker as reexported

    assert reexported is FwTrackTracker


@pytest.mark.usefixtures("fresh_accelerate")
def test_accelerate_tracker_project_argument_and_active_run() -> None:
    mine = fwtrack.init(project="mine")
    accelerator = Accelerator(cpu=True, log_with=[FwTrackTracker(project="unused")])
    accelerator.init_trackers("unused-too", config={"batch": 16})
    accelerate_loop(accelerator, steps=2)
    accelerator.end_training()
    assert fwtrack.run is mine
    assert not mine.finished  # the user's run is reused and left open
    mine.finish()
    got = read(mine.id)
    assert got.config == {"batch": 16}
    assert got.history()["_step"].tolist() == [0, 1]

    accelerator = Accelerator(cpu=True, log_with=[FwTrackTracker(project="explicit")])
    accelerator.init_trackers("overridden")
    accelerator.log({"x": 1})
    run = accelerator.get_tracker("fwtrack", unwrap=True)
    accelerator.end_training()
    assert (read(run.id).project, read(run.id).state) == ("explicit", "finished")


def _distributed_worker(fwtrack_dir: str) -> None:
    AcceleratorState._reset_state(reset_partial_state=True)
    os.environ["FWTRACK_DIR"] = fwtrack_dir
    accelerator = Accelerator(cpu=True, log_with=[FwTrackTracker()])
    accelerator.init_trackers("ddp", config={"world_size": accelerator.num_processes})
    accelerate_loop(accelerator, steps=2)
    tracker = accelerator.log_with[0]
    rank = accelerator.process_index
    Path(fwtrack_dir, f"rank{rank}.json").write_text(
        json.dumps({"run": getattr(tracker.tracker, "id", None), "active": fwtrack.run is not None})
    )
    accelerator.end_training()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("fresh_accelerate")
def test_accelerate_only_main_process_logs(tmp_path: Path) -> None:
    """Two real CPU processes (gloo), forked as `accelerate.debug_launcher` does."""
    from accelerate.utils import PrepareForLaunch, patch_environment
    from torch.multiprocessing import start_processes

    fwtrack_dir = str(tmp_path / "fwtrack")
    os.makedirs(fwtrack_dir, exist_ok=True)
    with patch_environment(
        world_size=2,
        master_addr="127.0.0.1",
        master_port=str(_free_port()),
        accelerate_mixed_precision="no",
        accelerate_debug_rdv_file=str(tmp_path / "rdv"),
        accelerate_use_cpu="yes",
        gloo_socket_ifname="lo",
    ):
        launcher = PrepareForLaunch(_distributed_worker, debug=True)
        start_processes(launcher, args=(fwtrack_dir,), nprocs=2, start_method="fork")

    ranks = [json.loads(Path(fwtrack_dir, f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["run"] is not None
    assert ranks[0]["active"]
    assert ranks[1] == {"run": None, "active": False}
    (run,) = fwtrack.Api().runs("ddp")
    assert run.id == ranks[0]["run"]
    assert run.config == {"world_size": 2}
    assert run.state == "finished"
    assert run.history()["_step"].tolist() == [0, 1]


# -- the example -----------------------------------------------------------------------------


def test_example_script(tmp_path: Path, run_script: ScriptRunner) -> None:
    """The example, run after `import fwtrack` (which must not import transformers): the
    post-import hook registers "fwtrack" when transformers loads its integration registry."""
    script = REPO / "integrations" / "transformers" / "train.py"
    out = run_script(
        f"""
        import json, runpy, sys
        import fwtrack
        assert "transformers" not in sys.modules, "import fwtrack imported transformers"
        sys.argv = [{str(script)!r}, "--epochs", "2"]
        runpy.run_path(sys.argv[0], run_name="__main__")
        utils = sys.modules["transformers.integrations.integration_utils"]
        print(json.dumps({{
            "loader": type(utils.__loader__).__name__,
            "spec_loader": type(utils.__spec__.loader).__name__,
            "finders": [type(f).__name__ for f in sys.meta_path],
        }}))
        """,
        timeout=110,
        OMP_NUM_THREADS="1",
    )
    *_, run_line, hook_line = out.stdout.strip().splitlines()
    # The watched module keeps its real loader, and the finder is gone once it fired.
    hook = json.loads(hook_line)
    assert hook["loader"] == hook["spec_loader"] == "SourceFileLoader"
    assert "_Finder" not in hook["finders"]

    assert run_line.startswith("run huggingface/")
    run_id = run_line.split()[1].split("/")[1]
    got = fwtrack.Api(tmp_path / "fwtrack").run(run_id)
    assert (got.name, got.state) == ("tiny-bert-low-high", "finished")
    history = got.history()
    assert {"train/loss", "train/learning_rate", "eval/accuracy", "test/accuracy"} <= set(
        history.columns
    )
    assert history["train/global_step"].max() == 32  # 2 epochs of 256 samples, batch 16
    assert got.config["num_train_epochs"] == 2
    assert got.config["hidden_size"] == 32
    assert got.config["model/num_parameters"] > 0
    assert got.summary["test/accuracy"] > 0.5
    assert np.isfinite(got.summary["train_loss"])

    # FWTRACK_LOG_MODEL=end with load_best_model_at_end: the best model, registered as
    # transformers-example:candidate, read back through the registry and through `use_model`
    # in another run, loads in transformers and predicts what the trained model (the best
    # checkpoint, which the Trainer loaded at the end) predicts, with its test accuracy.
    from transformers import BertForSequenceClassification

    api = fwtrack.Api(tmp_path / "fwtrack")
    version = api.registry.version("registry/transformers-example:candidate")
    assert (version.version, version.aliases) == ("v0", ["candidate", "latest"])
    artifact = version.artifact
    assert (artifact.name, artifact.type) == (f"model-{run_id}", "model")
    best = tmp_path / out.stdout.split("best checkpoint: ")[1].split()[0]
    assert artifact.metadata["best_model_checkpoint"] == best.name
    assert artifact.metadata["best_metric"] == max(history["eval/accuracy"].dropna())
    root = version.download(tmp_path / "registry")
    user = fwtrack.init(project="huggingface", job_type="evaluate", dir=str(tmp_path / "fwtrack"))
    used = Path(user.use_model("registry/transformers-example:candidate"))
    user.finish()
    assert [a.digest for a in api.run(user.id).used_artifacts()] == [artifact.digest]
    example = runpy.run_path(str(script), run_name="example")
    test_set = example["LowHigh"](128, seed=3)
    probe = torch.stack([test_set[i]["input_ids"] for i in range(len(test_set))])
    trained = BertForSequenceClassification.from_pretrained(best).eval()
    with torch.no_grad():
        expected = trained(input_ids=probe).logits
    for path in (root, used):
        loaded = BertForSequenceClassification.from_pretrained(path).eval()
        with torch.no_grad():
            logits = loaded(input_ids=probe).logits
        assert torch.equal(logits, expected)
        accuracy = (logits.argmax(-1) == test_set.labels).float().mean().item()
        assert accuracy == pytest.approx(got.summary["test/accuracy"])
