"""One small adapter per tracker, all with the same shape, for `benches/worker.py`.

Every adapter keeps its run under `workdir / "data"` (the worker gives each process a fresh
`workdir` and runs in it, so stray files land there too) and imports its
tracker lazily in `load()`, so a worker can time the import on its own. After `init()`,
`adapter.log(data)` is the call under test: where the tracker's own `log` takes a dict as it
is, `log` is that bound method itself (no adapter frame in between); trackers that need an
explicit step or one call per key get the thinnest closure that does it.

`read_back()` reads the run back the tracker's own way and returns how many metric values
(keys not starting with "_") it found, so the worker can check every logged point landed.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = "bench"

# Keep every tracker off the network and quiet, whatever the caller's environment says.
OFFLINE_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def dir_bytes(path: Path) -> int:
    """Total size of the regular files under `path`."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


class Tracker:
    """The adapter shape. Subclasses set `name`, `module` and override what differs."""

    name = "base"
    module = ""  # importable module that must exist for the tracker to be "installed"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.log: Callable[[dict[str, float]], Any] = self._unset_log

    @classmethod
    def installed(cls) -> bool:
        if not cls.module:
            return True
        try:
            return importlib.util.find_spec(cls.module) is not None
        except (ImportError, ValueError):
            return False

    def _unset_log(self, data: dict[str, float]) -> None:
        raise RuntimeError("init() first")

    def load(self) -> None:
        """Import the tracker (timed by the worker as the import cost)."""

    def init(self, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def read_back(self) -> int:
        raise NotImplementedError

    def bytes_on_disk(self) -> int:
        return dir_bytes(self.data)


class Noop(Tracker):
    """A W&B-shaped tracker that does nothing: the cost of the call itself."""

    name = "noop"

    class _Run:
        def log(self, data: dict[str, float]) -> None:
            pass

    def init(self, config: dict[str, Any]) -> None:
        self.run = self._Run()
        self.log = self.run.log

    def finish(self) -> None:
        pass

    def read_back(self) -> int:
        return -1  # nothing stored; the worker reports the count as not applicable


class FwTrack(Tracker):
    name = "fwtrack"
    module = "fwtrack"

    def load(self) -> None:
        import fwtrack

        self.fw = fwtrack

    def init(self, config: dict[str, Any]) -> None:
        self.run = self.fw.init(project=PROJECT, dir=str(self.data), mode="offline", config=config)
        self.run_id = self.run.id
        self.log = self.run.log

    def finish(self) -> None:
        self.run.finish()

    def read_back(self) -> int:
        df = self.fw.Api(dir=str(self.data)).run(f"{PROJECT}/{self.run_id}").history()
        cols = [c for c in df.columns if not str(c).startswith("_")]
        return int(df[cols].notna().to_numpy().sum()) if cols else 0

    def histogram(self, arr: Any, num_bins: int) -> Any:
        return self.fw.Histogram(arr, num_bins=num_bins)


class Wandb(Tracker):
    """wandb in offline mode: the run is a `.wandb` transaction log under `data/wandb/`."""

    name = "wandb"
    module = "wandb"

    def load(self) -> None:
        home = self.workdir / "wandb-home"  # keep wandb's caches out of $HOME and out of `data`
        for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
            os.environ[var] = str(home)
        import wandb

        self.wandb = wandb

    def init(self, config: dict[str, Any]) -> None:
        self.run = self.wandb.init(
            project=PROJECT, dir=str(self.data), mode="offline", config=config
        )
        self.log = self.run.log

    def finish(self) -> None:
        self.run.finish()

    def read_back(self) -> int:
        """Decode the `.wandb` file (`wandb_records`) and count the logged points."""
        (path,) = glob.glob(str(self.data / "wandb" / "*run-*" / "run-*.wandb"))
        if Path(path).read_bytes()[:4] != b":W&B":
            raise ValueError(f"{path}: not a wandb transaction log")
        points = 0
        for record in wandb_records(Path(path)):
            if record.WhichOneof("record_type") != "history":
                continue
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                if not key.startswith("_"):
                    json.loads(item.value_json)
                    points += 1
        return points

    def histogram(self, arr: Any, num_bins: int) -> Any:
        return self.wandb.Histogram(arr, num_bins=num_bins)


def wandb_records(path: Path) -> Any:
    """The protobuf `Record`s of a `.wandb` transaction log: a LevelDB-style log (32 KiB
    blocks, 7-byte chunk headers `crc32:u32 len:u16 type:u8`) after a 7-byte `:W&B` header
    (wandb has no public reader of its offline log)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    block, pos, pending = 32768, 7, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        pos += 7
        chunk = data[pos : pos + length]
        pos += length
        if kind == 1:  # FULL
            payload = chunk
        elif kind == 2:  # FIRST
            pending = chunk
            continue
        elif kind == 3:  # MIDDLE
            pending += chunk
            continue
        elif kind == 4:  # LAST
            payload, pending = pending + chunk, b""
        else:  # zero padding at the end of a block
            pos += -pos % block
            continue
        record = pb.Record()
        record.ParseFromString(payload)
        yield record


class _Mlflow(Tracker):
    """MLflow with a local SQLite backend store, through the fluent API users call."""

    module = "mlflow"
    synchronous = True

    def load(self) -> None:
        import mlflow

        self.mlflow = mlflow

    def init(self, config: dict[str, Any]) -> None:
        mlflow = self.mlflow
        mlflow.set_tracking_uri(f"sqlite:///{self.data / 'mlflow.db'}")
        mlflow.create_experiment(PROJECT, artifact_location=(self.data / "artifacts").as_uri())
        mlflow.set_experiment(PROJECT)
        self.run = mlflow.start_run()
        mlflow.log_params(config)
        log_metrics, sync, steps = mlflow.log_metrics, self.synchronous, itertools.count()

        def log(data: dict[str, float]) -> None:
            log_metrics(data, step=next(steps), synchronous=sync)

        self.log = log

    def finish(self) -> None:
        self.mlflow.end_run()

    def read_back(self) -> int:
        client = self.mlflow.MlflowClient()
        run_id = self.run.info.run_id
        keys = client.get_run(run_id).data.metrics.keys()
        return sum(len(client.get_metric_history(run_id, key)) for key in keys)


class MlflowSync(_Mlflow):
    name = "mlflow-sync"
    synchronous = True


class MlflowAsync(_Mlflow):
    name = "mlflow-async"
    synchronous = False


class TensorBoard(Tracker):
    """`torch.utils.tensorboard.SummaryWriter`, one `add_scalar` per key (its only scalar
    API that yields one series per key)."""

    name = "tensorboard"
    module = "tensorboard"

    @classmethod
    def installed(cls) -> bool:
        return super().installed() and importlib.util.find_spec("torch") is not None

    def load(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer_cls = SummaryWriter

    def init(self, config: dict[str, Any]) -> None:
        self.writer = self.writer_cls(log_dir=str(self.data))
        self.writer.add_text("config", json.dumps(config))
        add_scalar, steps = self.writer.add_scalar, itertools.count()

        def log(data: dict[str, float]) -> None:
            step = next(steps)
            for key, value in data.items():
                add_scalar(key, value, step)

        self.log = log

    def finish(self) -> None:
        self.writer.close()

    def read_back(self) -> int:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        acc = EventAccumulator(str(self.data), size_guidance={"scalars": 0})
        acc.Reload()
        return sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])


TRACKERS: dict[str, type[Tracker]] = {
    cls.name: cls for cls in (Noop, FwTrack, Wandb, MlflowSync, MlflowAsync, TensorBoard)
}
