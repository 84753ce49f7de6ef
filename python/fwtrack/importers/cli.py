"""`fwtrack import`: runs of W&B, TensorBoard and MLflow as local fwtrack runs.

    fwtrack import wandb DIR [--project P] [--entity E] [--dir D]
    fwtrack import tensorboard LOGDIR [--project P] [--entity E] [--dir D]
    fwtrack import mlflow [--tracking-uri URI] [--experiment NAME] [--project P] [--entity E]

Progress (a line per run, and every 10,000 rows) goes to stderr; the summary line to stdout.
Exit status: 0 when every run was imported (or had been before), 1 when some could not be
(or the source holds no runs), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fwtrack.importers._write import ImportReport

__all__ = ["add_commands"]


def _finish(report: ImportReport) -> int:
    for path, reason in report.failed:
        print(f"fwtrack: error: {path}: {reason}", file=sys.stderr)
    for note in report.notes:
        print(f"fwtrack: note: {note}", file=sys.stderr)
    print(str(report))
    return 1 if report.failed else 0


def _cmd_wandb(args: argparse.Namespace) -> int:
    from fwtrack.importers.wandb import import_wandb

    return _finish(
        import_wandb(
            args.path,
            project=args.project,
            entity=args.entity,
            dir=getattr(args, "dir", None),
            progress=sys.stderr,
        )
    )


def _cmd_tensorboard(args: argparse.Namespace) -> int:
    from fwtrack.importers.tensorboard import import_tensorboard

    return _finish(
        import_tensorboard(
            args.logdir,
            project=args.project,
            entity=args.entity,
            dir=getattr(args, "dir", None),
            progress=sys.stderr,
        )
    )


def _cmd_mlflow(args: argparse.Namespace) -> int:
    from fwtrack.importers.mlflow import import_mlflow

    return _finish(
        import_mlflow(
            tracking_uri=args.tracking_uri,
            experiment=args.experiment,
            project=args.project,
            entity=args.entity,
            dir=getattr(args, "dir", None),
            progress=sys.stderr,
        )
    )


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """Register `fwtrack import wandb|tensorboard|mlflow` on the CLI's subcommands."""
    imp = sub.add_parser(
        "import",
        help="import runs from W&B, TensorBoard or MLflow",
        description=(
            "Import runs recorded by W&B (offline runs), TensorBoard (event files) or MLflow "
            "(a tracking store) as local fwtrack runs, keeping their ids, config, history "
            "(steps and timestamps), summary and artifacts. Importing again adds nothing. "
            "With a server configured, the runs are then uploaded as `fwtrack sync` does."
        ),
    )
    kinds = imp.add_subparsers(title="sources", metavar="SOURCE", required=True)
    common: dict[str, Any] = {"parents": parents}

    def options(p: argparse.ArgumentParser, project_default: str) -> None:
        p.add_argument(
            "--project", "-p", default=None, help=f"fwtrack project (default: {project_default})"
        )
        p.add_argument(
            "--entity", default=None, help="user or team to upload to when a server is set"
        )

    wandb = kinds.add_parser(
        "wandb",
        help="W&B offline runs (wandb/offline-run-*/run-*.wandb)",
        description="Import W&B offline runs: a .wandb file, a run directory, or a folder "
        "holding wandb/.",
        **common,
    )
    wandb.add_argument("path", metavar="DIR")
    options(wandb, "the W&B run's project")
    wandb.set_defaults(func=_cmd_wandb)

    tb = kinds.add_parser(
        "tensorboard",
        help="TensorBoard event files (one run per directory holding them)",
        description="Import TensorBoard event files: each directory under LOGDIR holding "
        "events.out.tfevents.* files is one run.",
        **common,
    )
    tb.add_argument("logdir", metavar="LOGDIR")
    options(tb, "the name of LOGDIR")
    tb.set_defaults(func=_cmd_tensorboard)

    ml = kinds.add_parser(
        "mlflow",
        help="MLflow runs (file store, SQLite or a tracking server)",
        description="Import the runs of an MLflow tracking store.",
        **common,
    )
    ml.add_argument(
        "--tracking-uri",
        default=None,
        help="./mlruns, file:///..., sqlite:///mlflow.db or http://host:5000 "
        "(default: $MLFLOW_TRACKING_URI, else ./mlruns)",
    )
    ml.add_argument(
        "--experiment", default=None, help="experiment name or id (default: every experiment)"
    )
    options(ml, "the experiment's name")
    ml.set_defaults(func=_cmd_mlflow)
