"""System metrics sampled for real on this machine, read back through `fwtrack.Api`."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ScriptRunner
from fwtrack.api import Api
from fwtrack.sdk.settings import Settings

KEYS = [
    "system/cpu.percent",
    "system/proc.cpu.percent",
    "system/proc.memory.rss_mb",
    "system/memory.percent",
    "system/memory.used_mb",
    "system/disk.read_mb",
    "system/disk.write_mb",
    "system/disk.percent",
    "system/network.sent_mb",
    "system/network.recv_mb",
]


def metrics(tmp_path: Path) -> pd.DataFrame:
    (run,) = Api(tmp_path / "fwtrack").runs("s")
    return run.system_metrics()


def test_real_samples_are_plausible_and_follow_a_cpu_burn(
    run_script: ScriptRunner, tmp_path: Path
) -> None:
    # The script burns CPU until the sampler (every second) has taken three samples, read
    # back from its own run log: a condition, not a duration.
    proc = run_script(
        """
        import json, os
        import fwtrack
        from fwtrack.api import Api

        run = fwtrack.init(project="s", settings={"system_interval": 1})
        reader = Api(os.environ["FWTRACK_DIR"])
        x = 0
        while True:
            for i in range(200_000):
                x += i * i
            run.flush()
            if len(reader.run(f"s/{run.id}").system_metrics()) >= 3:
                break
        fwtrack.finish()
        print(json.dumps({"cores": os.cpu_count()}))
        """
    )
    assert proc.stderr == ""
    cores = json.loads(proc.stdout.splitlines()[-1])["cores"]
    df = metrics(tmp_path)
    assert len(df) >= 4  # the first sample, two periodic ones, the last at finish
    assert list(df.columns[:2]) == ["_timestamp", "_runtime"]
    for key in KEYS:
        assert key in df.columns, key
        assert df[key].dtype == np.float64
        assert not df[key].isna().any(), key
    assert df["_runtime"].is_monotonic_increasing
    assert (df["_timestamp"] > 1e9).all()
    assert df["system/cpu.percent"].between(0, 100).all()
    assert df["system/proc.cpu.percent"].between(0, 100 * cores).all()
    # The process was burning CPU between samples.
    assert (df["system/proc.cpu.percent"].iloc[1:] > 0).any()
    assert df["system/proc.cpu.percent"].nunique() > 1
    assert (df["system/proc.memory.rss_mb"] > 0).all()
    assert df["system/memory.percent"].between(0, 100, inclusive="right").all()
    assert (df["system/memory.used_mb"] > 0).all()
    assert df["system/disk.percent"].between(0, 100).all()
    for key in ("disk.read_mb", "disk.write_mb", "network.sent_mb", "network.recv_mb"):
        assert (df[f"system/{key}"] >= 0).all(), key
    gpu = [c for c in df.columns if c.startswith("system/gpu.")]
    if _gpu_count() == 0:
        assert gpu == []


def _gpu_count() -> int:
    """GPUs the real NVML library sees: 0 without a driver or GPU (as on this machine)."""
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


def test_gpus_are_sampled_through_nvml_where_it_works_and_absent_without() -> None:
    # The real `pynvml` (nvidia-ml-py) is installed; whether nvmlInit() succeeds depends on
    # the machine. With a GPU every device reports its fields; without one (no driver, as
    # here) the sampler holds no handles and adds nothing, silently.
    from fwtrack.sdk.system import _Gpus

    count = _gpu_count()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpus = _Gpus()
        out: list[tuple[str, float]] = []
        gpus.sample(out)
        gpus.close()
    keys = {k for k, _ in out}
    if count == 0:
        assert gpus.handles == []
        assert out == []
    else:
        for i in range(count):
            for field in ("util", "memory.used_mb", "memory.total_mb"):
                assert f"system/gpu.{i}.{field}" in keys
        total = dict(out)["system/gpu.0.memory.total_mb"]
        assert total > 0


def test_the_interval_comes_from_the_environment(run_script: ScriptRunner, tmp_path: Path) -> None:
    # An hour between samples: only the first (at start) and the last (at finish).
    run_script(
        """
        import fwtrack
        fwtrack.init(project="s")
        fwtrack.log({"x": 1})
        fwtrack.finish()
        """,
        FWTRACK_SYSTEM_INTERVAL="3600",
    )
    df = metrics(tmp_path)
    assert len(df) == 2
    assert df["_runtime"].iloc[0] <= df["_runtime"].iloc[1]


@pytest.mark.parametrize(
    ("env", "init_settings"),
    [
        ({"FWTRACK_SYSTEM_METRICS": "false"}, "None"),
        ({"FWTRACK_SYSTEM_INTERVAL": "0"}, "None"),
        ({}, "{'system_interval': 0}"),
    ],
)
def test_system_metrics_can_be_turned_off(
    run_script: ScriptRunner, tmp_path: Path, env: dict[str, str], init_settings: str
) -> None:
    run_script(
        f"""
        import fwtrack
        fwtrack.init(project="s", settings={init_settings})
        fwtrack.log({{"x": 1}})
        fwtrack.finish()
        """,
        **env,
    )
    df = metrics(tmp_path)
    assert len(df) == 0
    assert not any(c.startswith("system/") for c in df.columns)
    (run,) = Api(tmp_path / "fwtrack").runs("s")
    assert list(run.history()["x"]) == [1.0]


def test_the_interval_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().system_interval == 10.0
    assert Settings(system_interval=1).system_interval == 1.0
    assert Settings(system_interval=0).system_interval == 0.0
    with pytest.raises(ValueError, match=r"Settings\.system_interval=0\.5 is not valid.*>= 1"):
        Settings(system_interval=0.5)
    with pytest.raises(TypeError, match=r"Settings\.system_interval must be a number"):
        Settings(system_interval="10")  # type: ignore[arg-type]
    monkeypatch.setenv("FWTRACK_SYSTEM_INTERVAL", "2.5")
    assert Settings().system_interval == 2.5
    monkeypatch.setenv("FWTRACK_SYSTEM_INTERVAL", "soon")
    with pytest.raises(ValueError, match="FWTRACK_SYSTEM_INTERVAL='soon'"):
        Settings()
    monkeypatch.setenv("FWTRACK_SYSTEM_INTERVAL", "5")
    monkeypatch.setenv("FWTRACK_SYSTEM_METRICS", "false")
    assert Settings().system_interval == 0.0
    assert os.environ["FWTRACK_SYSTEM_INTERVAL"] == "5"


def test_process_cpu_percent_never_exceeds_its_cores(tmp_path: Path) -> None:
    # Samples taken close together (the one at finish follows the last periodic one) divide a
    # CPU-time tick by a tiny interval; the value must still stay within 100 per core.
    import hashlib
    import threading

    from fwtrack.sdk.system import Sampler

    sampler = Sampler(lambda _values: None, interval=3600, run_dir=str(tmp_path))
    done = threading.Event()

    def burn() -> None:  # hashing a large buffer releases the GIL: sampling is not held up
        data = bytes(1 << 20)
        while not done.is_set():
            hashlib.sha256(data).digest()

    burner = threading.Thread(target=burn)
    burner.start()
    try:
        values = [dict(sampler.sample())["system/proc.cpu.percent"] for _ in range(300)]
    finally:
        done.set()
        burner.join()
    cores = os.cpu_count() or 1
    assert max(values) <= 100 * cores
    assert max(values) > 0
