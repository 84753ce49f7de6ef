"""XGBoost: `FwTrackCallback` for `xgb.train`, `xgb.cv` and the scikit-learn estimators.

    import xgboost as xgb
    from fwtrack.integrations.xgboost import FwTrackCallback

    booster = xgb.train(params, dtrain, evals=[(dtrain, "train"), (dval, "eval")],
                        callbacks=[FwTrackCallback()])
    clf = xgb.XGBClassifier(callbacks=[FwTrackCallback(project="churn")])

Each iteration's latest evaluation results become one row: xgboost's `<data>-<metric>`
names with the first `-` turned into a `/` (`train/rmse`, `validation_0/logloss`; under
`xgb.cv` `test/auc-mean` and `test/auc-std`), plus `iteration`, their step metric.
The booster's parameters go into the config, and `best_iteration`, `best_score`,
`best_metric` and the feature importance (`feature_importance/<type>/<feature>`) into the
summary. With `log_model=True` the trained booster is logged at the end as the artifact
`model-<run id>` (type `model`, one file `model.json` or `model.ubj`). See
docs/integrations/xgboost.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fwtrack.artifacts.artifact import Artifact
from fwtrack.integrations._common import (
    active_or_new_run,
    add_missing_config,
    init_settings,
    require,
    to_config,
)
from fwtrack.sdk.run import Run
from fwtrack.sdk.values import warn

try:
    from xgboost import Booster, collective
    from xgboost import __version__ as xgboost_version
    from xgboost.callback import TrainingCallback
except ModuleNotFoundError as exc:
    if exc.name == "xgboost":
        require("xgboost", "xgboost")  # raises, naming the extra that installs it
    raise

__all__ = ["FwTrackCallback"]

DEFAULT_PROJECT = "xgboost"
STEP_METRIC = "iteration"
IMPORTANCE_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")
MODEL_FORMATS = ("json", "ubj")

# `xgboost.callback.EarlyStopping`, given no `maximize`, maximizes metrics whose names start
# with auc, aucpr, pre, map or ndcg (with or without `@n`), except `mape`, and minimizes the
# rest; the same rule picks the direction here.
_MAXIMIZE_PREFIXES = ("auc", "pre", "map", "ndcg")
_INT = re.compile(r"[+-]?[0-9]+")


class FwTrackCallback(TrainingCallback):
    """Log an XGBoost training to fwtrack.

    Pass it in `callbacks=` to `xgb.train`, `xgb.cv` or a scikit-learn estimator
    (`XGBClassifier`, `XGBRegressor`, ...). It logs into the active run (`fwtrack.run`) when
    there is one and leaves it open; otherwise it starts a run when training starts (project:
    `project`, else `FWTRACK_PROJECT`, else "xgboost") and finishes it when training ends.

    Args:
        project, name, config, tags: for the run the callback starts (as `fwtrack.init`);
            `config` is also added to an active run's config.
        log_feature_importance: put each feature's importance in the summary at the end
            (`feature_importance/<importance_type>/<feature>`).
        importance_type: one of "weight", "gain", "cover", "total_gain", "total_cover".
        log_model: log the trained booster when training ends as a version of the artifact
            `model-<run id>` of type `model` (W&B's `log_model`), one file `model.<format>`,
            with the metadata `format`, `num_boosted_rounds`, `best_iteration`,
            `best_score`, `best_metric` (as in the summary) and `xgboost_version`.
            `callback.model_artifact` is the logged version. Not under `xgb.cv`, which
            trains no final model.
        model_format: "json" or "ubj" (xgboost's binary JSON), the format of the file.
        **init_kwargs: more `fwtrack.init` arguments for a run the callback starts
            (`notes`, `group`, `job_type`, `dir`, `mode`, `id`, `resume`, `settings`).

    Only the process of rank 0 in distributed training logs. Like xgboost's own callbacks,
    one instance serves one training at a time; each training it sees starts afresh.
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        config: Any = None,
        tags: Sequence[str] | None = None,
        log_feature_importance: bool = True,
        importance_type: str = "gain",
        log_model: bool = False,
        model_format: str = "json",
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if importance_type not in IMPORTANCE_TYPES:
            raise ValueError(
                f"importance_type={importance_type!r} is not valid\n"
                f"hint: use one of {', '.join(map(repr, IMPORTANCE_TYPES))}"
            )
        if model_format not in MODEL_FORMATS:
            raise ValueError(
                f"model_format={model_format!r} is not valid\n"
                f"hint: use one of {', '.join(map(repr, MODEL_FORMATS))}"
            )
        self._log_model = bool(log_model)
        self._model_format = model_format
        self._model_artifact: Artifact | None = None
        self._init = init_settings(project, name, tags, init_kwargs)
        self._config = to_config(config)
        self._log_importance = log_feature_importance
        self._importance_type = importance_type
        self._last_run: Run | None = None
        self._reset()

    def _reset(self) -> None:
        self._run: Run | None = None
        self._owned = False
        self._start = 0  # boosted rounds before this training (training continuation)
        self._defined: set[str] = set()
        self._evals_log: TrainingCallback.EvalsLog = {}

    @property
    def run(self) -> Run | None:
        """The run of the current or latest training (None before the first one)."""
        return self._last_run

    @property
    def model_artifact(self) -> Artifact | None:
        """The model logged at the end of the latest training (`log_model=True`); its
        `wait()` returns it committed. None before, or when nothing was logged."""
        return self._model_artifact

    # -- pickling (sklearn's clone deep-copies estimator parameters) ----------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_run=None, _owned=False, _last_run=None, _evals_log={}, _defined=set())
        state.update(_model_artifact=None)
        return state

    # -- hooks -----------------------------------------------------------------------------

    def before_training(self, model: Any) -> Any:
        previous = self._run
        if previous is not None and self._owned and not previous.finished:
            # The previous training raised before `after_training`: its run failed.
            previous.finish(exit_code=1)
        self._reset()
        self._model_artifact = None
        if collective.get_rank() != 0:
            return model
        run, self._owned = active_or_new_run(DEFAULT_PROJECT, config=self._config, **self._init)
        self._run = self._last_run = run
        if not self._owned and self._config:
            run.config.update(self._config)
        self._start = model.num_boosted_rounds()
        params = booster_params(_booster(model))
        if not isinstance(model, Booster):
            params["nfold"] = len(model.cvfolds)
        # Keys already in the config (the user's own spelling of a parameter) are kept.
        add_missing_config(run, params)
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: TrainingCallback.EvalsLog) -> bool:
        run = self._run
        if run is None or run.finished or not evals_log:  # finished: by the user, mid-training
            return False
        self._evals_log = evals_log
        row: dict[str, Any] = {STEP_METRIC: self._start + epoch}
        for data, metrics in evals_log.items():
            for metric, scores in metrics.items():
                key = f"{data}/{metric}"
                latest = scores[-1]
                if isinstance(latest, tuple):  # xgb.cv: (mean, std) over the folds
                    row[f"{key}-mean"], row[f"{key}-std"] = latest
                else:
                    row[key] = latest
        for key in row:
            if key not in self._defined and key != STEP_METRIC:
                run.define_metric(key, step_metric=STEP_METRIC)
                self._defined.add(key)
        run.log(row)
        return False

    def after_training(self, model: Any) -> Any:
        run = self._run
        if run is None:
            return model
        try:
            summary = self._best(model)
            if self._log_importance and isinstance(model, Booster):
                summary.update(self._importance(model))
            if summary and not run.finished:
                run.summary.update(summary)
            if self._log_model and not run.finished:
                self._log_booster(run, model, summary)
        finally:
            if self._owned:
                run.finish()
            self._reset()
        return model

    # -- the model -------------------------------------------------------------------------

    def _log_booster(self, run: Run, model: Any, best: Mapping[str, Any]) -> None:
        if not isinstance(model, Booster):
            warn(
                "fwtrack: FwTrackCallback(log_model=True) under xgb.cv: cross-validation "
                "trains no final model, so none is logged\nhint: train the final model with "
                "xgb.train and the callback to log it"
            )
            return
        fmt = self._model_format
        metadata = {
            "format": fmt,
            "num_boosted_rounds": model.num_boosted_rounds(),
            "best_iteration": best.get("best_iteration"),
            "best_score": best.get("best_score"),
            "best_metric": best.get("best_metric"),
            "xgboost_version": xgboost_version,
        }
        artifact = Artifact(f"model-{run.id}", "model", metadata=metadata)
        with artifact.new_file(f"model.{fmt}", "wb") as f:
            f.write(model.save_raw(raw_format=fmt))
        self._model_artifact = run.log_artifact(artifact)

    # -- summary ---------------------------------------------------------------------------

    def _best(self, model: Any) -> dict[str, Any]:
        """`best_iteration`, `best_score` and `best_metric`: as early stopping recorded them
        on the model during this training, else found the way `EarlyStopping` would (the
        last metric of the last evaluation set, maximized or minimized by its name)."""
        curves = {  # key -> one score per iteration of this training
            f"{data}/{metric}": [s[0] if isinstance(s, tuple) else s for s in scores]
            for data, metrics in self._evals_log.items()
            for metric, scores in metrics.items()
        }
        if not curves:
            return {}
        default_key = list(curves)[-1]
        recorded, recorded_score = model.attr("best_iteration"), model.attr("best_score")
        if recorded is not None and recorded_score is not None and int(recorded) >= self._start:
            iteration = int(recorded)
            score = float(recorded_score)
            index = iteration - self._start
            # EarlyStopping may have watched another metric (`data_name`, `metric_name`):
            # name the one whose score at the best iteration is the recorded score.
            matches = [k for k, c in curves.items() if index < len(c) and c[index] == score]
            best: dict[str, Any] = {"best_iteration": iteration, "best_score": score}
            if default_key in matches:
                best["best_metric"] = _cv_name(default_key, model)
            elif len(matches) == 1:
                best["best_metric"] = _cv_name(matches[0], model)
            return best
        scores = curves[default_key]
        maximize = _maximize(default_key.split("/", 1)[1])
        index = 0
        for i, value in enumerate(scores):
            if (value > scores[index]) if maximize else (value < scores[index]):
                index = i
        return {
            "best_iteration": self._start + index,
            "best_score": float(scores[index]),
            "best_metric": _cv_name(default_key, model),
        }

    def _importance(self, booster: Any) -> dict[str, Any]:
        booster_type = json.loads(booster.save_config())["learner"]["learner_train_param"]
        if booster_type.get("booster") == "gblinear" and self._importance_type != "weight":
            return {}  # gblinear defines only "weight" (its coefficients)
        scores = booster.get_score(importance_type=self._importance_type)
        prefix = f"feature_importance/{self._importance_type}/"
        return {prefix + str(feature): value for feature, value in scores.items()}


def _cv_name(key: str, model: Any) -> str:
    """The logged name of a metric: under xgb.cv the best score is the mean's."""
    return key if isinstance(model, Booster) else f"{key}-mean"


def _maximize(metric: str) -> bool:
    return metric != "mape" and metric.startswith(_MAXIMIZE_PREFIXES)


def _booster(model: Any) -> Any:
    """The Booster of `xgb.train`, or the first fold's under `xgb.cv`."""
    return model if isinstance(model, Booster) else model.cvfolds[0].bst


def booster_params(booster: Any) -> dict[str, Any]:
    """The booster's parameters from `save_config()`, one flat dict as they are passed to
    xgboost (`max_depth`, `eta`, `objective`, ...; numbers as numbers), plus `eval_metric`
    and `xgboost_version`. The tree count (model state, not a setting) is left out."""
    raw = json.loads(booster.save_config())
    learner = raw.get("learner", {})
    params: dict[str, Any] = {}
    _collect_params(learner, params)
    params.pop("num_trees", None)
    metrics = [m["name"] for m in learner.get("metrics", []) if isinstance(m, Mapping)]
    if metrics:
        params["eval_metric"] = metrics
    version = raw.get("version")
    if isinstance(version, list):
        params["xgboost_version"] = ".".join(str(v) for v in version)
    return params


def _collect_params(node: Any, out: dict[str, Any]) -> None:
    """Gather the leaves of every `*_param` section (the first of a name wins)."""
    items = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        if isinstance(value, Mapping) and str(key).endswith("_param"):
            for name, leaf in value.items():
                if not isinstance(leaf, Mapping | list):
                    out.setdefault(name, _number(leaf))
        elif isinstance(value, Mapping | list):
            _collect_params(value, out)


def _number(value: Any) -> Any:
    """xgboost stores every parameter as a string: "6" -> 6, "0.300000012" -> 0.300000012;
    anything else (and NaN or infinity, which JSON cannot hold) stays a string."""
    if not isinstance(value, str):
        return value
    if _INT.fullmatch(value):
        return int(value)
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) and "_" not in value else value
