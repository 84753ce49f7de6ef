"""Model registry and checkpoint logging: fwtrack against wandb (offline) and MLflow.

    python benches/registry_bench.py --out benches/out/registry     # both cases, 3 reps
    python benches/registry_bench.py --quick                         # one repetition
    python benches/registry_bench.py --cases fit --loggers none,fwtrack

Two cases, each measurement in a fresh interpreter, in an order rotated between repetitions;
cells are medians. Models are tiny MLPs built from a config on the CPU (one torch thread);
nothing is downloaded.

**fit**: a Lightning fit of a ~2.3 MB MLP (10 epochs of 16 steps, a validation pass per
epoch, `ModelCheckpoint(monitor="val_loss", save_top_k=3)`, so about 10 checkpoints saved and
7 removed) with each logger, from `Trainer(...)` to the end of the logger's run:

- **none** (the baseline): `logger=False`, the same checkpoints written to disk;
- **fwtrack**: `FwTrackLogger(offline=True, log_model="all")`: each checkpoint a version of
  `model-<run id>` in the local registry (committed, blobs durable) by the end of `finalize`;
- **wandb**: `WandbLogger(log_model="all")` with `WANDB_MODE=offline` (the logger refuses
  `offline=True` with `log_model`), and `wandb.finish()`; the checkpoints are staged for a
  later `wandb sync`;
- **mlflow**: `MLFlowLogger(log_model="all")`, SQLite store, local artifact directory;
- **mlflow-autolog**: `mlflow.pytorch.autolog(checkpoint=True, checkpoint_save_best_only=False,
  log_models=False)` (its own checkpoint each epoch, no `ModelCheckpoint`), same store.

"in logger" is the time the training thread spent inside the logger's methods (run creation,
`after_save_checkpoint`, `finalize`, wandb's `finish()`), timed by a subclass.

**registry**: a ~10 MB MLP (state dict) through a model registry. One process publishes: saves
and logs two versions, links each to a registered model (the first creates it, with alias
`staging`), moves the alias `production` between the two versions `MOVES` times and resolves
`production` `RESOLVES` times. Another, fresh process uses `production`: resolve, download
(cold cache), load into the model.

- **copy** (the baseline): `torch.save`, `shutil.copy` into a folder, a JSON file of versions
  and aliases rewritten atomically per link or move, read per resolve, the file copied out;
- **fwtrack local**: an offline run and the local registry: `log_artifact` + `wait()`,
  `run.link_artifact(...).wait()`, `Api().registry.move_alias` / `.version`,
  `run.use_model`;
- **fwtrack server**: the same online, against a `fwtrack server` (SQLite, directory store)
  on 127.0.0.1;
- **mlflow local**: `mlflow.pytorch.log_model` (pickle, pip requirements given so that none are
  inferred), `mlflow.register_model`, `MlflowClient.set_registered_model_alias` /
  `get_model_version_by_alias`, `mlflow.artifacts.download_artifacts("models:/<m>@production")`
  + `mlflow.pytorch.load_model`; SQLite store, local artifact directory;
- **mlflow server**: the same against `mlflow server` (SQLite backend, artifacts proxied by
  the server) on 127.0.0.1;
- **wandb offline**: logs the artifact; `link_artifact` and `use_model` are not supported
  offline (W&B's registry needs its server), which the row records.

Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from artifacts_bench import du  # noqa: E402
from run import median_of, num, table  # noqa: E402
from server_bench import ServerProc, free_port, machine  # noqa: E402
from trackers import OFFLINE_ENV  # noqa: E402
from upload_bench import Server, tree_env  # noqa: E402

PROJECT = "bench-registry"
RESULT = "RESULT "
SETTINGS = {"capture_env": False, "save_code": False, "system_interval": 0, "console": False}
TIMEOUT_S = 900.0
MOVES = 20
RESOLVES = 20

FIT_LOGGERS = ("none", "fwtrack", "wandb", "mlflow", "mlflow-autolog")
FIT_LABELS = {
    "none": "no logger (checkpoints to disk only)",
    "fwtrack": 'fwtrack `FwTrackLogger(log_model="all")`, offline',
    "wandb": 'wandb `WandbLogger(log_model="all")`, offline',
    "mlflow": 'MLflow `MLFlowLogger(log_model="all")`, SQLite',
    "mlflow-autolog": "MLflow `mlflow.pytorch.autolog(checkpoint=True)`, SQLite",
}
# The fit's model: 64 -> 512 -> 512 -> 512 -> 10, about 2.3 MB of float32.
FIT_MODEL = {"dim": 64, "hidden": 512, "layers": 3, "classes": 10}
FIT = {"epochs": 10, "steps": 16, "batch": 64, "save_top_k": 3}

REG_JOBS = ("copy", "fwtrack-local", "fwtrack-server", "mlflow-local", "mlflow-server", "wandb")
REG_LABELS = {
    "copy": "copy (baseline: files + a JSON index)",
    "fwtrack-local": "fwtrack, local registry (offline run)",
    "fwtrack-server": "fwtrack, `fwtrack server` (SQLite)",
    "mlflow-local": "MLflow, SQLite store",
    "mlflow-server": "MLflow, `mlflow server` (SQLite)",
    "wandb": "wandb offline",
}
# The registry's model: 1024 -> 1024 -> 1024 -> 512, about 10.5 MB of float32.
REG_MODEL = {"dim": 1024, "hidden": 1024, "layers": 2, "classes": 512}

CHILD_ENV = {
    **OFFLINE_ENV,
    "WANDB_CONSOLE": "off",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "TOKENIZERS_PARALLELISM": "false",
}


# ----------------------------------------------------------------------------------------------
# Shared by the children


def build_model(config: dict[str, int]) -> Any:
    """The MLP of `config`: `layers` hidden layers of `hidden` units."""
    from torch import nn

    dims = [config["dim"]] + [config["hidden"]] * config["layers"]
    mods: list[Any] = []
    for a, b in itertools.pairwise(dims):
        mods += [nn.Linear(a, b), nn.ReLU()]
    mods.append(nn.Linear(dims[-1], config["classes"]))
    return nn.Sequential(*mods)


def quiet() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fwtrack_env(spec: dict[str, Any]) -> None:
    os.environ["FWTRACK_DIR"] = spec["root"]
    os.environ["FWTRACK_CACHE_DIR"] = spec["cache"]
    if spec.get("url"):
        os.environ["FWTRACK_BASE_URL"] = spec["url"]
        os.environ["FWTRACK_API_KEY"] = spec["key"]


def _wandb_env(home: Path) -> dict[str, Path]:
    dirs = {
        "WANDB_DIR": home / "runs",
        "WANDB_CACHE_DIR": home / "cache",
        "WANDB_CONFIG_DIR": home / "config",
        "WANDB_DATA_DIR": home / "data",
        "WANDB_ARTIFACT_DIR": home / "artifacts",
    }
    for var, p in dirs.items():
        p.mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(p)
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    return dirs


def _mlflow_setup(uri: str, artifacts: str | None, experiment: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    return mlflow


def _median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times)


# ----------------------------------------------------------------------------------------------
# Case "fit": one Lightning fit with one logger


def _timed_logger(cls: Any, kwargs: dict[str, Any], timing: dict[str, float]) -> Any:
    """`cls(**kwargs)` from a subclass that adds the time spent in its methods and in the
    properties Lightning reads (where the run is created on first use) to
    `timing["logger_s"]`, and that of `after_save_checkpoint` and `finalize` (where
    checkpoints are logged, and the run ends) to `timing["ckpt_s"]` too; a call made inside
    another is counted once."""
    depth = [0]

    def timed(fn: Any) -> Any:
        ckpt = fn.__name__ in ("after_save_checkpoint", "finalize")

        def call(*args: Any, **kw: Any) -> Any:
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                depth[0] -= 1
                if not depth[0]:
                    spent = time.perf_counter() - t0
                    timing["logger_s"] += spent
                    if ckpt:
                        timing["ckpt_s"] += spent

        return call

    methods = (
        "log_metrics",
        "log_hyperparams",
        "log_graph",
        "save",
        "finalize",
        "after_save_checkpoint",
    )
    overrides: dict[str, Any] = {m: timed(getattr(cls, m)) for m in methods}
    for prop in ("experiment", "name", "version", "save_dir", "log_dir", "root_dir"):
        fget = getattr(getattr(cls, prop, None), "fget", None)
        if fget is not None:
            overrides[prop] = property(timed(fget))
    t0 = time.perf_counter()
    try:
        # MLFlowLogger opens its store (creating the SQLite tables) here.
        return type(f"Timed{cls.__name__}", (cls,), overrides)(**kwargs)
    finally:
        timing["logger_s"] += time.perf_counter() - t0


def child_fit(spec: dict[str, Any]) -> dict[str, Any]:
    quiet()
    kind, work = spec["logger"], Path(spec["work"])
    if kind == "wandb":
        wandb_dirs = _wandb_env(work / "wandb")
    import torch
    from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    seed_everything(0, verbose=False)
    config, fit = spec["model"], spec["fit"]

    class Classifier(LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters({"model": config})
            self.net = build_model(config)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", F.cross_entropy(self.net(x), y))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.02)

    class Saves(Callback):
        saved = 0

        def on_save_checkpoint(self, *args: Any) -> None:
            self.saved += 1

    n = fit["steps"] * fit["batch"]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, config["dim"], generator=gen)
    w = torch.randn(config["dim"], config["classes"], generator=gen)
    y = (x @ w).argmax(-1)
    train = DataLoader(TensorDataset(x, y), batch_size=fit["batch"], shuffle=True)
    val = DataLoader(TensorDataset(x[: 4 * fit["batch"]], y[: 4 * fit["batch"]]), batch_size=256)
    model = Classifier()
    timing = {"logger_s": 0.0, "ckpt_s": 0.0}
    ckpt_dir = work / "checkpoints"
    callbacks: list[Any] = [saves := Saves()]
    if kind != "mlflow-autolog":
        callbacks.append(
            ModelCheckpoint(dirpath=ckpt_dir, monitor="val_loss", save_top_k=fit["save_top_k"])
        )
    # The trackers are imported before the clock starts (their import is not the fit's).
    logger: Any = False
    fw_root = work / "fwtrack"
    ml_uri = f"sqlite:///{work / 'mlflow.db'}"
    ml_artifacts = (work / "mlflow-artifacts").as_uri()
    if kind == "fwtrack":
        from fwtrack.integrations.lightning import FwTrackLogger

        logger_cls: Any = FwTrackLogger
        kwargs: dict[str, Any] = {
            "project": PROJECT,
            "save_dir": fw_root,
            "offline": True,
            "log_model": "all",
            "settings": SETTINGS,
        }
    elif kind == "wandb":
        import wandb
        from lightning.pytorch.loggers import WandbLogger

        logger_cls = WandbLogger
        kwargs = {"project": PROJECT, "save_dir": str(wandb_dirs["WANDB_DIR"]), "log_model": "all"}
    elif kind == "mlflow":
        import mlflow
        from lightning.pytorch.loggers import MLFlowLogger

        logger_cls = MLFlowLogger
        kwargs = {
            "experiment_name": PROJECT,
            "tracking_uri": ml_uri,
            "artifact_location": ml_artifacts,
            "log_model": "all",
        }
    elif kind == "mlflow-autolog":
        import mlflow
        import mlflow.pytorch

        # The store is created before the clock starts, as for MLFlowLogger (whose
        # `experiment` does it inside the fit: that is counted there).
        _mlflow_setup(ml_uri, ml_artifacts, PROJECT)
    t0 = time.perf_counter()
    if kind in ("fwtrack", "wandb", "mlflow"):
        logger = _timed_logger(logger_cls, kwargs, timing)
    if kind == "mlflow-autolog":
        mlflow.pytorch.autolog(
            checkpoint=True, checkpoint_save_best_only=False, log_models=False, silent=True
        )
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=fit["epochs"],
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=kind != "mlflow-autolog",
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    trainer.fit(model, train, val)
    if kind == "wandb":
        t1 = time.perf_counter()
        wandb.finish()  # WandbLogger leaves its run open: its end belongs to the fit
        timing["logger_s"] += time.perf_counter() - t1
        timing["ckpt_s"] += time.perf_counter() - t1
    elif kind == "mlflow-autolog" and mlflow.active_run() is not None:
        mlflow.end_run()
    fit_s = time.perf_counter() - t0
    out: dict[str, Any] = {"fit_s": fit_s, "saved": saves.saved, "steps": trainer.global_step}
    if kind in ("fwtrack", "wandb", "mlflow"):
        out.update(timing)
    out["checkpoints"] = du(ckpt_dir)
    if kind == "fwtrack":
        out["left"] = du(fw_root / ".artifacts")
        import fwtrack

        arts = fwtrack.Api(dir=str(fw_root)).artifacts(PROJECT, type="model")
        out["versions"] = len(arts)
        out["aliases"] = {a.version: sorted(a.aliases) for a in arts if a.aliases}
    elif kind == "wandb":
        parts = [du(wandb_dirs[k]) for k in ("WANDB_DATA_DIR", "WANDB_DIR")]
        out["left"] = {k: sum(part[k] for part in parts) for k in ("files", "bytes")}
    elif kind.startswith("mlflow"):
        art, db = du(work / "mlflow-artifacts"), du(work / "mlflow.db")
        out["left"] = {"files": art["files"] + 1, "bytes": art["bytes"] + db["bytes"]}
    return out


# ----------------------------------------------------------------------------------------------
# Case "registry": publish (log, link, move, resolve) in one process, use in another


def _save_version(model: Any, folder: Path, i: int) -> Path:
    """The model's state dict after perturbing it (so that versions differ) in `folder`."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.001 * (i + 1))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.pt"
    torch.save(model.state_dict(), path)
    return path


