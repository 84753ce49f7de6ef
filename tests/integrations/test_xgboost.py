"""`fwtrack.integrations.xgboost.FwTrackCallback` with the real xgboost (CPU, synthetic data):
`xgb.train`, `xgb.cv`, the scikit-learn estimators and a two-worker collective."""

from __future__ import annotations

import pickle
import runpy
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets as sklearn_datasets
import xgboost as xgb
from sklearn.base import clone
from xgboost.callback import EarlyStopping
from xgboost.tracker import RabitTracker

import fwtrack
from fwserver import Server
from fwtrack.api import Run as StoredRun
from fwtrack.integrations.xgboost import FwTrackCallback

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("tmp_dir")

# Deep trees with a full learning rate overfit the small training split within a few rounds,
# so evaluation curves turn around and early stopping triggers.
OVERFIT = {"objective": "binary:logistic", "eta": 1.0, "max_depth": 6, "seed": 0, "nthread": 1}


def classification(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    X, y = sklearn_datasets.make_classification(
        n_samples=n, n_features=6, n_informative=3, flip_y=0.2, random_state=0
    )
    return X, y


def split_dmatrices() -> tuple[Any, Any]:
    X, y = classification()
    return xgb.DMatrix(X[:200], label=y[:200]), xgb.DMatrix(X[200:], label=y[200:])


def read(cb: FwTrackCallback) -> StoredRun:
    assert cb.run is not None
    return fwtrack.Api().run(cb.run.id)


def first_best(curve: list[float], maximize: bool) -> tuple[int, float]:
    best = max(curve) if maximize else min(curve)
    return curve.index(best), best


def test_train_logs_each_iteration() -> None:
    dtrain, deval = split_dmatrices()
    cb = FwTrackCallback()
    evals_result: dict[str, Any] = {}
    xgb.train(
        {**OVERFIT, "eta": 0.3, "eval_metric": ["auc", "logloss"]},
        dtrain,
        num_boost_round=8,
        evals=[(dtrain, "train"), (deval, "eval")],
        evals_result=evals_result,
        callbacks=[cb],
        verbose_eval=False,
    )
    assert fwtrack.run is None  # the callback's own run is finished

    run = read(cb)
    assert run.project == "xgboost"
    assert run.state == "finished"
    history = run.history()
    assert list(history["_step"]) == list(range(8))
    assert list(history["iteration"]) == list(range(8))
    for data in ("train", "eval"):
        for metric in ("auc", "logloss"):
            assert list(history[f"{data}/{metric}"]) == evals_result[data][metric]
    assert {m["name"]: m["step_metric"] for m in run.metrics} == {
        "train/auc": "iteration",
        "train/logloss": "iteration",
        "eval/auc": "iteration",
        "eval/logloss": "iteration",
    }
    assert run.summary["eval/logloss"] == evals_result["eval"]["logloss"][-1]


@pytest.mark.parametrize("early_stopping", [True, False], ids=["early-stopping", "no-stopping"])
@pytest.mark.parametrize(("metric", "maximize"), [("logloss", False), ("auc", True)])
def test_best_iteration_follows_the_metric_direction(
    metric: str, maximize: bool, early_stopping: bool
) -> None:
    dtrain, deval = split_dmatrices()
    cb = FwTrackCallback()
    booster = xgb.train(
        {**OVERFIT, "eval_metric": metric},
        dtrain,
        num_boost_round=40,
        evals=[(dtrain, "train"), (deval, "eval")],
        early_stopping_rounds=3 if early_stopping else None,
        callbacks=[cb],
        verbose_eval=False,
    )
    run = read(cb)
    curve = list(run.history()[f"eval/{metric}"])
    assert min(curve) != max(curve)  # the direction decides
    iteration, score = first_best(curve, maximize)
    summary = run.summary
    assert summary["best_metric"] == f"eval/{metric}"
    assert summary["best_iteration"] == iteration
    assert summary["best_score"] == pytest.approx(score)
    if early_stopping:
        assert len(curve) < 40  # it stopped
        assert summary["best_iteration"] == booster.best_iteration
        assert summary["best_score"] == booster.best_score
    else:
        assert len(curve) == 40
        assert booster.attr("best_iteration") is None  # the booster is left alone


def test_best_metric_names_what_early_stopping_watched() -> None:
    dtrain, deval = split_dmatrices()
    cb = FwTrackCallback()
    # Early stopping on eval auc, though logloss is the last metric (the default choice).
    stop = EarlyStopping(rounds=3, data_name="eval", metric_name="auc", maximize=True)
    booster = xgb.train(
        {**OVERFIT, "eval_metric": ["auc", "logloss"]},
        dtrain,
        num_boost_round=40,
        evals=[(dtrain, "train"), (deval, "eval")],
        callbacks=[cb, stop],
        verbose_eval=False,
    )
    summary = read(cb).summary
    assert summary["best_metric"] == "eval/auc"
    assert summary["best_iteration"] == booster.best_iteration
    assert summary["best_score"] == booster.best_score


def test_sklearn_classifier() -> None:
    X, y = classification()
    frame = pd.DataFrame(X, columns=[f"col_{i}" for i in range(X.shape[1])])
    cb = FwTrackCallback(project="clf", name="xgb-clf", tags=["sklearn"])
    clf = xgb.XGBClassifier(
        n_estimators=40,
        max_depth=6,
        learning_rate=1.0,
        eval_metric=["logloss", "auc"],
        early_stopping_rounds=3,
        n_jobs=1,
        callbacks=[cb],
    )
    clf.fit(frame[:200], y[:200], eval_set=[(frame[:200], y[:200]), (frame[200:], y[200:])])
    assert fwtrack.run is None

    run = read(cb)
    assert (run.project, run.name, run.tags, run.state) == (
        "clf",
        "xgb-clf",
        ["sklearn"],
        "finished",
    )
    history = run.history()
    results = clf.evals_result()
    for data in ("validation_0", "validation_1"):
        for metric in ("logloss", "auc"):
            assert list(history[f"{data}/{metric}"]) == results[data][metric]
    summary = run.summary
    # Early stopping's default: the last metric of the last evaluation set.
    assert summary["best_metric"] == "validation_1/auc"
    assert summary["best_iteration"] == clf.best_iteration
    assert summary["best_score"] == clf.best_score
    gain = clf.get_booster().get_score(importance_type="gain")
    assert set(gain) <= set(frame.columns)
    assert {
        k.removeprefix("feature_importance/gain/"): v
        for k, v in summary.items()
        if k.startswith("feature_importance/")
    } == gain
    config = run.config
    assert config["objective"] == "binary:logistic"
    assert config["max_depth"] == 6
    assert config["eval_metric"] == ["logloss", "auc"]


def test_sklearn_regressor() -> None:
    X, y = sklearn_datasets.make_regression(n_samples=200, n_features=5, noise=10, random_state=0)
    cb = FwTrackCallback(project="reg")
    reg = xgb.XGBRegressor(n_estimators=15, max_depth=3, n_jobs=1, callbacks=[cb])
    reg.fit(X[:150], y[:150], eval_set=[(X[150:], y[150:])], verbose=False)

    run = read(cb)
    curve = list(run.history()["validation_0/rmse"])
    assert curve == reg.evals_result()["validation_0"]["rmse"]
    iteration, score = first_best(curve, maximize=False)
    assert run.summary["best_iteration"] == iteration
    assert run.summary["best_score"] == score
    assert run.config["objective"] == "reg:squarederror"
    assert run.state == "finished"


@pytest.mark.parametrize(
    ("metric", "early_stopping"), [("rmse", None), ("auc", 2)], ids=["rmse", "auc-early-stopping"]
)
def test_cv_logs_mean_and_std(metric: str, early_stopping: int | None) -> None:
    X, y = classification(240)
    params = {**OVERFIT, "eta": 0.5, "eval_metric": metric}
    cb = FwTrackCallback(project="cv")
    result = xgb.cv(
        params,
        xgb.DMatrix(X, label=y),
        num_boost_round=25,
        nfold=3,
        seed=0,
        early_stopping_rounds=early_stopping,
        callbacks=[cb],
    )
    run = read(cb)
    history = run.history()
    # cv cuts its result at the best iteration; every iteration was logged.
    for column in result.columns:  # "train-rmse-mean", "test-rmse-std", ...
        key = column.replace("-", "/", 1)
        assert list(history[key][: len(result)]) == pytest.approx(list(result[column]))
    summary = run.summary
    assert summary["best_metric"] == f"test/{metric}-mean"
    if early_stopping:
        assert len(history) > len(result)
        assert summary["best_iteration"] == len(result) - 1
        assert summary["best_score"] == pytest.approx(result[f"test-{metric}-mean"].iloc[-1])
    else:
        iteration, score = first_best(list(history[f"test/{metric}-mean"]), maximize=False)
        assert summary["best_iteration"] == iteration
        assert summary["best_score"] == score
    assert not any(k.startswith("feature_importance/") for k in summary)
    assert run.config["nfold"] == 3
    assert run.config["eval_metric"] == [metric]
    assert run.state == "finished"


def test_config_is_the_flattened_booster_config() -> None:
    dtrain, deval = split_dmatrices()
    cb = FwTrackCallback(config={"dataset": "synthetic", "max_depth": "set by the user"})
    xgb.train(
        {"objective": "binary:logistic", "eta": 0.25, "max_depth": 3, "subsample": 0.5},
        dtrain,
        num_boost_round=3,
        evals=[(deval, "eval")],
        callbacks=[cb],
        verbose_eval=False,
    )
    config = read(cb).config
    assert config["dataset"] == "synthetic"
    assert config["max_depth"] == "set by the user"  # the user's keys win
    assert config["eta"] == pytest.approx(0.25)
    assert config["subsample"] == pytest.approx(0.5)
    assert config["objective"] == "binary:logistic"
    assert config["booster"] == "gbtree"
    assert config["num_feature"] == 6
    assert config["tree_method"] == "auto"
    assert config["xgboost_version"] == xgb.__version__
    assert "eval_metric" not in config  # xgboost picks its default metric during training
    assert "num_trees" not in config  # model state, not a setting
    assert "learner" not in config  # flattened


def test_feature_importance_type_and_gblinear() -> None:
    dtrain, _ = split_dmatrices()
    linear = {"booster": "gblinear", "objective": "binary:logistic", "nthread": 1}
    gain = FwTrackCallback()
    xgb.train(linear, dtrain, num_boost_round=3, callbacks=[gain])
    assert not any(k.startswith("feature_importance/") for k in read(gain).summary)

    weight = FwTrackCallback(importance_type="weight")
    booster = xgb.train(linear, dtrain, num_boost_round=3, callbacks=[weight])
    expected = booster.get_score(importance_type="weight")
    summary = read(weight).summary
    assert {k: summary[f"feature_importance/weight/{k}"] for k in expected} == expected

    off = FwTrackCallback(log_feature_importance=False)
    xgb.train({**OVERFIT}, dtrain, num_boost_round=2, callbacks=[off])
    assert not any(k.startswith("feature_importance/") for k in read(off).summary)


def test_bad_arguments_raise_at_construction() -> None:
    with pytest.raises(ValueError, match=r"importance_type='gains' is not valid\nhint:"):
        FwTrackCallback(importance_type="gains")
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) 'projct'"):
        FwTrackCallback(projct="x")


