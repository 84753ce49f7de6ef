"""Sweeps: how fast the controller suggests, and how good its suggestions are.

    python benches/sweeps_bench.py --out benches/out/sweeps      # `make bench`: about 5 minutes
    python benches/sweeps_bench.py --full    # seeding through the controller, 200 calls, the
                                             # 2^20 grid, wandb in quality, 10 torch seeds
    python benches/sweeps_bench.py --cases latency --reps 1       # one part, one repetition

**latency**: a sweep with 20 parameters (8 uniform, 4 log-uniform, 4 int-uniform, 4
categorical; for grid 11 of 2 values and 9 of one, 2,048 points) and 1,000 finished trials,
seeded once: written as rows by default (random samples, the grid's first points, each with
a synthetic value), or with `--full` / `--seed-with controller` by driving the controller
itself (`next_trial` + `finish_trial`; minutes). Then, per repetition, every target in a
fresh interpreter, in an order rotated between repetitions, asks for `--calls` suggestions;
each is finished (untimed) before the next, so the history stays at 1,000-1,000+calls
finished trials. Targets:

- **fwtrack local**: `Controller.next_trial` of the local store (`fwtrack.sweeps.local.open_local`,
  SQLite), a copy of the seeded store per repetition;
- **fwtrack server**: `POST .../agents/{id}/next` of a `fwtrack server` (SQLite) on 127.0.0.1,
  a kept-alive connection, a copy of the seeded data directory per repetition;
- **Optuna**: `study.ask(distributions)` + `study.tell` on an in-memory study holding the same
  1,000 trials (read back from the seeded store) with `TPESampler(multivariate=True,
  constant_liar=True)` for bayes and `RandomSampler` for random: the floor under the controller;
- **wandb's engine**: `sweeps.next_run(config, runs)` of the `sweeps` package (what
  `wandb.controller()` calls each step in its "local" mode; the controller itself needs W&B's
  server, see RESULTS.md), installed into `benches/out/tools/wandb-sweeps` when missing.

The first call of a process is reported apart ("first"); p50/p99 are over the other calls;
cells are medians over repetitions. `--big-grid` (on with `--full`) also times the first three
`next_trial` calls of a fresh grid of 2^20 points (20 parameters of 2 values).

**quality**: the best value after `--trials` trials (50) on Branin, Hartmann-6 and a real torch
training loop (a small MLP on a fixed synthetic regression set; lr log-uniform, hidden size,
weight decay, dropout; validation MSE), for `--seeds` seeds: fwtrack bayes and fwtrack random
through the controller of a local store (one agent, sequential trials), Optuna TPE run directly
(`TPESampler(multivariate=True, seed=seed)`, ask/tell), the same with a sampler per trial
seeded from (seed, trial number) as the controller seeds it (a control) and, with `--full`,
wandb's bayes engine. Mean and standard deviation over seeds; the torch loop gets
`--torch-seeds` seeds (2; `--full` 10).

Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
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

from run import num, table  # noqa: E402
from server_bench import Http, ServerProc, free_port, machine, new_key  # noqa: E402

RESULT = "RESULT "
ENTITY_LOCAL = "bench"
PROJECT = "bench-sweeps"
TOOLS = REPO / "benches" / "out" / "tools" / "wandb-sweeps"
# What `sweeps` 0.2.0 needs that the bench environment lacks (the rest comes from .venv).
WANDB_SWEEPS_PKGS = (
    "sweeps==0.2.0",
    "jsonref",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "attrs",
)
HEARTBEAT_S = 3600.0  # no agent is reaped while the bench runs
TIMEOUT_S = 900.0
METHODS = ("bayes", "random", "grid")
TARGETS = ("fwtrack-local", "fwtrack-server", "optuna", "wandb")
TARGET_LABELS = {
    "fwtrack-local": "fwtrack `Controller.next_trial`, local store (SQLite)",
    "fwtrack-server": "fwtrack `fwtrack server` (SQLite), HTTP `.../next`",
    "optuna": "Optuna `study.ask()` on the same history (the floor)",
    "wandb": "wandb's engine `sweeps.next_run` (sweeps 0.2.0)",
}
OBJECTIVES = ("branin", "hartmann6", "torch-mlp")
QMETHODS = ("fwtrack-bayes", "fwtrack-random", "optuna-tpe", "optuna-tpe-reseeded", "wandb-bayes")
QLABELS = {
    "fwtrack-bayes": "fwtrack bayes (controller)",
    "fwtrack-random": "fwtrack random (controller)",
    "optuna-tpe": "Optuna TPE direct",
    "optuna-tpe-reseeded": "Optuna TPE direct, a sampler per trial seeded as the controller does",
    "wandb-bayes": "wandb bayes engine",
}
CHILD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    "FWTRACK_SWEEP_HEARTBEAT": str(HEARTBEAT_S),
}


# ----------------------------------------------------------------------------------------------
# The latency sweep: 20 parameters, a synthetic metric


def latency_config(method: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if method == "grid-2^20":
        params = {f"p{i:02d}": {"values": [i + 1, 2 * (i + 1)]} for i in range(20)}
        method = "grid"
    elif method == "grid":
        # 20 parameters: p01-p11 of 2 values, p00 (0 twice: one value) and p12-p19 of one value:
        # 2,048 points, enough for 1,000 trials plus the timed calls. `--big-grid` probes a
        # grid of 2^20 points apart.
        for i in range(20):
            params[f"p{i:02d}"] = {"values": [i, 2 * i] if i < 12 else [0.5 * i]}
    else:
        for i in range(8):
            params[f"p{i:02d}"] = {"distribution": "uniform", "min": 0.0, "max": 1.0}
        for i in range(8, 12):
            params[f"p{i:02d}"] = {"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1}
        for i in range(12, 16):
            params[f"p{i:02d}"] = {"distribution": "int_uniform", "min": 1, "max": 256}
        for i in range(16, 20):
            params[f"p{i:02d}"] = {"values": ["a", "b", "c", "d"]}
    return {
        "method": method,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": params,
        "program": "train.py",
    }


def synthetic_value(params: dict[str, Any]) -> float:
    """A deterministic metric of the latency sweep's parameters."""
    total = 0.0
    for key, v in sorted(params.items()):
        if isinstance(v, str):
            total += 0.1 * "abcd".index(v)
        elif isinstance(v, int):
            total += ((v - 100) / 100) ** 2
        elif key < "p08" or key >= "p12":
            total += (float(v) - 0.37) ** 2
        else:
            total += (math.log10(float(v)) + 3) ** 2 / 10
    return total