def _moves_and_resolves(
    move: Callable[[str], Any], resolve: Callable[[], Any], versions: list[str]
) -> dict[str, Any]:
    moves, resolves = [], []
    for k in range(MOVES):
        t0 = time.perf_counter()
        move(versions[k % 2])
        moves.append(time.perf_counter() - t0)
    for _ in range(RESOLVES):
        t0 = time.perf_counter()
        resolve()
        resolves.append(time.perf_counter() - t0)
    return {"move_ms": _median_ms(moves), "resolve_ms": _median_ms(resolves)}


def child_copy_publish(spec: dict[str, Any]) -> dict[str, Any]:
    import torch  # noqa: F401

    reg = Path(spec["root"]) / "registry"
    index = reg / "index.json"
    model = build_model(spec["model"])
    out: dict[str, Any] = {}

    def write(state: dict[str, Any]) -> None:
        tmp = index.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, index)

    state: dict[str, Any] = {"versions": [], "aliases": {}}
    for i in range(2):
        t0 = time.perf_counter()
        src = _save_version(model, Path(spec["root"]) / "work" / f"v{i}", i)
        dest = reg / f"v{i}"
        dest.mkdir(parents=True)
        shutil.copy(src, dest / "model.pt")
        t1 = time.perf_counter()
        state["versions"].append(f"v{i}")
        if i == 0:
            state["aliases"]["staging"] = "v0"
        write(state)
        t2 = time.perf_counter()
        out[f"log{i}_s"], out[f"link{i}_s"] = t1 - t0, t2 - t1

    def move(version: str) -> None:
        st = json.loads(index.read_text())
        st["aliases"]["production"] = version
        write(st)

    def resolve() -> str:
        return str(json.loads(index.read_text())["aliases"]["production"])

    out.update(_moves_and_resolves(move, resolve, ["v0", "v1"]))
    out["size"] = du(reg)["bytes"] // 2
    return out