def test_no_evals_logs_no_rows() -> None:
    dtrain, _ = split_dmatrices()
    cb = FwTrackCallback()
    xgb.train(OVERFIT, dtrain, num_boost_round=3, callbacks=[cb])
    run = read(cb)
    assert run.row_count == 0
    assert "best_iteration" not in run.summary
    assert any(k.startswith("feature_importance/gain/") for k in run.summary)
    assert run.config["objective"] == "binary:logistic"
    assert run.state == "finished"


def test_existing_run_is_reused_and_left_open() -> None:
    dtrain, deval = split_dmatrices()
    run = fwtrack.init(project="mine", config={"eta": 0.1})
    for rows in (100, 200, 300):
        run.log({"prep/rows": rows})
    cb = FwTrackCallback(project="ignored", config={"dataset": "x"})
    xgb.train(
        {**OVERFIT, "eta": 0.1, "eval_metric": "logloss"},
        dtrain,
        num_boost_round=5,
        evals=[(deval, "eval")],
        callbacks=[cb],
        verbose_eval=False,
    )
    assert fwtrack.run is run
    assert not run.finished
    assert cb.run is run
    run.log({"test/accuracy": 0.9})
    run.finish()

    assert [p.name for p in fwtrack.Api().projects()] == ["mine"]
    stored = fwtrack.Api().run(run.id)
    assert stored.state == "finished"
    assert stored.config["eta"] == 0.1  # the user's value, not xgboost's float32 0.100000001
    assert stored.config["dataset"] == "x"
    assert stored.config["max_depth"] == 6
    history = stored.history()
    boosting = history[history["iteration"].notna()]
    assert list(boosting["_step"]) == [3, 4, 5, 6, 7]  # after the user's rows
    assert list(boosting["iteration"]) == [0, 1, 2, 3, 4]
    assert history["test/accuracy"].iloc[-1] == 0.9
    assert stored.summary["best_metric"] == "eval/logloss"