def optuna_distributions(config: dict[str, Any]) -> dict[str, Any]:
    """The Optuna distributions of a flat W&B parameter block (the forms this bench uses)."""
    import optuna.distributions as od

    out: dict[str, Any] = {}
    for name, p in config["parameters"].items():
        dist = p.get("distribution")
        if "values" in p:
            out[name] = od.CategoricalDistribution(p["values"])
        elif dist == "log_uniform_values":
            out[name] = od.FloatDistribution(p["min"], p["max"], log=True)
        elif dist == "int_uniform" or (dist is None and isinstance(p["min"], int)):
            out[name] = od.IntDistribution(p["min"], p["max"])
        else:
            out[name] = od.FloatDistribution(p["min"], p["max"])
    return out


def tpe_sampler(seed: int | None) -> Any:
    import optuna

    return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)


# ----------------------------------------------------------------------------------------------
# Children: each latency measurement in a fresh interpreter


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _percentiles(times: list[float]) -> dict[str, Any]:
    warm = sorted(times[1:]) or sorted(times)
    q = statistics.quantiles(warm, n=100, method="inclusive") if len(warm) > 1 else warm * 99
    return {
        "first_ms": times[0] * 1e3,
        "p50_ms": statistics.median(warm) * 1e3,
        "p99_ms": q[98] * 1e3,
        "max_ms": warm[-1] * 1e3,
        "calls": len(times),
    }


def child_local(spec: dict[str, Any]) -> dict[str, Any]:
    from fwtrack.sweeps.local import open_local

    ctl = open_local(spec["root"])
    sweep_id = spec["sweep_id"]
    agent = ctl.register_agent(sweep_id, "bench", os.getpid())["agent_id"]
    times: list[float] = []
    for _ in range(spec["calls"]):
        t0 = time.perf_counter()
        got = ctl.next_trial(sweep_id, agent)
        times.append(time.perf_counter() - t0)
        if "trial" not in got:
            raise RuntimeError(f"next_trial answered {got}")
        trial = got["trial"]
        value = synthetic_value(trial["params"])
        ctl.finish_trial(sweep_id, agent, trial["id"], "finished", value, [value], 0)
    return _percentiles(times)


def child_server(spec: dict[str, Any]) -> dict[str, Any]:
    http = Http(spec["port"], spec["key"])
    base = f"/api/v1/sweeps/{spec['entity']}/{PROJECT}/{spec['sweep_id']}"
    agent = http.json("POST", f"{base}/agents", {"host": "bench", "pid": os.getpid()})["agent_id"]
    times: list[float] = []
    for _ in range(spec["calls"]):
        t0 = time.perf_counter()
        got = http.json("POST", f"{base}/agents/{agent}/next", {})
        times.append(time.perf_counter() - t0)
        if "trial" not in got:
            raise RuntimeError(f"next answered {got}")
        trial = got["trial"]
        value = synthetic_value(trial["params"])
        body = {"agent_id": agent, "state": "finished", "value": value, "history": [value]}
        http.json("POST", f"{base}/trials/{trial['id']}/finish", {**body, "offset": 0})
    http.close()
    return _percentiles(times)


def child_optuna(spec: dict[str, Any]) -> dict[str, Any]:
    import optuna

    _quiet_optuna()
    config = latency_config(spec["method"])
    dists = optuna_distributions(config)
    sampler = tpe_sampler(0) if spec["method"] == "bayes" else optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    history = json.loads(Path(spec["history"]).read_text())
    study.add_trials(
        [
            optuna.trial.create_trial(params=h["params"], distributions=dists, value=h["value"])
            for h in history
        ]
    )
    times: list[float] = []
    for _ in range(spec["calls"]):
        t0 = time.perf_counter()
        trial = study.ask(dists)
        times.append(time.perf_counter() - t0)
        study.tell(trial, synthetic_value(trial.params))
    return _percentiles(times)