def child_copy_use(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    reg = Path(spec["root"]) / "registry"
    model = build_model(spec["model"])
    t0 = time.perf_counter()

    def use(dest: Path) -> Path:
        version = json.loads((reg / "index.json").read_text())["aliases"]["production"]
        dest.mkdir(parents=True)
        shutil.copy(reg / version / "model.pt", dest / "model.pt")
        return dest

    path = use(Path(spec["dest"]))
    t1 = time.perf_counter()
    model.load_state_dict(torch.load(path / "model.pt"))
    t2 = time.perf_counter()
    use(Path(spec["dest"] + "-again"))
    t3 = time.perf_counter()
    return {"use_s": t1 - t0, "load_s": t2 - t1, "again_s": t3 - t2}


def _fwtrack_api(spec: dict[str, Any]) -> Any:
    import fwtrack

    if spec.get("url"):
        return fwtrack.Api(base_url=spec["url"], api_key=spec["key"])
    return fwtrack.Api(dir=spec["root"])


def child_fwtrack_publish(spec: dict[str, Any]) -> dict[str, Any]:
    _fwtrack_env(spec)
    import torch  # noqa: F401

    import fwtrack

    online = bool(spec.get("url"))
    run = fwtrack.init(
        project=PROJECT, dir=spec["root"], mode="online" if online else "offline", settings=SETTINGS
    )
    model = build_model(spec["model"])
    name = spec["name"]
    out: dict[str, Any] = {}
    versions = []
    for i in range(2):
        t0 = time.perf_counter()
        src = _save_version(model, Path(spec["work"]) / f"v{i}", i)
        art = fwtrack.Artifact("bench-model", "model")
        art.add_file(str(src))
        logged = run.log_artifact(art)
        logged.wait()
        t1 = time.perf_counter()
        handle = run.link_artifact(
            logged, f"registry/{name}", aliases=["staging"] if i == 0 else None
        )
        mv = handle.wait()
        t2 = time.perf_counter()
        out[f"log{i}_s"], out[f"link{i}_s"] = t1 - t0, t2 - t1
        versions.append(mv.version)
    registry = _fwtrack_api(spec).registry
    # Compare-and-set moves (`expect`: the version the alias names before the move).
    now: list[str | None] = [None]

    def move(version: str) -> None:
        registry.move_alias(name, "production", version, expect=now[0])
        now[0] = version

    def resolve() -> Any:
        return registry.version(f"registry/{name}:production")

    out.update(_moves_and_resolves(move, resolve, versions))
    t0 = time.perf_counter()
    run.finish()
    out["finish_s"] = time.perf_counter() - t0
    out["size"] = Path(spec["work"], "v0", "model.pt").stat().st_size
    return out


def child_fwtrack_use(spec: dict[str, Any]) -> dict[str, Any]:
    _fwtrack_env(spec)
    import torch

    import fwtrack

    online = bool(spec.get("url"))
    model = build_model(spec["model"])
    run = fwtrack.init(
        project=PROJECT, dir=spec["root"], mode="online" if online else "offline", settings=SETTINGS
    )
    t0 = time.perf_counter()
    path = run.use_model(f"registry/{spec['name']}:production")
    t1 = time.perf_counter()
    model.load_state_dict(torch.load(Path(path) / "model.pt"))
    t2 = time.perf_counter()
    run.use_model(f"registry/{spec['name']}:production")  # again: from the download cache
    t3 = time.perf_counter()
    run.finish()
    return {"use_s": t1 - t0, "load_s": t2 - t1, "again_s": t3 - t2}


def _mlflow_uri(spec: dict[str, Any]) -> tuple[str, str | None]:
    """(tracking URI, artifact location of a new experiment): the server's proxied store, or a
    SQLite file and a local folder."""
    if spec.get("url"):
        return spec["url"], None
    return f"sqlite:///{Path(spec['root']) / 'mlflow.db'}", (
        Path(spec["root"]) / "artifacts"
    ).as_uri()


def child_mlflow_publish(spec: dict[str, Any]) -> dict[str, Any]:
    quiet()
    import mlflow
    import mlflow.pytorch
    import torch

    uri, artifacts = _mlflow_uri(spec)
    mlflow.set_tracking_uri(uri)
    experiment = spec["name"]
    mlflow.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    client = mlflow.MlflowClient()
    model = build_model(spec["model"])
    name = spec["name"]
    out: dict[str, Any] = {}
    versions = []
    # Given, so that MLflow does not infer them (a subprocess that imports the model).
    pip = [f"torch=={torch.__version__.split('+')[0]}"]
    with mlflow.start_run():
        for i in range(2):
            t0 = time.perf_counter()
            _save_version(model, Path(spec["work"]) / f"v{i}", i)  # the same perturbation
            info = mlflow.pytorch.log_model(
                model, name=f"model-v{i}", pip_requirements=pip, serialization_format="pickle"
            )
            t1 = time.perf_counter()
            mv = mlflow.register_model(info.model_uri, name)
            if i == 0:
                client.set_registered_model_alias(name, "staging", mv.version)
            t2 = time.perf_counter()
            out[f"log{i}_s"], out[f"link{i}_s"] = t1 - t0, t2 - t1
            versions.append(str(mv.version))

        def move(version: str) -> None:
            client.set_registered_model_alias(name, "production", version)

        def resolve() -> Any:
            return client.get_model_version_by_alias(name, "production")

        out.update(_moves_and_resolves(move, resolve, versions))
        t0 = time.perf_counter()
    mlflow.end_run()
    out["finish_s"] = time.perf_counter() - t0
    return out


def child_mlflow_use(spec: dict[str, Any]) -> dict[str, Any]:
    quiet()
    import mlflow
    import mlflow.pytorch

    uri, _ = _mlflow_uri(spec)
    mlflow.set_tracking_uri(uri)
    t0 = time.perf_counter()
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{spec['name']}@production", dst_path=spec["dest"]
    )
    t1 = time.perf_counter()
    loaded = mlflow.pytorch.load_model(path)
    t2 = time.perf_counter()
    if sum(p.numel() for p in loaded.parameters()) < 1_000_000:
        raise RuntimeError("the loaded model is not the logged one")
    mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{spec['name']}@production", dst_path=spec["dest"] + "-again"
    )
    t3 = time.perf_counter()
    return {"use_s": t1 - t0, "load_s": t2 - t1, "again_s": t3 - t2}