def test_run_finished_by_the_user_mid_training() -> None:
    dtrain, _ = split_dmatrices()
    run = fwtrack.init(project="mine")

    class FinishAtSecondRound(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if epoch == 1:
                run.finish()
            return False

    cb = FwTrackCallback()
    xgb.train(
        OVERFIT,
        dtrain,
        num_boost_round=4,
        evals=[(dtrain, "train")],
        callbacks=[FinishAtSecondRound(), cb],
        verbose_eval=False,
    )
    stored = fwtrack.Api().run(run.id)
    assert list(stored.history()["iteration"]) == [0]
    assert "best_iteration" not in stored.summary
    assert stored.state == "finished"


def test_owned_run_project_from_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    dtrain, _ = split_dmatrices()
    monkeypatch.setenv("FWTRACK_PROJECT", "from-env")
    env = FwTrackCallback()
    xgb.train(OVERFIT, dtrain, num_boost_round=2, evals=[(dtrain, "train")], callbacks=[env])
    arg = FwTrackCallback(project="from-arg", job_type="tune", notes="two rounds")
    xgb.train(OVERFIT, dtrain, num_boost_round=2, evals=[(dtrain, "train")], callbacks=[arg])
    assert fwtrack.run is None
    assert (read(env).project, read(env).state) == ("from-env", "finished")
    assert (read(arg).project, read(arg).state) == ("from-arg", "finished")
    assert (read(arg).job_type, read(arg).notes) == ("tune", "two rounds")


def test_reused_callback_starts_a_run_per_training_and_fails_a_crashed_one() -> None:
    dtrain, deval = split_dmatrices()
    cb = FwTrackCallback()
    calls = 0

    def flaky_metric(predt: np.ndarray, dmatrix: Any) -> tuple[str, float]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("metric failed")
        return "mean_pred", float(np.mean(predt))

    with pytest.raises(RuntimeError, match="metric failed"):
        xgb.train(
            OVERFIT,
            dtrain,
            num_boost_round=5,
            evals=[(deval, "eval")],
            custom_metric=flaky_metric,
            callbacks=[cb],
            verbose_eval=False,
        )
    crashed = cb.run
    assert crashed is not None
    assert fwtrack.run is crashed  # open until the process exits or the callback runs again

    booster = xgb.train(
        OVERFIT,
        dtrain,
        num_boost_round=4,
        evals=[(deval, "eval")],
        custom_metric=flaky_metric,
        callbacks=[cb],
        verbose_eval=False,
    )
    assert cb.run is not crashed
    first = fwtrack.Api().run(crashed.id)
    assert first.state == "failed"
    assert list(first.history()["iteration"]) == [0, 1]
    second = read(cb)
    assert second.state == "finished"
    assert list(second.history()["iteration"]) == [0, 1, 2, 3]

    # Training continuation: iterations (and the best one) count the rounds before.
    more = FwTrackCallback()
    xgb.train(
        OVERFIT,
        dtrain,
        num_boost_round=3,
        evals=[(deval, "eval")],
        xgb_model=booster,
        callbacks=[more],
        verbose_eval=False,
    )
    continued = read(more)
    assert list(continued.history()["iteration"]) == [4, 5, 6]
    assert 4 <= continued.summary["best_iteration"] <= 6


def test_callback_pickles_and_clones() -> None:
    X, y = classification()
    cb = FwTrackCallback(project="pickled", importance_type="cover")
    clf = xgb.XGBClassifier(n_estimators=3, n_jobs=1, callbacks=[cb])
    clf.fit(X, y, eval_set=[(X, y)], verbose=False)
    assert cb.run is not None

    copy = pickle.loads(pickle.dumps(cb))
    assert copy.run is None  # the run handle is not carried over
    cloned = clone(clf)
    cloned.fit(X, y, eval_set=[(X, y)], verbose=False)
    clf_copy = cloned.get_params()["callbacks"][0]
    assert clf_copy is not cb
    runs = fwtrack.Api().runs("pickled")
    assert len(runs) == 2
    assert all(r.state == "finished" for r in runs)
    assert all(any(k.startswith("feature_importance/cover/") for k in r.summary) for r in runs)


def test_only_rank_zero_logs() -> None:
    """Two workers (threads of this process, as xgboost's own tests run them) train one
    model together: only rank 0 logs, so there is one run with one row per iteration."""
    X, y = sklearn_datasets.make_regression(n_samples=200, n_features=5, random_state=0)
    errors: list[BaseException] = []

    def worker(args: dict[str, Any]) -> None:
        try:
            with xgb.collective.CommunicatorContext(**args):
                rank = xgb.collective.get_rank()
                dtrain = xgb.DMatrix(X[rank::2], label=y[rank::2])
                xgb.train(
                    {"tree_method": "hist", "nthread": 1},
                    dtrain,
                    num_boost_round=4,
                    evals=[(dtrain, "train")],
                    callbacks=[FwTrackCallback(project="dist")],
                    verbose_eval=False,
                )
        except BaseException as exc:
            errors.append(exc)

    tracker = RabitTracker(host_ip="127.0.0.1", n_workers=2)
    tracker.start()
    threads = [threading.Thread(target=worker, args=(tracker.worker_args(),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    tracker.wait_for()
    assert not errors
    runs = fwtrack.Api().runs("dist")
    assert len(runs) == 1
    assert list(runs[0].history()["iteration"]) == [0, 1, 2, 3]
    assert runs[0].state == "finished"


# -- log_model ---------------------------------------------------------------------------


def logged_model(cb: FwTrackCallback, project: str = "xgboost") -> tuple[Any, Path]:
    """The one version of `model-<run id>` and the file of the downloaded model."""
    assert cb.run is not None
    assert cb.model_artifact is not None
    committed = cb.model_artifact.wait()
    versions = fwtrack.Api().artifacts(project, name=f"model-{cb.run.id}")
    assert [v.version for v in versions] == [committed.version] == ["v0"]
    version = versions[0]
    assert version.type == "model"
    assert version.aliases == ["latest"]
    (entry,) = version.files()
    root = Path(version.download(Path("downloads") / cb.run.id))
    return version, root / entry.path


@pytest.mark.parametrize("model_format", ["json", "ubj"])
def test_log_model_with_early_stopping(model_format: str) -> None:
    dtrain, deval = split_dmatrices()
    cb = FwTrackCallback(log_model=True, model_format=model_format)
    booster = xgb.train(
        {**OVERFIT, "eval_metric": ["auc", "logloss"]},
        dtrain,
        num_boost_round=40,
        evals=[(dtrain, "train"), (deval, "eval")],
        early_stopping_rounds=3,
        callbacks=[cb],
        verbose_eval=False,
    )
    version, path = logged_model(cb)
    assert path.name == f"model.{model_format}"
    assert path.read_bytes() == booster.save_raw(raw_format=model_format)
    assert booster.num_boosted_rounds() < 40  # it stopped
    assert version.metadata == {
        "format": model_format,
        "num_boosted_rounds": booster.num_boosted_rounds(),
        "best_iteration": booster.best_iteration,
        "best_score": booster.best_score,
        "best_metric": "eval/logloss",
        "xgboost_version": xgb.__version__,
    }
    summary = read(cb).summary
    assert (summary["best_iteration"], summary["best_score"]) == (
        booster.best_iteration,
        booster.best_score,
    )

    loaded = xgb.Booster(model_file=str(path))
    assert loaded.best_iteration == booster.best_iteration
    best = (0, version.metadata["best_iteration"] + 1)
    np.testing.assert_array_equal(
        loaded.predict(deval, iteration_range=best), booster.predict(deval, iteration_range=best)
    )
    np.testing.assert_array_equal(loaded.predict(deval), booster.predict(deval))


def test_log_model_from_sklearn_classifier_and_its_clone() -> None:
    X, y = classification()
    clf = xgb.XGBClassifier(
        n_estimators=40,
        max_depth=6,
        learning_rate=1.0,
        early_stopping_rounds=3,
        n_jobs=1,
        callbacks=[FwTrackCallback(project="clf", log_model=True, model_format="ubj")],
    )
    for estimator in (clf, clone(clf)):  # a grid search fits clones
        estimator.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
        (cb,) = estimator.get_params()["callbacks"]
        version, path = logged_model(cb, "clf")
        assert path.name == "model.ubj"
        assert version.metadata["best_iteration"] == estimator.best_iteration
        assert version.metadata["best_score"] == estimator.best_score
        assert version.metadata["best_metric"] == "validation_0/logloss"
        assert (
            version.metadata["num_boosted_rounds"] == estimator.get_booster().num_boosted_rounds()
        )
        expected = estimator.predict_proba(X)
        # The booster, limited to the best iteration as the estimator predicts ...
        booster = xgb.Booster(model_file=str(path))
        best = (0, version.metadata["best_iteration"] + 1)
        np.testing.assert_array_equal(
            booster.predict(xgb.DMatrix(X), iteration_range=best), expected[:, 1]
        )
        # ... or loaded by the estimator, which reads the best iteration from the file.
        loaded = xgb.XGBClassifier()
        loaded.load_model(path)
        np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert clf.get_params()["callbacks"][0].run.id != cb.run.id  # one run each


def test_log_model_from_sklearn_regressor_in_the_users_run() -> None:
    X, y = sklearn_datasets.make_regression(n_samples=200, n_features=5, noise=10, random_state=0)
    run = fwtrack.init(project="mine")
    cb = FwTrackCallback(log_model=True)
    reg = xgb.XGBRegressor(n_estimators=15, max_depth=3, n_jobs=1, callbacks=[cb])
    reg.fit(X[:150], y[:150], eval_set=[(X[150:], y[150:])], verbose=False)
    assert fwtrack.run is run  # left open
    version, path = logged_model(cb, "mine")
    assert version.name == f"model-{run.id}"
    run.finish()

    curve = reg.evals_result()["validation_0"]["rmse"]
    iteration, score = first_best(curve, maximize=False)
    assert version.metadata == {
        "format": "json",
        "num_boosted_rounds": 15,
        "best_iteration": iteration,  # no early stopping: as in the summary
        "best_score": score,
        "best_metric": "validation_0/rmse",
        "xgboost_version": xgb.__version__,
    }
    loaded = xgb.Booster(model_file=str(path))
    np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(X)), reg.predict(X))
    assert [a.name for a in fwtrack.Api().run(run.id).logged_artifacts()] == [version.name]


@pytest.mark.slow
def test_log_model_online_and_register_on_the_server(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", "120")
    X, y = classification()
    run = fwtrack.init(project="online-xgb", settings={"console": False, "system_interval": 0})
    assert run.mode == "online"
    cb = FwTrackCallback(log_model=True, model_format="ubj")
    clf = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1, callbacks=[cb])
    clf.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
    assert cb.model_artifact is not None
    # Linked while the version may still be on its way to the server.
    handle = run.link_artifact(cb.model_artifact, "registry/xgb-online", aliases=["candidate"])
    linked = handle.wait(timeout=120)
    run.finish()

    registry = fwtrack.Api(base_url=server.url, api_key=server.key).registry
    version = registry.version("registry/xgb-online:candidate")
    assert (version.entity, version.version) == (linked.entity, "v0")
    artifact = version.artifact
    assert (artifact.project, artifact.name, artifact.type) == (
        "online-xgb",
        f"model-{run.id}",
        "model",
    )
    assert artifact.metadata["num_boosted_rounds"] == 10
    path = version.download(Path("downloads")) / "model.ubj"
    loaded = xgb.XGBClassifier()
    loaded.load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_no_model_logged_by_default_or_under_cv() -> None:
    dtrain, _ = split_dmatrices()
    cb = FwTrackCallback()
    xgb.train(OVERFIT, dtrain, num_boost_round=2, callbacks=[cb])
    assert cb.model_artifact is None

    cv_cb = FwTrackCallback(project="cv", log_model=True)
    with pytest.warns(fwtrack.FwTrackWarning, match="cross-validation trains no final model"):
        xgb.cv(OVERFIT, dtrain, num_boost_round=2, nfold=2, callbacks=[cv_cb])
    assert cv_cb.model_artifact is None
    assert read(cv_cb).state == "finished"
    assert fwtrack.Api().artifact_collections("xgboost") == []
    assert fwtrack.Api().artifact_collections("cv") == []


def test_bad_model_format() -> None:
    with pytest.raises(ValueError, match=r"model_format='pickle' is not valid\nhint: use one of"):
        FwTrackCallback(log_model=True, model_format="pickle")


@pytest.mark.slow
def test_example_script(tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = runpy.run_path(str(REPO / "integrations" / "xgboost" / "train.py"), run_name="ex")
    booster = example["main"](["--samples", "2000"])
    stdout = capsys.readouterr().out
    run_id = stdout.split("fwtrack run ")[1].split()[0]
    api = fwtrack.Api(tmp_dir / "fwtrack")
    run = api.run(run_id)
    assert run.project == "xgboost-example"
    assert run.state == "finished"
    history = run.history()
    for key in ("iteration", "train/auc", "train/logloss", "eval/auc", "eval/logloss"):
        assert history[key].notna().all(), key
    assert history["eval/logloss"].iloc[-1] < history["eval/logloss"].iloc[0]
    summary = run.summary
    assert summary["best_metric"] == "eval/logloss"
    assert summary["best_score"] == history["eval/logloss"].min()
    assert all(
        name in {f"x{i:02d}" for i in range(20)} and value > 0
        for name, value in (
            (k.removeprefix("feature_importance/gain/"), v)
            for k, v in summary.items()
            if k.startswith("feature_importance/gain/")
        )
    )
    config = run.config
    assert config["rounds"] == 300  # the script's arguments
    assert config["max_depth"] == 4
    assert config["objective"] == "binary:logistic"
    assert config["eval_metric"] == ["auc", "logloss"]

    # The registered model, read back through the registry and through `use_model` in
    # another run, loaded in xgboost, predicts what the trained booster predicts.
    names = [f"x{i:02d}" for i in range(20)]
    probe = xgb.DMatrix(np.random.default_rng(3).normal(size=(64, 20)), feature_names=names)
    expected = booster.predict(probe, iteration_range=(0, booster.best_iteration + 1))
    version = api.registry.version("registry/xgboost-example:candidate")
    assert (version.version, version.aliases) == ("v0", ["candidate", "latest"])
    artifact = version.artifact
    assert (artifact.name, artifact.type) == (f"model-{run_id}", "model")
    assert (
        artifact.metadata["best_iteration"] == booster.best_iteration == summary["best_iteration"]
    )
    assert artifact.metadata["format"] == "ubj"
    root = version.download(tmp_dir / "registry")
    user = fwtrack.init(project="xgboost-example", job_type="evaluate")
    used = Path(user.use_model("registry/xgboost-example:candidate"))
    user.finish()
    for path in (root / "model.ubj", used / "model.ubj"):
        loaded = xgb.Booster(model_file=str(path))
        best = (0, artifact.metadata["best_iteration"] + 1)
        np.testing.assert_array_equal(loaded.predict(probe, iteration_range=best), expected)
    assert [a.digest for a in api.run(user.id).used_artifacts()] == [artifact.digest]
    assert api.registry.model("xgboost-example").aliases == {"candidate": "v0"}
