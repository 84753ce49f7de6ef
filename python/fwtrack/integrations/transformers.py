"""Hugging Face transformers: `TrainingArguments(report_to="fwtrack")` or
`Trainer(callbacks=[FwTrackCallback()])`.

    import fwtrack  # registers "fwtrack" with transformers, whichever is imported first

    args = TrainingArguments(output_dir="out", report_to="fwtrack", run_name="bert-base")
    Trainer(model=model, args=args, train_dataset=ds).train()

What the callback records (as W&B's callback does, so dashboards and habits carry over):

- config: the model config, then the training arguments (they win on a clash), the PEFT
  config under `peft_config` when the model has one, and `model/num_parameters`;
- history: every `Trainer.log()` call as one row, keys rewritten to `train/...`, `eval/...`,
  `test/...` (`eval_loss` -> `eval/loss`, `loss` -> `train/loss`), with `train/global_step`
  in each row (defined as their step metric); `Trainer.predict()` metrics likewise;
- summary: `train_runtime`, `train_samples_per_second`, `train_steps_per_second`,
  `total_flos` and `train_loss` (the average over training), under those names;
- models, with `FWTRACK_LOG_MODEL` (or `FwTrackCallback(log_model=...)`), as W&B's
  `WANDB_LOG_MODEL`: `checkpoint` logs each `checkpoint-<step>` directory the Trainer saves as
  a version of the artifact `checkpoint-<run id>` (type `model`, alias `checkpoint-<step>`;
  the newest is `latest`); `end` logs the model at the end of training (the best one when
  `load_best_model_at_end` loaded it), saved with `save_pretrained` with its tokenizer or
  processor, as `model-<run id>` with the trainer state in its metadata; `false` (the
  default) logs none. Load a logged model with `AutoModel...from_pretrained(directory)`.

Only the world-process-zero logs. The run is the active run if there is one (`fwtrack.init`
before training: it is reused and left open), else a new run in project `FWTRACK_PROJECT`
(default `huggingface`) named after `args.run_name`. A run the callback started stays open
after training, so that `evaluate()` and `predict()` land in it too; it is finished by
`fwtrack.finish()`, at exit, or when the next hyperparameter-search trial starts: each
trial gets its own run, named after the trial and grouped under `args.run_name`.

`FwTrackTracker` (Accelerate's `GeneralTracker`) lives in `fwtrack.integrations.accelerate`
and is re-exported here.
"""

from __future__ import annotations

import enum
import glob
import numbers
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

from fwtrack.artifacts.artifact import Artifact
from fwtrack.data_types import Histogram
from fwtrack.errors import FwTrackWarning
from fwtrack.integrations._checkpoints import Snapshots
from fwtrack.integrations._common import active_or_new_run, metric_key, require, to_config
from fwtrack.sdk import run as _run
from fwtrack.sdk.settings import FWTRACK_LOG_MODEL, FWTRACK_PROJECT

require("transformers", "transformers")

from transformers.trainer_callback import TrainerCallback  # noqa: E402

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from fwtrack.integrations.accelerate import FwTrackTracker
    from fwtrack.sdk.run import Run

__all__ = ["FwTrackCallback", "FwTrackTracker", "register_report_to"]

DEFAULT_PROJECT = "huggingface"
STEP_METRIC = "train/global_step"
LOG_MODEL_VALUES = ("checkpoint", "end", "false")

# What `Trainer.train()` logs once at the end: summary values, not history.
SUMMARY_KEYS = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_loss",
        "total_flos",
    }
)


