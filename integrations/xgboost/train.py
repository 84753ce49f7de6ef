"""Gradient-boosted trees on a synthetic classification task, tracked with fwtrack, the
trained booster registered as a model.

    python integrations/xgboost/train.py [--rounds 300] [--max-depth 4] [--eta 0.1]

fwtrack takes a few lines. `FwTrackCallback` logs, each boosting round, `train/auc`,
`train/logloss`, `eval/auc` and `eval/logloss` against `iteration`; the booster's
parameters become the run config; the best iteration, its score and the features' gain land
in the run summary. With `log_model=True` the trained booster is logged as the artifact
`model-<run id>` (`model.ubj` here; metadata: best iteration and score, rounds), which is
linked to the model registry as `registry/xgboost-example` with the alias `candidate`:

    fwtrack.Api().registry.version("registry/xgboost-example:candidate").download()

Runs go to `./fwtrack` (or `FWTRACK_DIR`).
"""

from __future__ import annotations

import argparse

import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import fwtrack
from fwtrack.integrations.xgboost import FwTrackCallback

REGISTERED_MODEL = "registry/xgboost-example"


def main(argv: list[str] | None = None) -> xgb.Booster:
    """Train, register the booster, and return it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--early-stopping", type=int, default=20)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = make_classification(
        n_samples=args.samples,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        flip_y=0.05,
        random_state=args.seed,
    )
    X_train, X_eval, y_train, y_eval = train_test_split(
        X, y, test_size=0.2, random_state=args.seed, stratify=y
    )
    names = [f"x{i:02d}" for i in range(X.shape[1])]
    dtrain = xgb.DMatrix(X_train, label=y_train, feature_names=names)
    deval = xgb.DMatrix(X_eval, label=y_eval, feature_names=names)

    params = {
        "objective": "binary:logistic",
        # Early stopping watches the last metric of the last evaluation set: eval logloss.
        "eval_metric": ["auc", "logloss"],
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "tree_method": "hist",
        "seed": args.seed,
    }
    run = fwtrack.init(project="xgboost-example", config=vars(args))
    tracker = FwTrackCallback(log_model=True, model_format="ubj")
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=args.rounds,
        evals=[(dtrain, "train"), (deval, "eval")],
        early_stopping_rounds=args.early_stopping,
        verbose_eval=50,
        callbacks=[tracker],
    )
    print(f"best iteration {booster.best_iteration}: eval logloss {booster.best_score:.4f}")

    logged = tracker.model_artifact
    assert logged is not None
    logged.wait()  # committed: its version is known
    registered = run.link_artifact(logged, REGISTERED_MODEL, aliases=["candidate"]).wait()
    print(f"{logged.qualified_name} registered as {registered.ref} {sorted(registered.aliases)}")
    run.finish()
    print(f"fwtrack run {run.id} in {run.dir}")
    return booster


if __name__ == "__main__":
    main()