def child_wandb_publish(spec: dict[str, Any]) -> dict[str, Any]:
    _wandb_env(Path(spec["root"]))
    import torch  # noqa: F401
    import wandb

    run = wandb.init(project=PROJECT, mode="offline", dir=os.environ["WANDB_DIR"])
    model = build_model(spec["model"])
    out: dict[str, Any] = {}
    for i in range(2):
        t0 = time.perf_counter()
        src = _save_version(model, Path(spec["work"]) / f"v{i}", i)
        art = wandb.Artifact("bench-model", "model")
        art.add_file(str(src))
        run.log_artifact(art)
        out[f"log{i}_s"] = time.perf_counter() - t0
    try:
        run.link_artifact(art, f"model-registry/{spec['name']}", aliases=["staging"])
    except Exception as exc:  # offline: not supported
        out["link_error"] = f"link_artifact: {type(exc).__name__} {exc}".strip()
    try:
        run.use_model(f"{spec['name']}:production")
    except Exception as exc:
        out["use_error"] = f"use_model: {type(exc).__name__}: {exc}"
    t0 = time.perf_counter()
    run.finish()
    out["finish_s"] = time.perf_counter() - t0
    return out


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fit": child_fit,
    "copy-publish": child_copy_publish,
    "copy-use": child_copy_use,
    "fwtrack-publish": child_fwtrack_publish,
    "fwtrack-use": child_fwtrack_use,
    "mlflow-publish": child_mlflow_publish,
    "mlflow-use": child_mlflow_use,
    "wandb-publish": child_wandb_publish,
}


