"""`fwtrack sweep` and `fwtrack agent` (docs/sweeps.md).

    fwtrack sweep CONFIG.yaml [--project P] [--entity E] [--seed N]
    fwtrack sweep --pause | --resume | --stop | --cancel SWEEP
    fwtrack agent SWEEP [--count N]

SWEEP is the id `fwtrack sweep` printed (on a server: `entity/project/id`, or a bare id). The
controller is the server at `FWTRACK_BASE_URL` (else the default of `fwtrack login`), else the
local store of the run directory (`--dir`, else `FWTRACK_DIR`, else `./fwtrack`).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_commands"]

_ACTIONS = ("pause", "resume", "stop", "cancel")


def add_commands(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add `sweep` and `agent` to the subcommands `sub` of the `fwtrack` parser."""
    sweep = sub.add_parser(
        "sweep",
        parents=list(parents),
        help="create a sweep from a config, or pause/resume/stop/cancel one",
        description=(
            "Create a sweep from a W&B-style sweep config (YAML) and print its id and the "
            "command that starts an agent; or change a sweep's state."
        ),
    )
    sweep.add_argument("target", metavar="CONFIG_OR_SWEEP", help="config file, or sweep id")
    sweep.add_argument("--project", "-p", default=None, help="project (default: the config's)")
    sweep.add_argument("--entity", "-e", default=None, help="entity on a server (default: yours)")
    sweep.add_argument("--seed", type=int, default=None, help="seed of the suggestions")
    actions = sweep.add_mutually_exclusive_group()
    for action in _ACTIONS:
        actions.add_argument(
            f"--{action}",
            dest="action",
            action="store_const",
            const=action,
            help=f"{action} the sweep CONFIG_OR_SWEEP",
        )
    sweep.set_defaults(func=_cmd_sweep, action=None)

    agent = sub.add_parser(
        "agent",
        parents=list(parents),
        help="run trials of a sweep",
        description=(
            "Run trials of a sweep, one at a time, each as a subprocess of the sweep's "
            "command, until the sweep is done (or --count trials have run). Ctrl-C stops the "
            "running trial and exits."
        ),
    )
    agent.add_argument("sweep", metavar="SWEEP", help="sweep id (entity/project/id on a server)")
    agent.add_argument("--count", type=int, default=None, help="run at most N trials")
    agent.set_defaults(func=_cmd_agent)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from fwtrack.sweeps import _create
    from fwtrack.sweeps.client import open_sweeps

    if args.action is not None:
        if args.project or args.entity or args.seed is not None:
            print(
                f"fwtrack: error: --{args.action} takes a sweep id only (no --project, "
                "--entity or --seed)",
                file=sys.stderr,
            )
            return 2
        client = open_sweeps(args.dir)
        sweep = client.control(args.target, args.action)
        print(f"sweep {client.agent_ref(sweep)}: {sweep['state']}")
        return 0
    created = _create(
        args.target, project=args.project, entity=args.entity, seed=args.seed, dir=args.dir
    )
    dir_option = f" --dir {args.dir}" if args.dir else ""
    print(f"created sweep {created['id']} ({created['method']}, project {created['project']})")
    print(f"run an agent: fwtrack{dir_option} agent {created['agent_ref']}")
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    from fwtrack.sweeps.agent import Agent
    from fwtrack.sweeps.client import open_sweeps

    if args.count is not None and args.count < 1:
        print(f"fwtrack: error: --count must be >= 1, got {args.count}", file=sys.stderr)
        return 2
    client = open_sweeps(args.dir)
    agent = Agent(client, args.sweep, count=args.count, dir=args.dir)
    # SIGTERM (a scheduler ending the job) is taken as Ctrl-C is: the running trial is stopped
    # and reported before the agent exits, rather than left running without its agent.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        agent.run()
    except _Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the agent is, to stop it as Ctrl-C does."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated
