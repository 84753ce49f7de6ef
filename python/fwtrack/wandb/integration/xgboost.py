"""`wandb.integration.xgboost.WandbCallback` on fwtrack: `FwTrackCallback` with W&B's
arguments."""

from __future__ import annotations

from fwtrack.integrations.xgboost import FwTrackCallback

__all__ = ["WandbCallback"]


class WandbCallback(FwTrackCallback):
    """`WandbCallback(log_model=False, log_feature_importance=True, importance_type="gain",
    define_metric=True)` for `xgb.train`/`xgb.cv`/the scikit-learn estimators.

    `define_metric` (W&B: summarise each metric by its best value) is fwtrack's default
    summary behaviour (min/max/last are kept for every metric) and is accepted as is.
    """

    def __init__(
        self,
        log_model: bool = False,
        log_feature_importance: bool = True,
        importance_type: str = "gain",
        define_metric: bool = True,
    ) -> None:
        super().__init__(
            log_model=log_model,
            log_feature_importance=log_feature_importance,
            importance_type=importance_type,
        )
        self.define_metric = define_metric
