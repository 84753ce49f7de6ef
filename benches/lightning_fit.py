"""Wall time of a small Lightning fit with each logger: fwtrack's `FwTrackLogger` against
`logger=False`, `WandbLogger(offline=True)`, `CSVLogger` and `TensorBoardLogger`.

    python benches/lightning_fit.py                 # 3 repetitions, table to benches/out/
    python benches/lightning_fit.py --reps 5 --steps 2000

Each measurement runs in a fresh process (this file with `--worker`), loggers in an order
rotated between repetitions. A worker imports everything, builds a tiny MLP and synthetic data,
then times `Trainer.fit` (CPU, one torch thread, a metric logged at every step, a validation
pass per epoch, no checkpointing, no progress bar): the fit includes creating the logger's
run and finalizing it, as a user sees it. Besides the fit, each worker records the median
step (batch start to batch start, so it takes in the logger call after each batch) and the
time spent inside the logger's methods (a subclass times each of them). Figures are medians
over the repetitions; overheads are relative to `logger=False`. fwtrack's target: at most 2 %
of the fit. A 2-core machine shared with other work moves whole-fit times by more than that
from one run to the next; the time inside the logger is the direct measure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LOGGERS = ("none", "noop", "fwtrack", "wandb", "csv", "tensorboard")
LABELS = {
    "none": "`logger=False`",
    "noop": "a logger that does nothing",
    "fwtrack": "`FwTrackLogger`",
    "wandb": "`WandbLogger(offline=True)`",
    "csv": "`CSVLogger`",
    "tensorboard": "`TensorBoardLogger`",
}
RESULT_PREFIX = "LIGHTNING_FIT_RESULT "
TARGET_PCT = 2.0
OUT = Path(__file__).resolve().parent / "out" / "lightning_fit.md"
REPO = Path(__file__).resolve().parent.parent

# Keep every tracker off the network and quiet, and torch on one thread (a 2-core machine that
# other processes share swings wildly with more).
WORKER_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "DO_NOT_TRACK": "true",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
}


# ----------------------------------------------------------------------------------------------
# The worker: one fit with one logger


def make_logger(kind: str, workdir: Path, timing: dict[str, float]) -> Any:
    """The logger, built from a subclass that adds the time spent in each of its calls (and
    in `experiment`, where the run is created) to `timing["logger_s"]`."""
    if kind == "none":
        return False
    cls: Any
    kwargs: dict[str, Any]
    if kind == "noop":
        from lightning.pytorch.loggers.logger import DummyExperiment, Logger

        class NoopLogger(Logger):
            """What Lightning itself spends on logging (it turns every logged tensor into a
            number for any logger), without a tracker."""

            name = "noop"
            version = "0"

            @property
            def experiment(self) -> Any:
                return DummyExperiment()

            def log_metrics(self, metrics: Any, step: Any = None) -> None:
                pass

            def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
                pass

        cls, kwargs = NoopLogger, {}
    elif kind == "fwtrack":
        from fwtrack.integrations.lightning import FwTrackLogger

        cls, kwargs = FwTrackLogger, {"project": "bench", "save_dir": workdir / "fwtrack"}
    elif kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        cls, kwargs = WandbLogger, {"project": "bench", "save_dir": str(workdir), "offline": True}
    elif kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        cls, kwargs = CSVLogger, {"save_dir": str(workdir)}
    elif kind == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        cls, kwargs = TensorBoardLogger, {"save_dir": str(workdir)}
    else:
        raise ValueError(f"unknown logger {kind!r}: use one of {', '.join(LOGGERS)}")

    def timed(fn: Any) -> Any:
        key = f"{fn.__name__}_s"
        timing.setdefault(key, 0.0)

        def call(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                spent = time.perf_counter() - t0
                timing["logger_s"] += spent
                timing[key] += spent

        return call

    methods = ("log_metrics", "log_hyperparams", "log_graph", "save", "finalize")
    overrides: dict[str, Any] = {m: timed(getattr(cls, m)) for m in methods}
    overrides["after_save_checkpoint"] = timed(cls.after_save_checkpoint)
    overrides["experiment"] = property(timed(cls.experiment.fget))
    timed_cls = type(f"Timed{cls.__name__}", (cls,), overrides)
    return timed_cls(**kwargs)


def worker(kind: str, steps: int, epochs: int, workdir: Path) -> dict[str, Any]:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    import torch
    from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    seed_everything(0, verbose=False)

    class Classifier(LightningModule):
        def __init__(self, dim: int = 32, hidden: int = 64, lr: float = 0.05) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train/loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            logits = self.net(x)
            self.log("eval/loss", F.cross_entropy(logits, y))
            self.log("eval/accuracy", (logits.argmax(-1) == y).float().mean())

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    class StepTimer(Callback):
        """Training-loop time, and each step's time: from one batch start to the next, which
        takes in the logger call Lightning makes after the batch."""

        def __init__(self) -> None:
            self.start = self.end = 0.0
            self.marks: list[float] = []

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.start = time.perf_counter()

        def on_train_batch_start(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            self.marks.append(time.perf_counter())

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self.end = time.perf_counter()

    batch = 16
    per_epoch = steps // epochs
    x = torch.randn(per_epoch * batch, 32)
    y = (x[:, 0] > 0).long()
    train = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    val = DataLoader(TensorDataset(x[: 10 * batch], y[: 10 * batch]), batch_size=batch)
    model = Classifier()
    timer = StepTimer()
    timing = {"logger_s": 0.0}
    # The tracker's import is not part of the fit (wandb and TensorBoard's writer would
    # otherwise be imported inside it, on first use).
    preload = {
        "fwtrack": "fwtrack.integrations.lightning",
        "wandb": "wandb",
        "tensorboard": "torch.utils.tensorboard",
    }
    if kind in preload:
        importlib.import_module(preload[kind])

    t0 = time.perf_counter()
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=make_logger(kind, workdir, timing),
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(model, train, val)
    if kind == "wandb":
        import wandb

        # WandbLogger leaves its run open: its end belongs to the fit.
        t1 = time.perf_counter()
        wandb.finish()
        timing["logger_s"] += time.perf_counter() - t1
    fit_s = time.perf_counter() - t0
    gaps = [b - a for a, b in zip(timer.marks, timer.marks[1:], strict=False)]
    return {
        "status": "ok",
        "fit_s": fit_s,
        "loop_s": timer.end - timer.start,
        "step_ms": 1000 * statistics.median(gaps),
        "steps": trainer.global_step,
        **timing,
    }


# ----------------------------------------------------------------------------------------------
# The driver


def run_one(kind: str, steps: int, epochs: int, workroot: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=workroot)).resolve()
    env = {**os.environ, **WORKER_ENV}
    env["FWTRACK_DIR"] = str(workdir / "fwtrack")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    cmd = [sys.executable, __file__, "--worker", kind, "--steps", str(steps)]
    cmd += ["--epochs", str(epochs), "--workdir", str(workdir)]
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run(
            cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        if lines:
            res: dict[str, Any] = json.loads(lines[-1][len(RESULT_PREFIX) :])
        else:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            res = {"status": "error", "error": f"exit {proc.returncode}: {last}"}
    except subprocess.TimeoutExpired:
        res = {"status": "error", "error": "timed out"}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    res.update(logger=kind, load1=load)
    return res


def installed(kind: str) -> bool:
    import importlib.util

    module = {"wandb": "wandb", "tensorboard": "tensorboard"}.get(kind)
    return module is None or importlib.util.find_spec(module) is not None


def render(results: list[dict[str, Any]], reps: int, steps: int, epochs: int) -> str:
    def values(kind: str, field: str) -> list[float]:
        return [r[field] for r in results if r["logger"] == kind and r["status"] == "ok"]

    def median(kind: str, field: str) -> float | None:
        got = values(kind, field)
        return statistics.median(got) if got else None

    def overhead(kind: str, field: str, baseline: str = "none") -> float | None:
        value, base = median(kind, field), median(baseline, field)
        return None if value is None or base is None else 100 * (value / base - 1)

    loads = [r["load1"] for r in results if "load1" in r]
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"
    lines = [
        f"### Lightning fit: {steps} steps ({epochs} epochs), a metric logged every step",
        "",
        f"Median of {reps} repetitions, each in a fresh process, loggers in rotating order; CPU, "
        f"one torch thread; load average {load} on {os.cpu_count()} cores during the run. "
        "Overheads are against `logger=False`. *Step*: the median time from one batch start to "
        "the next (it takes in the logger call after each batch; transient load moves it less "
        "than the whole fit). *In logger*: the time the training thread spent inside the "
        "logger's methods (run creation, `log_metrics`, `log_hyperparams`, `save`, `finalize`; "
        "for wandb also `wandb.finish()`), as a share of the fit.",
        "",
        "| logger | fit (s) | range (s) | fit overhead | step (ms) | step overhead "
        "| in logger (s) | in logger, % of fit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in LOGGERS:
        fits = values(kind, "fit_s")
        if not fits:
            errors = [r.get("error", "") for r in results if r["logger"] == kind]
            lines.append(f"| {LABELS[kind]} | {(errors or ['not run'])[0]} | | | | | | |")
            continue
        fit, step = statistics.median(fits), median(kind, "step_ms") or 0.0
        in_logger = median(kind, "logger_s") or 0.0
        share = statistics.median(
            r["logger_s"] / r["fit_s"] * 100
            for r in results
            if r["logger"] == kind and r["status"] == "ok"
        )
        fit_ovh, step_ovh = overhead(kind, "fit_s"), overhead(kind, "step_ms")
        cells = [
            LABELS[kind],
            f"{fit:.3f}",
            f"{min(fits):.2f}-{max(fits):.2f}",
            "-" if kind == "none" or fit_ovh is None else f"{fit_ovh:+.1f} %",
            f"{step:.3f}",
            "-" if kind == "none" or step_ovh is None else f"{step_ovh:+.1f} %",
            "-" if kind == "none" else f"{in_logger:.3f}",
            "-" if kind == "none" else f"{share:.2f} %",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    fw_share = [
        r["logger_s"] / r["fit_s"] * 100
        for r in results
        if r["logger"] == "fwtrack" and r["status"] == "ok"
    ]
    if fw_share:
        share = statistics.median(fw_share)
        verdict = "met" if share <= TARGET_PCT else "NOT met"
        lines += [
            "",
            f"fwtrack: {share:.2f} % of the fit is spent in its logger calls "
            f"(target <= {TARGET_PCT:g} %: {verdict}).",
        ]

        def pct(value: float | None) -> str:
            return "?" if value is None else f"{value:+.1f} %"

        lines.append(
            f"Whole fit and median step against `logger=False`: {pct(overhead('fwtrack', 'fit_s'))}"
            f" and {pct(overhead('fwtrack', 'step_ms'))}; against a logger that does nothing "
            "(Lightning's own cost of having a logger: it turns every logged tensor into a "
            f"number first): {pct(overhead('fwtrack', 'fit_s', 'noop'))} and "
            f"{pct(overhead('fwtrack', 'step_ms', 'noop'))}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--loggers", default=",".join(LOGGERS))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", choices=LOGGERS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        res = worker(args.worker, args.steps, args.epochs, args.workdir)
        print(RESULT_PREFIX + json.dumps(res), flush=True)
        return

    kinds = [k for k in args.loggers.split(",") if k]
    for kind in kinds:
        if kind not in LOGGERS:
            parser.error(f"unknown logger {kind!r}: use some of {', '.join(LOGGERS)}")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lightning-fit-") as root:
        for rep in range(args.reps):
            order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]
            for kind in order:
                if not installed(kind):
                    results.append(
                        {"logger": kind, "status": "error", "error": "not installed", "load1": 0.0}
                    )
                    continue
                res = run_one(kind, args.steps, args.epochs, Path(root))
                results.append(res)
                detail = (
                    f"fit {res['fit_s']:.3f} s, step {res['step_ms']:.3f} ms, "
                    f"in logger {res['logger_s']:.3f} s"
                    if res["status"] == "ok"
                    else res.get("error", "")
                )
                print(f"rep {rep + 1}/{args.reps} {kind:<12} {detail}", file=sys.stderr)
    table = render(results, args.reps, args.steps, args.epochs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