def _import_wandb_sweeps() -> Any:
    sys.path.append(str(TOOLS))  # after .venv: numpy, scipy, sklearn, pydantic come from there
    import sweeps

    return sweeps


def _wandb_run(sweeps: Any, name: str, params: dict[str, Any], value: float) -> Any:
    return sweeps.SweepRun(
        name=name,
        state=sweeps.RunState.finished,
        config={k: {"value": v} for k, v in params.items()},
        summary_metrics={"loss": value},
        history=[{"loss": value}],
    )


def child_wandb(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    sweeps = _import_wandb_sweeps()
    config = latency_config(spec["method"])
    history = json.loads(Path(spec["history"]).read_text())
    runs = [_wandb_run(sweeps, f"r{i}", h["params"], h["value"]) for i, h in enumerate(history)]
    times: list[float] = []
    for i in range(spec["calls"]):
        t0 = time.perf_counter()
        run = sweeps.next_run(config, runs)
        times.append(time.perf_counter() - t0)
        if run is None:
            raise RuntimeError("sweeps.next_run answered None")
        params = {k: _plain(v["value"]) for k, v in run.config.items()}
        runs.append(_wandb_run(sweeps, f"n{i}", params, synthetic_value(params)))
    return _percentiles(times)


def _plain(v: Any) -> Any:
    """numpy scalars as Python numbers."""
    return v.item() if hasattr(v, "item") else v


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fwtrack-local": child_local,
    "fwtrack-server": child_server,
    "optuna": child_optuna,
    "wandb": child_wandb,
}


