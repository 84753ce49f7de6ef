"""Run by test_shim.py: `install()` in a process where the real wandb was imported first."""

import importlib.util
import json
import sys

import wandb as real_wandb  # the real one, imported before install()

import fwtrack.wandb

assert not real_wandb.__name__.startswith("fwtrack")
fwtrack.wandb.install()

import wandb  # noqa: E402
import wandb.apis.public  # noqa: E402
import wandb.sdk.wandb_run  # noqa: E402
from wandb.integration.lightning import WandbLogger as ShimLogger  # noqa: E402
from wandb.integration.xgboost import WandbCallback  # noqa: E402

import fwtrack.wandb.integration.xgboost  # noqa: E402

out: dict[str, object] = {
    "wandb_is_shim": wandb is fwtrack.wandb,
    "same_submodule": WandbCallback is fwtrack.wandb.integration.xgboost.WandbCallback,
    "public_api": wandb.apis.public.Api.__module__,
    "run_class": wandb.sdk.wandb_run.Run.__module__,
    "find_spec": importlib.util.find_spec("wandb") is not None,
    "real_modules_left": sorted(
        n
        for n, m in sys.modules.items()
        if (n == "wandb" or n.startswith("wandb."))
        and not getattr(m, "__name__", "").startswith("fwtrack.wandb")
    ),
}
try:
    import wandb.sdk.lib
except ModuleNotFoundError as exc:
    out["missing"] = str(exc)

from lightning.pytorch.loggers import WandbLogger  # noqa: E402
from lightning.pytorch.loggers.wandb import WandbLogger as WandbLogger2  # noqa: E402

out["lightning"] = WandbLogger is ShimLogger and WandbLogger2 is ShimLogger

from transformers.integrations import integration_utils  # noqa: E402

out["report_to"] = integration_utils.INTEGRATION_TO_CALLBACK["wandb"].__module__
out["wandb_available"] = integration_utils.is_wandb_available()

fwtrack.wandb.uninstall()
sys.modules.pop("wandb", None)
import wandb as again  # noqa: E402

out["after_uninstall"] = again.__name__ == "wandb" and again is not fwtrack.wandb
print(json.dumps(out))
