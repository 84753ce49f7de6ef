"""Models and checkpoints as artifacts from the Hugging Face Trainer (`FWTRACK_LOG_MODEL`) and
Accelerate (`FwTrackTracker.log_artifact`), run for real on a tiny BERT built from a config
(CPU, nothing downloaded), read back through `fwtrack.Api`."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertTokenizerFast,
    EvalPrediction,
    Trainer,
    TrainingArguments,
)

import fwtrack
from fwtrack.integrations._checkpoints import SNAPSHOT_PREFIX
from fwtrack.integrations.accelerate import FwTrackTracker
from fwtrack.integrations.transformers import FwTrackCallback

pytestmark = pytest.mark.usefixtures("tmp_dir")


class Synthetic(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(0, 100, (n, 8), generator=g)
        self.labels = (self.input_ids[:, 0] < 50).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids[i],
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": self.labels[i],
        }


def tiny_bert() -> Any:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    return BertForSequenceClassification(config)


def make_trainer(tmp_path: Path, callback: FwTrackCallback | None, **kwargs: Any) -> Trainer:
    compute_metrics = kwargs.pop("compute_metrics", None)
    processing_class = kwargs.pop("processing_class", None)
    defaults: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 4,
        "per_device_train_batch_size": 4,
        "learning_rate": 5e-2,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    args = TrainingArguments(**{**defaults, **kwargs})
    return Trainer(
        model=tiny_bert(),
        args=args,
        train_dataset=Synthetic(16, seed=1),
        eval_dataset=Synthetic(8, seed=2),
        compute_metrics=compute_metrics,
        processing_class=processing_class,
        callbacks=[callback] if callback is not None else [],
    )


def tiny_tokenizer(tmp_path: Path) -> Any:
    """A WordPiece tokenizer from a vocabulary written here (nothing downloaded)."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "low", "high", "token", "##s"]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab_file=str(path))


def model_versions(project: str, name: str) -> list[Any]:
    arts = fwtrack.Api().artifacts(project, name=name)
    return sorted(arts, key=lambda a: int(a.version[1:]))


def logits(model: Any) -> torch.Tensor:
    batch = Synthetic(8, seed=3)
    inputs = {k: torch.stack([batch[i][k] for i in range(8)]) for k in ("input_ids",)}
    model.eval()
    with torch.no_grad():
        return model(**inputs).logits


def same_weights(a: Any, b: Any) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_log_model_checkpoint(tmp_path: Path) -> None:
    callback = FwTrackCallback(project="hf-ckpt", log_model="checkpoint")
    t = make_trainer(tmp_path, callback, save_strategy="steps", save_steps=2, save_total_limit=1)
    t.train()
    run = callback.run
    assert run is not None
    fwtrack.finish()

    got = model_versions("hf-ckpt", f"checkpoint-{run.id}")
    assert [a.version for a in got] == ["v0", "v1"]
    assert [a.aliases for a in got] == [["checkpoint-2"], ["checkpoint-4", "latest"]]
    assert [a.type for a in got] == ["model", "model"]
    assert [a.metadata["global_step"] for a in got] == [2, 4]
    assert got[1].metadata["model/num_parameters"] == t.model.num_parameters()
    assert "train/loss" in got[1].metadata  # the run's numeric summary

    # save_total_limit=1 removed checkpoint-2 from disk; its version keeps its bytes.
    assert [p.name for p in (tmp_path / "out").glob("checkpoint-*")] == ["checkpoint-4"]
    first = Path(got[0].download(tmp_path / "dl0"))
    assert {"config.json", "model.safetensors", "trainer_state.json"} <= {
        p.name for p in first.iterdir()
    }
    at_2 = BertForSequenceClassification.from_pretrained(first)
    at_4 = BertForSequenceClassification.from_pretrained(got[1].download(tmp_path / "dl1"))
    assert same_weights(at_4, t.model)
    assert not same_weights(at_2, at_4)
    assert callback.model_artifact is not None
    assert callback.model_artifact.version == "v1"
    # The snapshots go with the artifacts they were logged as.
    del t, callback
    gc.collect()
    assert not list(tmp_path.rglob(SNAPSHOT_PREFIX + "*"))


def scripted(values: list[float]) -> Any:
    """compute_metrics giving the next of `values` as `score` at each evaluation."""
    calls = iter(values)

    def compute(pred: EvalPrediction) -> dict[str, float]:
        return {"score": next(calls)}

    return compute