def child(kind: str, spec: dict[str, Any], timeout: float = TIMEOUT_S) -> dict[str, Any]:
    env = {**os.environ, **CHILD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            out: dict[str, Any] = json.loads(line[len(RESULT) :])
            return out
    raise RuntimeError(f"{kind} exited {proc.returncode}:\n{proc.stderr[-3000:]}")


def load1() -> float:
    return os.getloadavg()[0]


# ----------------------------------------------------------------------------------------------
# Seeding: 1,000 finished trials, through the controller itself or as rows


def seed_sweep(ctl: Any, entity: str, config: dict[str, Any], trials: int) -> dict[str, Any]:
    """A new sweep of `config` driven to `trials` finished trials; its id and the time taken."""
    from fwtrack.sweeps.config import load_config

    sweep = ctl.create(entity, PROJECT, load_config(config), seed=0)
    return drive(ctl, sweep["id"], trials)


def seed_rows(ctl: Any, entity: str, config: dict[str, Any], trials: int) -> dict[str, Any]:
    """A new sweep of `config` with `trials` finished trials written straight into its table
    (random samples, or the grid's first points, each with the synthetic value): seconds
    instead of minutes, for the default run. `--seed-with controller` drives the controller."""
    import numpy as np

    from fwtrack.server.db import Sweep, SweepTrial
    from fwtrack.sweeps.config import load_config
    from fwtrack.sweeps.params import canonical_key, iter_grid, sample

    cfg = load_config(config)
    sweep_id = ctl.create(entity, PROJECT, cfg, seed=0)["id"]
    t0 = time.perf_counter()
    if cfg.method == "grid":
        grid = itertools.islice(iter_grid(cfg), trials)
        points = [(p, canonical_key(p)) for p in grid]
    else:
        points = [(sample(cfg, np.random.default_rng((0, n))), None) for n in range(trials)]
    now = time.time()
    with ctl.db.write() as s:
        for n, (params, key) in enumerate(points):
            value = synthetic_value(params)
            s.add(
                SweepTrial(
                    sweep_id=sweep_id,
                    number=n,
                    attempt=0,
                    run_id=np.base_repr(n, 36).lower().rjust(8, "0"),
                    past_run_ids=[],
                    params=params,
                    grid_key=key,
                    state="finished",
                    value=value,
                    history=[value],
                    created_at=now,
                    started_at=now,
                    ended_at=now,
                )
            )
        s.get(Sweep, sweep_id).next_number = trials
    return {"sweep_id": sweep_id, "seed_s": time.perf_counter() - t0}


def drive(ctl: Any, sweep_id: str, trials: int) -> dict[str, Any]:
    agent = ctl.register_agent(sweep_id, "bench-seed", os.getpid())["agent_id"]
    t0 = time.perf_counter()
    for _ in range(trials):
        got = ctl.next_trial(sweep_id, agent)
        if "trial" not in got:
            raise RuntimeError(f"seeding: next_trial answered {got}")
        trial = got["trial"]
        value = synthetic_value(trial["params"])
        ctl.finish_trial(sweep_id, agent, trial["id"], "finished", value, [value], 0)
    return {"sweep_id": sweep_id, "seed_s": time.perf_counter() - t0}


def history_of(ctl: Any, sweep_id: str) -> list[dict[str, Any]]:
    return [
        {"params": t["params"], "value": t["value"]}
        for t in ctl.trials(sweep_id)
        if t["state"] == "finished"
    ]


def copy_sweeps(local_root: Path, server_db: Path, sweep_ids: list[str], entity: str) -> None:
    """Copy the rows of `sweep_ids` (sweep, agents, trials) from the local store under
    `local_root` into the server database `server_db`, under `entity`."""
    import sqlalchemy as sa

    from fwtrack.server.db import Sweep, SweepAgent, SweepTrial
    from fwtrack.sweeps.local import local_database

    src = sa.create_engine(f"sqlite:///{local_database(local_root)}")
    dst = sa.create_engine(f"sqlite:///{server_db}")
    with src.connect() as a, dst.begin() as b:
        for table in (Sweep.__table__, SweepAgent.__table__, SweepTrial.__table__):
            col = table.c.id if table is Sweep.__table__ else table.c.sweep_id
            rows = [
                dict(r) for r in a.execute(sa.select(table).where(col.in_(sweep_ids))).mappings()
            ]
            if table is Sweep.__table__:
                for r in rows:
                    r["entity"] = entity
            if rows:
                b.execute(sa.insert(table), rows)
    src.dispose()
    dst.dispose()


def child_big_grid(spec: dict[str, Any]) -> dict[str, Any]:
    """The first calls of `next_trial` on a fresh sweep of a 2^20-point grid (20 parameters of
    2 values each)."""
    from fwtrack.sweeps.config import load_config
    from fwtrack.sweeps.local import open_local

    ctl = open_local(spec["root"])
    sweep_id = ctl.create(ENTITY_LOCAL, PROJECT, load_config(latency_config("grid-2^20")))["id"]
    agent = ctl.register_agent(sweep_id, "bench", os.getpid())["agent_id"]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        got = ctl.next_trial(sweep_id, agent)
        times.append(time.perf_counter() - t0)
        trial = got["trial"]
        ctl.finish_trial(sweep_id, agent, trial["id"], "finished", 1.0, [1.0], 0)
    return {"calls_ms": [t * 1e3 for t in times]}


CHILDREN["big-grid"] = child_big_grid


class SweepServer:
    """`fwtrack server` (SQLite) on a data directory, started with a known admin key."""

    def __init__(self, data: Path, key: str, log: Path) -> None:
        self.port = free_port()
        self.key = key
        self.data = data
        cmd = [sys.executable, "-m", "fwtrack", "server", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data", str(data)]
        cmd += ["--sweep-heartbeat", str(HEARTBEAT_S)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
        env.update(CHILD_ENV, FWTRACK_SERVER_ADMIN_KEY=key)
        env["PYTHONPATH"] = str(REPO / "python")
        self.proc = ServerProc("fwtrack server", cmd, env, log)
        self.proc.wait_http(self.port, "/api/v1/health", timeout=180)
        self.http = Http(self.port, key)
        self.entity: str = self.http.json("GET", "/api/v1/viewer")["name"]

    def stop(self) -> None:
        self.http.close()
        self.proc.stop()


def ensure_wandb_sweeps() -> str | None:
    """Install wandb's `sweeps` engine into benches/out/tools when missing; None when usable,
    else why not."""
    probe = [sys.executable, "-c", f"import sys; sys.path.append({str(TOOLS)!r}); import sweeps"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return None
    print(f"installing wandb's sweeps engine into {TOOLS} ...", flush=True)
    uv = Path(sys.executable).with_name("uv")  # the venv `make venv` builds has uv, maybe no pip
    has_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if has_pip.returncode == 0 or not uv.exists():
        cmd = [sys.executable, "-m", "pip", "install", "--quiet"]
    else:
        cmd = [str(uv), "pip", "install", "--quiet", "--python", sys.executable]
    cmd += ["--no-deps", "--target", str(TOOLS), *WANDB_SWEEPS_PKGS]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"pip install sweeps failed: {proc.stderr.strip().splitlines()[-1:]}"
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return "import sweeps failed after installing it"
    return None


def wandb_controller_offline() -> list[str]:
    """What `wandb.controller(config)` (local mode) does without W&B's server, as seen here:
    with `WANDB_MODE=offline` and no key, then with a key and the base URL a closed port on
    127.0.0.1 (no traffic leaves the machine)."""
    code = (
        f"import sys; sys.path.append({str(TOOLS)!r})\n"
        "import wandb\n"
        "try:\n"
        "    c = wandb.controller({'method': 'bayes', 'metric': {'name': 'loss'},"
        " 'parameters': {'x': {'min': 0.0, 'max': 1.0}}, 'controller': {'type': 'local'}},"
        " entity='bench', project='bench')\n"
        "    print('OK', c.sweep_id)\n"
        "except BaseException as e:\n"
        "    print('ERR', type(e).__name__ + ':', ' '.join(str(e).split())[:300])\n"
    )
    out = []
    variants = (
        ("WANDB_MODE=offline, no API key", {}),
        (
            "an API key, WANDB_BASE_URL=http://127.0.0.1:<closed port>",
            {"WANDB_API_KEY": "0" * 40, "WANDB_BASE_URL": f"http://127.0.0.1:{free_port()}"},
        ),
    )
    for label, extra in variants:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
        env.update(WANDB_MODE="offline", WANDB_SILENT="true", HOME=tempfile.mkdtemp(), **extra)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
            )
        except subprocess.TimeoutExpired:
            out.append(f"{label}: no answer in 120 s")
            continue
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("OK", "ERR"))]
        got = lines[-1] if lines else (proc.stderr.strip().splitlines() or ["no output"])[-1]
        out.append(f"{label}: {got}")
    return out


def run_latency(args: argparse.Namespace, work: Path, results: dict[str, Any], save: Any) -> None:
    from fwtrack.sweeps.local import open_local

    methods = [m for m in args.methods.split(",") if m]
    targets = [t for t in args.targets.split(",") if t]
    lat: dict[str, Any] = {"seed": {}, "rows": {}, "notes": {}}
    results["latency"] = lat
    if "wandb" in targets:
        why = ensure_wandb_sweeps()
        if why:
            lat["notes"]["wandb"] = why
            targets.remove("wandb")
        lat["notes"]["wandb_controller"] = wandb_controller_offline()

    # The local template: one store holding one seeded sweep per method.
    os.environ["FWTRACK_SWEEP_HEARTBEAT"] = str(HEARTBEAT_S)
    local_tpl = work / "local-template"
    ctl = open_local(local_tpl)
    local_ids: dict[str, str] = {}
    for m in methods:
        print(f"seeding local {m}: {args.history} trials ...", flush=True)
        seeder = seed_sweep if args.seed_with == "controller" else seed_rows
        got = seeder(ctl, ENTITY_LOCAL, latency_config(m), args.history)
        local_ids[m] = got["sweep_id"]
        lat["seed"][f"local-{m}"] = got["seed_s"]
        hist = history_of(ctl, got["sweep_id"])
        (work / f"history-{m}.json").write_text(json.dumps(hist))
        print(f"  {got['seed_s']:.1f} s", flush=True)
        save()
    del ctl

    # The server template: the project made by a first sweep through the API, then the seeded
    # sweeps' rows (sweep, agents, trials) copied from the local store into the server's
    # database with the server's entity, so that every target holds the same history.
    key = new_key()
    server_ids = dict(local_ids)
    entity = ""
    if "fwtrack-server" in targets:
        srv_tpl = work / "server-template"
        srv = SweepServer(srv_tpl, key, work / "server-template.log")
        entity = srv.entity
        try:
            srv.http.json(
                "POST",
                f"/api/v1/sweeps/{entity}/{PROJECT}",
                {"config": latency_config("random"), "seed": 0},
            )
        finally:
            srv.stop()
        copy_sweeps(local_tpl, srv_tpl / "fwtrack.db", list(local_ids.values()), entity)

    big: dict[str, Any] = {}
    if args.big_grid and "fwtrack-local" in targets:
        print("a 2^20 grid: the first next_trial calls ...", flush=True)
        try:
            big = child("big-grid", {"root": str(work / "big-grid")}, timeout=args.child_timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            big = {"error": str(e).strip().splitlines()[-1][:300] if str(e).strip() else repr(e)}
        print(f"  {json.dumps(big)}", flush=True)
        lat["big_grid"] = big
        save()

    jobs = [(t, m) for m in methods for t in targets if not (t == "optuna" and m == "grid")]
    for t, m in jobs:
        lat["rows"].setdefault(f"{t}/{m}", [])
    for rep in range(args.reps):
        server: SweepServer | None = None
        if "fwtrack-server" in targets:
            data = work / f"server-{rep}"
            shutil.copytree(work / "server-template", data)
            server = SweepServer(data, key, work / f"server-{rep}.log")
        local = work / f"local-{rep}"
        shutil.copytree(local_tpl, local)
        try:
            k = rep % len(jobs)
            for t, m in jobs[k:] + jobs[:k]:
                calls = args.calls if t != "wandb" else args.wandb_calls
                spec: dict[str, Any] = {"method": m, "calls": calls}
                if t == "fwtrack-local":
                    spec.update(root=str(local), sweep_id=local_ids[m])
                elif t == "fwtrack-server":
                    assert server is not None
                    spec.update(port=server.port, key=key, entity=entity, sweep_id=server_ids[m])
                else:
                    spec.update(history=str(work / f"history-{m}.json"))
                print(f"latency rep {rep + 1}/{args.reps}: {t} {m} ...", flush=True)
                l1 = load1()
                try:
                    res = child(t, spec, timeout=args.child_timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    msg = str(e).strip().splitlines()[-1][:300] if str(e).strip() else repr(e)
                    print(f"  failed: {msg}", flush=True)
                    results["errors"].append(f"latency {t} {m}: {msg}")
                    continue
                res.update(rep=rep, load1=l1)
                print(f"  {json.dumps(res)}", flush=True)
                lat["rows"][f"{t}/{m}"].append(res)
                save()
        finally:
            if server is not None:
                server.stop()
                shutil.rmtree(server.data, ignore_errors=True)
            shutil.rmtree(local, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Search quality: objectives


def branin(p: dict[str, Any]) -> float:
    x1, x2 = float(p["x1"]), float(p["x2"])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


H6_A = (
    (10, 3, 17, 3.5, 1.7, 8),
    (0.05, 10, 17, 0.1, 8, 14),
    (3, 3.5, 1.7, 10, 17, 8),
    (17, 8, 0.05, 10, 0.1, 14),
)
H6_P = (
    (0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886),
    (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
    (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650),
    (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381),
)
H6_ALPHA = (1.0, 1.2, 3.0, 3.2)


def hartmann6(p: dict[str, Any]) -> float:
    x = [float(p[f"x{i}"]) for i in range(1, 7)]
    total = 0.0
    for a, row, prow in zip(H6_ALPHA, H6_A, H6_P, strict=True):
        total -= a * math.exp(
            -sum(r * (xi - q) ** 2 for r, xi, q in zip(row, x, prow, strict=True))
        )
    return total


class TorchMLP:
    """Validation MSE of a small MLP trained for a few epochs on a fixed synthetic regression
    set (a random teacher network plus noise), one CPU thread, seeded per trial."""

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(1)
        g = torch.Generator().manual_seed(1234)
        n, d = 1024, 16
        x = torch.randn(n, d, generator=g)
        w1 = torch.randn(d, 32, generator=g) / d**0.5
        w2 = torch.randn(32, 1, generator=g) / 32**0.5
        y = (
            torch.tanh(x @ w1) @ w2
            + 0.1 * torch.sin(3 * x[:, :1])
            + 0.05 * torch.randn(n, 1, generator=g)
        )
        self.train = (x[:768], y[:768])
        self.val = (x[768:], y[768:])
        self.epochs = 6
        self.batch = 64
        self({"lr": 1e-3, "hidden": 8, "weight_decay": 0.0, "dropout": 0.0})  # warm-up, untimed

    def __call__(self, p: dict[str, Any]) -> float:
        import torch
        from torch import nn

        torch.manual_seed(0)
        hidden, dropout = int(p["hidden"]), float(p["dropout"])
        model = nn.Sequential(
            nn.Linear(16, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )
        opt = torch.optim.AdamW(
            model.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"])
        )
        x, y = self.train
        g = torch.Generator().manual_seed(0)
        for _ in range(self.epochs):
            model.train()
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), self.batch):
                idx = perm[i : i + self.batch]
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            val = float(nn.functional.mse_loss(model(self.val[0]), self.val[1]))
        return val if math.isfinite(val) else 1e3


def objective_space(name: str) -> dict[str, Any]:
    if name == "branin":
        return {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}
    if name == "hartmann6":
        return {f"x{i}": {"min": 0.0, "max": 1.0} for i in range(1, 7)}
    return {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.3},
        "hidden": {"distribution": "int_uniform", "min": 8, "max": 128},
        "weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 0.1},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    }


OPTIMA = {"branin": 0.397887, "hartmann6": -3.32237}


def quality_config(name: str, method: str, trials: int) -> dict[str, Any]:
    return {
        "method": method,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": objective_space(name),
        "run_cap": trials,
        "program": "train.py",
    }


def q_fwtrack(
    ctl: Any, fn: Callable[[dict[str, Any]], float], cfg: dict[str, Any], seed: int, trials: int
) -> list[float]:
    from fwtrack.sweeps.config import load_config

    sweep_id = ctl.create(ENTITY_LOCAL, PROJECT, load_config(cfg), seed=seed)["id"]
    agent = ctl.register_agent(sweep_id, "bench", os.getpid())["agent_id"]
    values: list[float] = []
    while len(values) < trials:
        got = ctl.next_trial(sweep_id, agent)
        if "trial" not in got:
            raise RuntimeError(f"next_trial answered {got} after {len(values)} trials")
        trial = got["trial"]
        v = fn(trial["params"])
        values.append(v)
        ctl.finish_trial(sweep_id, agent, trial["id"], "finished", v, [v], 0)
    return values


def q_optuna(
    fn: Callable[[dict[str, Any]], float],
    cfg: dict[str, Any],
    seed: int,
    trials: int,
    reseed: bool = False,
) -> list[float]:
    """Optuna's TPE by ask/tell; `reseed`: a new sampler per trial seeded from (seed, trial
    number) with constant_liar=True, the controller's configuration (for a control)."""
    import numpy as np
    import optuna

    _quiet_optuna()
    dists = optuna_distributions(cfg)
    sampler = optuna.samplers.TPESampler(multivariate=True, seed=seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    values: list[float] = []
    for number in range(trials):
        if reseed:
            derived = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
            study.sampler = tpe_sampler(derived)
        trial = study.ask(dists)
        v = fn(trial.params)
        values.append(v)
        study.tell(trial, v)
    return values


def q_wandb(
    fn: Callable[[dict[str, Any]], float], cfg: dict[str, Any], seed: int, trials: int
) -> list[float]:
    import random
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    sweeps = _import_wandb_sweeps()
    np.random.seed(seed)
    random.seed(seed)
    config = {k: v for k, v in cfg.items() if k != "run_cap"}
    runs: list[Any] = []
    values: list[float] = []
    for i in range(trials):
        run = sweeps.next_run(config, runs)
        params = {k: _plain(v["value"]) for k, v in run.config.items()}
        v = fn(params)
        values.append(v)
        runs.append(_wandb_run(sweeps, f"r{i}", params, v))
    return values


def run_quality(args: argparse.Namespace, work: Path, results: dict[str, Any], save: Any) -> None:
    from fwtrack.sweeps.local import open_local

    objectives = [o for o in args.objectives.split(",") if o]
    qmethods = [m for m in args.qmethods.split(",") if m]
    if "wandb-bayes" in qmethods and ensure_wandb_sweeps():
        qmethods.remove("wandb-bayes")
    q: dict[str, Any] = {"rows": {}, "trials": args.trials, "seeds": {}}
    results["quality"] = q
    ctl = open_local(work / "quality")
    for obj in objectives:
        fn: Callable[[dict[str, Any]], float] = (
            branin if obj == "branin" else hartmann6 if obj == "hartmann6" else TorchMLP()
        )
        seeds = args.torch_seeds if obj == "torch-mlp" else args.seeds
        q["seeds"][obj] = seeds
        for seed in range(seeds):
            k = seed % len(qmethods)
            for m in qmethods[k:] + qmethods[:k]:
                t0 = time.perf_counter()
                try:
                    if m.startswith("fwtrack-"):
                        cfg = quality_config(obj, m.split("-")[1], args.trials)
                        values = q_fwtrack(ctl, fn, cfg, seed, args.trials)
                    elif m.startswith("optuna-tpe"):
                        cfg = quality_config(obj, "bayes", args.trials)
                        reseed = m == "optuna-tpe-reseeded"
                        values = q_optuna(fn, cfg, seed, args.trials, reseed=reseed)
                    else:
                        values = q_wandb(
                            fn, quality_config(obj, "bayes", args.trials), seed, args.trials
                        )
                except Exception as e:  # a method that breaks is reported, the rest goes on
                    msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                    print(f"quality {obj} seed {seed} {m}: failed: {msg}", flush=True)
                    results["errors"].append(f"quality {obj} {m} seed {seed}: {msg}")
                    continue
                wall = time.perf_counter() - t0
                best = min(values)
                print(f"quality {obj} seed {seed} {m}: best {best:.5g} ({wall:.1f} s)", flush=True)
                q["rows"].setdefault(f"{obj}/{m}", []).append(
                    {"seed": seed, "best": best, "values": values, "wall_s": wall}
                )
                save()


# ----------------------------------------------------------------------------------------------
# Report


def _med(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if isinstance(r.get(key), int | float)]
    return statistics.median(vals) if vals else None


def render_latency(res: dict[str, Any]) -> str:
    lat = res["latency"]
    rows = []
    floor = {m: _med(lat["rows"].get(f"optuna/{m}", []), "p50_ms") for m in METHODS}
    for m in METHODS:
        for t in TARGETS:
            got = lat["rows"].get(f"{t}/{m}")
            if got is None:
                continue
            if not got:
                errs = [e for e in res.get("errors", []) if e.startswith(f"latency {t} {m}:")]
                rows.append(
                    [m, TARGET_LABELS[t], errs[0].split(": ", 1)[1] if errs else "not run"]
                    + [""] * 4
                )
                continue
            p50 = _med(got, "p50_ms")
            ref = floor.get(m)
            rows.append(
                [
                    m,
                    TARGET_LABELS[t],
                    num(p50),
                    num(_med(got, "p99_ms")),
                    num(_med(got, "first_ms")),
                    f"{got[0]['calls']} x {len(got)}",
                    f"{p50 / ref:.2f}x" if p50 and ref and t != "optuna" else "",
                ]
            )
    head = ["method", "", "p50, ms", "p99, ms", "first call, ms", "calls x reps", "p50 vs Optuna"]
    out = table(head, rows)
    seed = lat.get("seed") or {}
    if seed:
        how = (
            "through the controller (`next_trial` + `finish_trial`)"
            if res.get("seed_with", "controller") == "controller"
            else "written as rows (random samples, the grid's first points)"
        )
        times = ", ".join(f"{k} {v:.1f} s" for k, v in seed.items())
        out += f"\n\nSeeding {res['history']:,} trials {how}: {times}"
    big = lat.get("big_grid") or {}
    if big.get("calls_ms"):
        ms = ", ".join(num(x) for x in big["calls_ms"])
        out += (
            "\n\nA fresh 2^20-point grid (20 parameters of 2 values), its first 3 "
            f"`next_trial` calls: {ms} ms"
        )
    elif big.get("error"):
        out += f"\n\nA fresh 2^20-point grid: {big['error']}"
    notes = lat.get("notes") or {}
    for line in notes.get("wandb_controller") or []:
        out += f"\n\n`wandb.controller(config)` with {line}"
    if notes.get("wandb"):
        out += f"\n\nwandb's engine: {notes['wandb']}"
    return out


def render_quality(res: dict[str, Any]) -> str:
    q = res["quality"]
    parts = []
    for obj in OBJECTIVES:
        rows = []
        for m in QMETHODS:
            got = q["rows"].get(f"{obj}/{m}")
            if not got:
                continue
            bests = [r["best"] for r in got]
            mean = statistics.fmean(bests)
            std = statistics.stdev(bests) if len(bests) > 1 else 0.0
            opt = OPTIMA.get(obj)
            rows.append(
                [
                    QLABELS[m],
                    f"{mean:.4g}",
                    f"{std:.3g}",
                    f"{statistics.median(bests):.4g}",
                    f"{min(bests):.4g} / {max(bests):.4g}",
                    f"{mean - opt:.3g}" if opt is not None else "—",
                    str(len(bests)),
                    f"{statistics.fmean(r['wall_s'] for r in got):.1f}",
                ]
            )
        if rows:
            head = [
                "",
                "best, mean",
                "std",
                "median",
                "min / max",
                "regret (mean)",
                "seeds",
                "s per sweep",
            ]
            opt = OPTIMA.get(obj)
            title = f"**{obj}**" + (f" (optimum {opt})" if opt is not None else "")
            parts.append(f"{title}, best after {q['trials']} trials\n\n" + table(head, rows))
    return "\n\n".join(parts)


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = [
        f"{res['stamp']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        + ", ".join(f"{k} {x}" for k, x in res.get("versions", {}).items())
        + f"; 1-minute load average {res.get('load_start', 0):.1f} at the start\n"
    ]
    if res.get("latency"):
        out.append(
            f"### Suggestion latency: 20 parameters, {res['history']} finished trials, "
            f"medians of {res['reps']} repetition(s)\n"
        )
        out.append(render_latency(res) + "\n")
    if res.get("quality"):
        out.append("### Search quality\n")
        out.append(render_quality(res) + "\n")
    if res.get("errors"):
        out.append("### Errors\n")
        out += [f"- {e.splitlines()[0][:300]}" for e in res["errors"]]
    return "\n".join(out)


def versions() -> dict[str, str]:
    from importlib import metadata

    got = {}
    for dist in ("optuna", "torch", "wandb", "sqlalchemy"):
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", default="latency,quality")
    ap.add_argument(
        "--full", action="store_true", help="more calls, 10 torch seeds, wandb in quality"
    )
    ap.add_argument("--reps", type=int, default=None, help="latency repetitions (3)")
    ap.add_argument("--calls", type=int, default=None, help="suggestions per child (60; full 200)")
    ap.add_argument("--wandb-calls", type=int, default=None, help="for wandb's engine (5; full 20)")
    ap.add_argument("--history", type=int, default=1000, help="finished trials before timing")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--objectives", default=",".join(OBJECTIVES))
    ap.add_argument("--qmethods", default=None, help="(wandb-bayes only with --full)")
    ap.add_argument(
        "--seed-with",
        choices=("controller", "rows"),
        default=None,
        help="how the 1,000 trials are made: through the controller (full), or rows (default)",
    )
    ap.add_argument("--big-grid", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--torch-seeds", type=int, default=None, help="(2; full 10)")
    ap.add_argument("--child-timeout", type=float, default=TIMEOUT_S)
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "sweeps")
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
    full = args.full
    args.reps = args.reps or 3
    args.calls = args.calls or (200 if full else 60)
    args.wandb_calls = args.wandb_calls or (20 if full else 5)
    args.torch_seeds = args.torch_seeds if args.torch_seeds is not None else (10 if full else 2)
    args.seed_with = args.seed_with or ("controller" if full else "rows")
    args.big_grid = full if args.big_grid is None else args.big_grid
    if args.qmethods is None:
        args.qmethods = ",".join(m for m in QMETHODS if full or m != "wandb-bayes")
    cases = [c for c in args.cases.split(",") if c]

    work = Path(tempfile.mkdtemp(prefix="fwtrack-sweeps-bench-", dir=args.work))
    results: dict[str, Any] = {
        "reps": args.reps,
        "history": args.history,
        "full": full,
        "seed_with": args.seed_with,
        "machine": machine(),
        "versions": versions(),
        "stamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": load1(),
        "errors": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (args.out / "results.json").write_text(json.dumps(results, indent=2))

    for k, v in CHILD_ENV.items():
        os.environ.setdefault(k, v)
    t_start = time.perf_counter()
    try:
        if "latency" in cases:
            run_latency(args, work, results, save)
        if "quality" in cases:
            run_quality(args, work, results, save)
        results["wall_s"] = time.perf_counter() - t_start
        results["load_end"] = load1()
        save()
        text = render(results)
        print(text)
        (args.out / "results.md").write_text(text)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