def child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(spec)]
    env = tree_env(REPO, **CHILD_ENV)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        env=env,
        cwd=spec.get("work") or spec.get("root"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise RuntimeError(f"{kind} failed (exit {proc.returncode}):\n{tail}")
    res: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    res.update(load1=load, wall_s=time.perf_counter() - t0)
    return res


# ----------------------------------------------------------------------------------------------
# Servers, started once per run of the registry case (each repetition uses its own model)


class MlflowServer:
    """`mlflow server` with a SQLite backend store, serving the artifacts itself (clients
    upload and download through it, as they do with a fwtrack server)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            str(Path(sys.executable).with_name("mlflow")), "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        env = {**os.environ, **CHILD_ENV, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = ServerProc("mlflow server", cmd, env, root / "mlflow-server.log")
        self.proc.wait_http(self.port, "/health", timeout=180)

    def stop(self) -> None:
        self.proc.stop()


# ----------------------------------------------------------------------------------------------
# Jobs


def job_fit(work: Path, kind: str) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"fit-{kind}-", dir=work))
    try:
        spec = {"logger": kind, "work": str(scratch), "model": FIT_MODEL, "fit": FIT}
        return child("fit", spec)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def job_registry(
    work: Path, job: str, rep: int, servers: dict[str, dict[str, str]]
) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"reg-{job}-", dir=work))
    try:
        spec: dict[str, Any] = {
            "root": str(scratch / "root"),
            "cache": str(scratch / "cache"),
            "work": str(scratch),
            "model": REG_MODEL,
            "name": f"bench-{job}-{rep}",
        }
        Path(spec["root"]).mkdir()
        tracker = job.split("-")[0]
        if job.endswith("-server"):
            spec.update(servers[job])
        out = child(f"{tracker}-publish", spec)
        if tracker == "wandb":
            return out
        # A fresh process with a cold cache.
        spec.update(cache=str(scratch / "cache2"), dest=str(scratch / "use"))
        out["use"] = child(f"{tracker}-use", spec)
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Report


def mb(n: float | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.1f} MB"


def render_fit(res: dict[str, Any]) -> str:
    rows_by = res["fit"]
    base_by_rep = {r.get("rep"): r["fit_s"] for r in rows_by.get("none") or []}
    rows = []
    for kind in FIT_LOGGERS:
        got = rows_by.get(kind)
        if got is None:
            continue
        if not got:
            errs = [e for e in res.get("errors", []) if e.startswith(f"fit {kind}:")]
            reason = errs[0].split("\n")[-1][:140] if errs else "not run"
            rows.append([FIT_LABELS[kind], reason] + [""] * 6)
            continue
        fits = [r["fit_s"] for r in got]
        # Each repetition against the no-logger fit of the same repetition (they ran minutes
        # apart at most, under about the same load), then the median of those ratios.
        paired = [
            r["fit_s"] / base_by_rep[r.get("rep")] for r in got if r.get("rep") in base_by_rep
        ]
        left = [r["left"]["bytes"] for r in got if "left" in r]
        ver = ""
        if kind == "fwtrack" and "versions" in got[-1]:
            held = ", ".join(f"{v}: {' '.join(a)}" for v, a in got[-1]["aliases"].items())
            ver = f" ({got[-1]['versions']} versions; aliases {held or 'none'})"
        rows.append(
            [
                FIT_LABELS[kind],
                num(median_of(got, "fit_s")),
                f"{min(fits):.2f}-{max(fits):.2f}",
                "—" if kind == "none" or not paired else f"{statistics.median(paired):.2f}x",
                num(median_of(got, "logger_s")),
                num(median_of(got, "ckpt_s")),
                f"{got[-1]['saved']}" + ver,
                mb(statistics.median(left)) if left else "—",
            ]
        )
    head = [
        "",
        "fit, s",
        "range, s",
        "vs no logger (paired)",
        "in logger, s",
        "of which checkpoint logging + run end, s",
        "checkpoints saved",
        "tracker bytes",
    ]
    return table(head, rows)


REG_FIELDS = (
    ("log0_s", "save + log v0, s"),
    ("log1_s", "save + log v1, s"),
    ("link0_s", "link v0 (new model + alias), s"),
    ("link1_s", "link v1, s"),
    ("move_ms", f"alias move, median of {MOVES}, ms"),
    ("resolve_ms", f"resolve alias, median of {RESOLVES}, ms"),
)


def render_registry(res: dict[str, Any]) -> str:
    rows_by = res["registry"]
    copy_use = median_of([r["use"] for r in rows_by.get("copy") or [] if "use" in r], "use_s")
    rows, notes = [], []
    for job in REG_JOBS:
        got = rows_by.get(job)
        if got is None:
            continue
        if not got:
            errs = [e for e in res.get("errors", []) if e.startswith(f"registry {job}:")]
            reason = errs[0].split("\n")[-1][:140] if errs else "not run"
            rows.append([REG_LABELS[job], reason] + [""] * (len(REG_FIELDS) + 3))
            continue
        cells = [REG_LABELS[job]]
        for key, _ in REG_FIELDS:
            v = median_of(got, key)
            if v is None and job == "wandb" and key.startswith("link"):
                cells.append("not offline")
            elif v is None and job == "wandb":
                cells.append("—")
            else:
                cells.append(num(v))
        uses = [r["use"] for r in got if "use" in r]
        use = median_of(uses, "use_s")
        cells.append(num(use) if uses else ("not offline" if job == "wandb" else "—"))
        cells.append(num(median_of(uses, "load_s")) if uses else "—")
        cells.append(num(median_of(uses, "again_s")) if uses else "—")
        cells.append(f"{use / copy_use:.0f}x" if use and copy_use and job != "copy" else "")
        rows.append(cells)
        if job == "wandb":
            for k in ("link_error", "use_error"):
                if got[-1].get(k):
                    notes.append(f"wandb offline, {got[-1][k].splitlines()[0][:200]}")
    head = [
        "",
        *(h for _, h in REG_FIELDS),
        "use: resolve + download (fresh process, cold cache), s",
        "load, s",
        "use again, same process, s",
        "use vs copy",
    ]
    out = table(head, rows)
    if notes:
        out += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return out


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    loads = [
        r["load1"]
        for case in ("fit", "registry")
        for rows in (res.get(case) or {}).values()
        for r in rows
        if "load1" in r
    ]
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"
    v = res.get("versions", {})
    out = [
        f"{res['stamp']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        + ", ".join(f"{k} {x}" for k, x in v.items())
        + f"; {res['reps']} repetition(s), medians; 1-minute load average {load} at the "
        "start of the measurements\n"
    ]
    if res.get("fit"):
        f = res["fit_config"]
        out.append(
            f"### Lightning fit with checkpoint logging: {f['epochs']} epochs x {f['steps']} "
            f"steps, `ModelCheckpoint(monitor='val_loss', save_top_k={f['save_top_k']})`, "
            f"a {res['fit_model_mb']:.1f} MB MLP\n"
        )
        out.append(render_fit(res) + "\n")
    if res.get("registry"):
        out.append(
            f"### Registry: link, alias moves, resolve and use of a {res['reg_model_mb']:.1f} MB "
            "model\n"
        )
        out.append(render_registry(res) + "\n")
    if res.get("errors"):
        out.append("### Errors\n")
        out += [f"- {e.splitlines()[0]} ... {e.splitlines()[-1][:300]}" for e in res["errors"]]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------


def model_mb(config: dict[str, int]) -> float:
    dims = [config["dim"]] + [config["hidden"]] * config["layers"] + [config["classes"]]
    return sum((a + 1) * b for a, b in itertools.pairwise(dims)) * 4 / 1e6


def versions() -> dict[str, str]:
    from importlib import metadata

    got = {}
    for dist in ("fwtrack", "torch", "lightning", "wandb", "mlflow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            got[dist] = metadata.version(dist)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        got["checkout"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return got


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default="fit,registry")
    ap.add_argument("--loggers", default=",".join(FIT_LOGGERS), help="of the fit case")
    ap.add_argument("--jobs", default=",".join(REG_JOBS), help="of the registry case")
    ap.add_argument("--quick", action="store_true", help="one repetition")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "registry")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--render", type=Path, help="reprint the tables of a results.json")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, spec = args.child
        print(RESULT + json.dumps(CHILDREN[kind](json.loads(spec))), flush=True)
        return 0
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0
    if args.quick:
        args.reps = 1
    cases = [c for c in args.cases.split(",") if c]
    loggers = [k for k in args.loggers.split(",") if k]
    jobs = [j for j in args.jobs.split(",") if j]
    for k in loggers:
        if k not in FIT_LOGGERS:
            ap.error(f"unknown logger {k!r}: use some of {', '.join(FIT_LOGGERS)}")
    for j in jobs:
        if j not in REG_JOBS:
            ap.error(f"unknown job {j!r}: use some of {', '.join(REG_JOBS)}")
    needs = {"wandb": "wandb", "mlflow": "mlflow", "mlflow-autolog": "mlflow"}
    loggers = [k for k in loggers if k not in needs or installed(needs[k])]
    jobs = [j for j in jobs if j.split("-")[0] not in needs or installed(needs[j.split("-")[0]])]

    work = Path(tempfile.mkdtemp(prefix="fwtrack-registry-bench-", dir=args.work))
    results: dict[str, Any] = {
        "reps": args.reps,
        "machine": machine(),
        "versions": versions(),
        "stamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "fit_config": FIT,
        "fit_model_mb": model_mb(FIT_MODEL),
        "reg_model_mb": model_mb(REG_MODEL),
        "errors": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (args.out / "results.json").write_text(json.dumps(results, indent=2))

    def run_rotated(case: str, names: list[str], fn: Callable[[str, int], dict[str, Any]]) -> None:
        got: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        results[case] = got
        for rep in range(args.reps):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                print(f"{case} rep {rep + 1}/{args.reps}: {name} ...", flush=True)
                try:
                    res = fn(name, rep)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    print(f"  failed: {e}", flush=True)
                    results["errors"].append(f"{case} {name}: {e}")
                    continue
                print(f"  {json.dumps(res)}", flush=True)
                got[name].append({**res, "rep": rep})
                save()

    t_start = time.perf_counter()
    servers: list[Any] = []
    try:
        if "fit" in cases:
            run_rotated("fit", loggers, lambda kind, rep: job_fit(work, kind))
        if "registry" in cases:
            addresses: dict[str, dict[str, str]] = {}
            if "fwtrack-server" in jobs:
                fw = Server(REPO, work, "fwtrack-server")
                servers.append(fw)
                addresses["fwtrack-server"] = {"url": fw.url, "key": fw.key}
            if "mlflow-server" in jobs:
                ml = MlflowServer(work / "mlflow-server")
                servers.append(ml)
                addresses["mlflow-server"] = {"url": ml.url}
            run_rotated("registry", jobs, lambda job, rep: job_registry(work, job, rep, addresses))
        results["wall_s"] = time.perf_counter() - t_start
        save()
        text = render(results)
        print(text)
        (args.out / "results.md").write_text(text)
    finally:
        for s in servers:
            with contextlib.suppress(Exception):
                s.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