class FwTrackCallback(TrainerCallback):
    """Record a `transformers.Trainer` run in fwtrack (see the module docstring).

    `report_to="fwtrack"` builds one with no arguments; pass your own instance in
    `Trainer(callbacks=[...])` to choose the project or other `fwtrack.init` arguments
    (`name`, `tags`, `notes`, `group`, `dir`, `mode`, ...). They only apply to a run the
    callback starts itself. `log_model` ("checkpoint", "end" or "false") beats
    `FWTRACK_LOG_MODEL`.
    """

    def __init__(
        self,
        project: str | None = None,
        *,
        log_model: Literal["checkpoint", "end", "false"] | None = None,
        **init: Any,
    ) -> None:
        if log_model is None:
            log_model = cast(Any, FWTRACK_LOG_MODEL.get() or "false")
        if log_model not in LOG_MODEL_VALUES:
            raise ValueError(
                f"log_model={log_model!r} is not valid: use one of "
                f"{', '.join(map(repr, LOG_MODEL_VALUES))}"
            )
        self.log_model: Literal["checkpoint", "end", "false"] = log_model
        self._project = project
        self._init_kwargs = init
        self._snapshots = Snapshots()
        self._model_artifact: Artifact | None = None
        self._run: Run | None = None
        self._owned = False
        self._initialized = False
        self._trial_run = False  # the run belongs to a hyperparameter-search trial
        self._dropped: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        # The run holds a native handle: a copy (pickled for a Ray Tune worker, deep-copied)
        # starts over and finds or starts its run on first use.
        state = self.__dict__.copy()
        state.update(_run=None, _owned=False, _initialized=False, _trial_run=False)
        state.update(_snapshots=Snapshots(), _model_artifact=None)
        return state

    @property
    def run(self) -> Run | None:
        """The run this callback logs to (None before training and on other processes)."""
        return self._run

    @property
    def model_artifact(self) -> Artifact | None:
        """The model logged last (the final model with `log_model="end"`, the newest
        checkpoint with `"checkpoint"`), None before: link it to the model registry with
        `run.link_artifact(callback.model_artifact, "registry/<model>")`."""
        return self._model_artifact

    # -- setup ---------------------------------------------------------------------------

    def setup(
        self, args: TrainingArguments, state: TrainerState, model: Any = None, **kwargs: Any
    ) -> None:
        """Find or start the run and record the config. Override to customise."""
        self._initialized = True
        if not state.is_world_process_zero:
            return
        init = dict(self._init_kwargs)
        self._trial_run = _is_trial(state)
        if self._trial_run:
            # A trial always gets a run of its own (an active run is finished first), named
            # after the trial and grouped under the study's run name.
            if state.trial_name is not None:
                init.setdefault("name", state.trial_name)
            init.setdefault("group", args.run_name or args.output_dir)
            init.setdefault("reinit", "finish_previous")
            project = self._project or FWTRACK_PROJECT.get() or DEFAULT_PROJECT
            self._run, self._owned = _run.init(project=project, **init), True
        else:
            if args.run_name is not None:
                init.setdefault("name", args.run_name)
            self._run, self._owned = active_or_new_run(
                DEFAULT_PROJECT, project=self._project, **init
            )
        run = self._run
        run.config.update(_trainer_config(args, model))
        num_parameters = getattr(model, "num_parameters", None)  # a PreTrainedModel's
        if callable(num_parameters):
            run.config["model/num_parameters"] = num_parameters()
        run.define_metric(STEP_METRIC)
        for section in ("train/*", "eval/*", "test/*"):
            run.define_metric(section, step_metric=STEP_METRIC)

    def _active(
        self, args: TrainingArguments, state: TrainerState, model: Any = None
    ) -> Run | None:
        if not state.is_world_process_zero:
            return None
        if not self._initialized or self._run is None or self._run.finished:
            self.setup(args, state, model)
        return self._run

    def _end_run(self) -> None:
        if self._run is not None and not self._run.finished:
            if self._owned:
                self._run.finish()
            else:
                self._run.flush()
        self._run, self._owned, self._initialized, self._trial_run = None, False, False, False

    # -- hooks -----------------------------------------------------------------------------

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        if _is_trial(state) or self._trial_run:
            self._end_run()  # each trial, and training after a search, gets a run of its own
        if not self._initialized:
            self.setup(args, state, kwargs.get("model"))

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._active(args, state, kwargs.get("model"))
        if run is None or not logs:
            return
        summary = {k: v for k, v in logs.items() if k in SUMMARY_KEYS}
        if summary:
            run.summary.update(summary)
        row = {metric_key(k): v for k, v in logs.items() if k not in SUMMARY_KEYS}
        if row:
            self._log(run, row, state.global_step)
        if self._snapshots:
            self._snapshots.sweep()  # of the models logged and stored since

    def on_predict(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        run = self._active(args, state, kwargs.get("model"))
        if run is not None and metrics:
            row = {metric_key(k, "test/"): v for k, v in metrics.items()}
            self._log(run, row, state.global_step)

    def on_save(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        """`log_model="checkpoint"`: log the checkpoint the Trainer has just saved."""
        if self.log_model != "checkpoint":
            return
        run = self._active(args, state, kwargs.get("model"))
        if run is None:
            return
        name = f"checkpoint-{state.global_step}"
        directory = _checkpoint_dir(str(args.output_dir), name)
        if directory is None:
            warnings.warn(
                f"fwtrack found no {name} under {args.output_dir}: that checkpoint is not logged",
                FwTrackWarning,
                stacklevel=2,
            )
            return
        metadata = self._model_metadata(run, args, state)
        artifact = Artifact(f"checkpoint-{run.id}", "model", metadata=metadata)
        snapshot = self._snapshots.take(directory)
        artifact.add_dir(snapshot)
        run.log_artifact(artifact, aliases=[name])
        self._snapshots.attach(artifact, snapshot)
        self._model_artifact = artifact
        self._snapshots.sweep()

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        # Left open for evaluate()/predict(); make what training logged durable now.
        if not state.is_world_process_zero or self._run is None or self._run.finished:
            return
        if self.log_model == "end":
            self._log_final_model(args, state, kwargs.get("model"), kwargs.get("processing_class"))
        self._snapshots.sweep()
        self._run.flush()

    def _log_final_model(
        self, args: TrainingArguments, state: TrainerState, model: Any, processing_class: Any
    ) -> None:
        run = self._run
        assert run is not None
        model = getattr(model, "module", model)  # DataParallel / DistributedDataParallel
        save_pretrained = getattr(model, "save_pretrained", None)
        if not callable(save_pretrained):
            warnings.warn(
                f"fwtrack cannot save a {type(model).__name__} (it has no save_pretrained): "
                "the final model is not logged",
                FwTrackWarning,
                stacklevel=3,
            )
            return
        metadata = self._model_metadata(run, args, state)
        metadata["final_model"] = True
        artifact = Artifact(f"model-{run.id}", "model", metadata=metadata)
        directory = tempfile.mkdtemp(prefix="fwtrack-model-")
        try:
            save_pretrained(directory)
            if processing_class is not None and callable(
                getattr(processing_class, "save_pretrained", None)
            ):
                processing_class.save_pretrained(directory)
            with open(os.path.join(directory, "model_architecture.txt"), "w") as f:
                print(model, file=f)
            # A snapshot (hard links) owned by the artifact: the directory goes at once.
            snapshot = self._snapshots.take(directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        artifact.add_dir(snapshot)
        run.log_artifact(artifact)
        self._snapshots.attach(artifact, snapshot)
        self._model_artifact = artifact

    def _model_metadata(
        self, run: Run, args: TrainingArguments, state: TrainerState
    ) -> dict[str, Any]:
        """What a logged model says of its training: the trainer state (step, epoch, best
        metric and checkpoint) and the numeric summary values of the run."""
        metadata: dict[str, Any] = {
            k: v
            for k, v in run.summary.items()
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not k.startswith("_")
        }
        best = state.best_model_checkpoint
        metadata.update(
            {
                "global_step": state.global_step,
                "epoch": state.epoch,
                "total_flos": state.total_flos,
                "metric_for_best_model": args.metric_for_best_model,
                "best_metric": state.best_metric,
                "best_model_checkpoint": None if best is None else os.path.basename(best),
                "load_best_model_at_end": bool(args.load_best_model_at_end),
            }
        )
        num_parameters = run.config.get("model/num_parameters")
        if num_parameters is not None:
            metadata["model/num_parameters"] = num_parameters
        return metadata

    def _log(self, run: Run, row: dict[str, Any], global_step: int) -> None:
        dropped = [k for k, v in row.items() if not _loggable(v)]
        if dropped:
            new = sorted(set(dropped) - self._dropped)
            if new:
                self._dropped.update(new)
                warnings.warn(
                    f"fwtrack leaves out logged value(s) it cannot record: "
                    f"{', '.join(f'{k!r} ({type(row[k]).__name__})' for k in new)}; log numbers, "
                    "strings, arrays or tensors",
                    FwTrackWarning,
                    stacklevel=3,
                )
            row = {k: v for k, v in row.items() if k not in dropped}
        row[STEP_METRIC] = global_step
        run.log(row)


def _checkpoint_dir(output_dir: str, name: str) -> str | None:
    """`<output_dir>/<name>`, or `<output_dir>/<trial run>/<name>` during a hyperparameter
    search (the newest when there are several)."""
    direct = os.path.join(output_dir, name)
    if os.path.isdir(direct):
        return direct
    found = [
        p for p in glob.glob(os.path.join(glob.escape(output_dir), "*", name)) if os.path.isdir(p)
    ]
    return max(found, key=os.path.getmtime) if found else None


def _is_trial(state: TrainerState) -> bool:
    return bool(state.is_hyper_param_search) or state.trial_name is not None


def _loggable(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str | numbers.Real | Histogram)
        or hasattr(value, "__array__")  # numpy arrays and torch tensors
    )


def _trainer_config(args: TrainingArguments, model: Any) -> dict[str, Any]:
    """Model config, then the training arguments over it, then the PEFT config (as W&B's
    callback records them). `args.to_dict()` masks tokens and turns enums into values."""
    config: dict[str, Any] = {}
    # Through `to_dict()` even when the config is a dataclass (transformers 5): only that
    # includes class-level keys such as `model_type`, and it makes `dtype` a string.
    model_config: Any = getattr(model, "config", None)
    if isinstance(model_config, Mapping):
        config.update(to_config(model_config))
    elif callable(getattr(model_config, "to_dict", None)):
        config.update(to_config(model_config.to_dict()))
    config.update(to_config(cast(Any, args).to_dict()))
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, Mapping) and peft_config:
        config["peft_config"] = {
            str(name): _json_ready(to_config(cfg)) for name, cfg in peft_config.items()
        }
    return config


def _json_ready(value: Any) -> Any:
    """Sets as sorted lists and enums as their values (PEFT configs hold both)."""
    if isinstance(value, enum.Enum):
        return _json_ready(value.value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_json_ready(v) for v in value), key=repr)
    return value


def register_report_to(integration_utils: ModuleType | None = None) -> None:
    """Make `report_to="fwtrack"` name `FwTrackCallback` in transformers' integration
    registry (`transformers.integrations.integration_utils.INTEGRATION_TO_CALLBACK`).

    `import fwtrack` calls it as soon as that module is imported; calling it again is
    harmless."""
    module = integration_utils or sys.modules.get("transformers.integrations.integration_utils")
    if module is not None:
        module.INTEGRATION_TO_CALLBACK["fwtrack"] = FwTrackCallback


def __getattr__(name: str) -> Any:
    if name == "FwTrackTracker":
        from fwtrack.integrations.accelerate import FwTrackTracker

        return FwTrackTracker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


register_report_to()