def test_log_model_end_honours_load_best_model_at_end(tmp_path: Path) -> None:
    callback = FwTrackCallback(project="hf-best", log_model="end")
    t = make_trainer(
        tmp_path,
        callback,
        eval_strategy="steps",
        eval_steps=1,
        save_strategy="steps",
        save_steps=1,
        load_best_model_at_end=True,
        metric_for_best_model="score",
        greater_is_better=True,
        compute_metrics=scripted([0.1, 0.9, 0.3, 0.2]),
    )
    t.train()
    run = callback.run
    assert run is not None
    fwtrack.finish()

    (art,) = model_versions("hf-best", f"model-{run.id}")
    assert art.aliases == ["latest"]
    meta = art.metadata
    assert meta["best_metric"] == 0.9
    assert meta["best_model_checkpoint"] == "checkpoint-2"
    assert meta["metric_for_best_model"] == "score"
    assert (meta["global_step"], meta["final_model"], meta["load_best_model_at_end"]) == (
        4,
        True,
        True,
    )
    logged = BertForSequenceClassification.from_pretrained(art.download(tmp_path / "dl"))
    best = BertForSequenceClassification.from_pretrained(tmp_path / "out" / "checkpoint-2")
    last = BertForSequenceClassification.from_pretrained(tmp_path / "out" / "checkpoint-4")
    # The model logged is the best one (step 2), which the Trainer loaded at the end.
    assert same_weights(logged, best)
    assert same_weights(logged, t.model)
    assert not same_weights(logged, last)
    assert (Path(art.download(tmp_path / "dl")) / "model_architecture.txt").is_file()


def test_log_model_end_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_LOG_MODEL", "end")
    tokenizer = tiny_tokenizer(tmp_path)
    t = make_trainer(
        tmp_path, None, report_to="fwtrack", run_name="env", processing_class=tokenizer
    )
    (callback,) = [c for c in t.callback_handler.callbacks if isinstance(c, FwTrackCallback)]
    assert callback.log_model == "end"
    t.train()
    run = fwtrack.run
    assert run is not None
    fwtrack.finish()
    (art,) = model_versions("huggingface", f"model-{run.id}")
    assert art.metadata["global_step"] == 4
    assert art.metadata["best_model_checkpoint"] is None
    root = art.download(tmp_path / "dl")
    logged = BertForSequenceClassification.from_pretrained(root)
    assert torch.equal(logits(logged), logits(t.model))
    # The tokenizer the Trainer holds is saved beside the model.
    loaded_tokenizer = AutoTokenizer.from_pretrained(root)
    assert (
        loaded_tokenizer("low tokens high")["input_ids"]
        == tokenizer("low tokens high")["input_ids"]
    )


def test_log_model_false_and_bad_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    callback = FwTrackCallback(project="hf-none")
    assert callback.log_model == "false"
    make_trainer(tmp_path, callback, save_strategy="steps", save_steps=2).train()
    fwtrack.finish()
    assert fwtrack.Api().artifacts("hf-none") == []
    assert (tmp_path / "out" / "checkpoint-4").is_dir()

    monkeypatch.setenv("FWTRACK_LOG_MODEL", "true")
    with pytest.raises(ValueError, match="FWTRACK_LOG_MODEL='true' is not valid"):
        FwTrackCallback()
    with pytest.raises(ValueError, match="log_model='all' is not valid"):
        FwTrackCallback(log_model="all")  # type: ignore[arg-type]


def test_other_processes_log_no_model(tmp_path: Path) -> None:
    callback = FwTrackCallback(project="hf-rank", log_model="checkpoint")
    t = make_trainer(tmp_path, callback, save_strategy="steps", save_steps=2)
    t.state.is_world_process_zero = False
    callback.on_save(t.args, t.state, t.control, model=t.model)
    callback.on_train_end(t.args, t.state, t.control, model=t.model)
    assert callback.run is None
    assert fwtrack.run is None


# -- Accelerate -------------------------------------------------------------------------


@pytest.fixture
def fresh_accelerate() -> Iterator[None]:
    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.mark.usefixtures("fresh_accelerate")
def test_accelerate_tracker_log_artifact(tmp_path: Path) -> None:
    tracker = FwTrackTracker()
    accelerator = Accelerator(cpu=True, log_with=[tracker])
    accelerator.init_trackers("acc-models")
    model = accelerator.prepare(torch.nn.Linear(4, 2))
    out = tmp_path / "model"
    accelerator.save_model(model, out)
    art = tracker.log_artifact(out, aliases=["epoch-1"])
    shutil.rmtree(out)  # the files may go as soon as the call returns
    weights = tmp_path / "weights.pt"
    torch.save(accelerator.unwrap_model(model).state_dict(), weights)
    single = tracker.log_artifact(weights, name="weights", type="checkpoint")
    run = tracker.tracker
    assert run is not None
    accelerator.end_training()

    assert art.name == f"model-{run.id}"
    assert (art.version, art.aliases, art.type) == ("v0", ["epoch-1", "latest"], "model")
    got = fwtrack.Api().artifact(f"acc-models/model-{run.id}:epoch-1")
    root = Path(got.download(tmp_path / "dl"))
    assert [p.name for p in root.iterdir()] == ["model.safetensors"]
    (one,) = fwtrack.Api().artifacts("acc-models", name="weights")
    assert one.type == "checkpoint"
    state = torch.load(Path(one.download(tmp_path / "w")) / "weights.pt", weights_only=True)
    assert all(
        torch.equal(v, accelerator.unwrap_model(model).state_dict()[k]) for k, v in state.items()
    )
    assert single.version == "v0"
    assert not list(tmp_path.rglob(SNAPSHOT_PREFIX + "*"))
    with pytest.raises(FileNotFoundError, match="nothing at"):
        FwTrackTracker().log_artifact(tmp_path / "missing")
