"""System metrics: a daemon thread samples CPU, memory, disk, network and GPUs (through NVML)
every `Settings.system_interval` seconds, off the training thread, into `system/...` keys.

Keys (each a float; see docs/api.md "System metrics and console"):

- `system/cpu.percent` (all CPUs, 0-100), `system/proc.cpu.percent` (this process, 0-100 per
  core, so up to 100 x cores);
- `system/memory.percent`, `system/memory.used_mb` (the machine), `system/proc.memory.rss_mb`
  (this process);
- `system/disk.read_mb`, `system/disk.write_mb` (MiB read/written by the machine since the run
  started), `system/disk.percent` (usage of the disk holding the run directory);
- `system/network.sent_mb`, `system/network.recv_mb` (MiB since the run started);
- per GPU `i`, when NVML is available: `system/gpu.{i}.util` (%), `system/gpu.{i}.memory.util`
  (%), `system/gpu.{i}.memory.used_mb`, `system/gpu.{i}.memory.total_mb`,
  `system/gpu.{i}.temp` (degrees C), `system/gpu.{i}.power_w`, `system/gpu.{i}.clock.sm_mhz`,
  `system/gpu.{i}.clock.mem_mhz`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import psutil

_log = logging.getLogger("fwtrack")
_MB = 1024.0 * 1024.0

LogSystem = Callable[[list[tuple[str, float]]], None]


class _Gpus:
    """NVML handles, or nothing when `pynvml` does not import or `nvmlInit()` fails."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.nvml = pynvml
        except Exception as e:  # no NVML, no driver, no GPU: GPU metrics are absent
            _log.debug("fwtrack: no GPU metrics (NVML unavailable: %s)", e)

    def sample(self, out: list[tuple[str, float]]) -> None:
        nv = self.nvml
        if nv is None:
            return
        for i, h in enumerate(self.handles):
            p = f"system/gpu.{i}."
            # Each read on its own: a field this GPU does not support is left out.
            with contextlib.suppress(Exception):
                util = nv.nvmlDeviceGetUtilizationRates(h)
                out.append((p + "util", float(util.gpu)))
                out.append((p + "memory.util", float(util.memory)))
            with contextlib.suppress(Exception):
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                out.append((p + "memory.used_mb", mem.used / _MB))
                out.append((p + "memory.total_mb", mem.total / _MB))
            with contextlib.suppress(Exception):
                temp = nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)
                out.append((p + "temp", float(temp)))
            with contextlib.suppress(Exception):
                out.append((p + "power_w", nv.nvmlDeviceGetPowerUsage(h) / 1000.0))
            with contextlib.suppress(Exception):
                sm = nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)
                out.append((p + "clock.sm_mhz", float(sm)))
            with contextlib.suppress(Exception):
                clock = nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)
                out.append((p + "clock.mem_mhz", float(clock)))

    def close(self) -> None:
        if self.nvml is not None:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()
            self.nvml = None


class Sampler:
    """Takes one sample at start, one every `interval` seconds and one at `stop()`."""

    def __init__(self, log: LogSystem, *, interval: float, run_dir: str) -> None:
        self._log = log
        self._interval = interval
        self._run_dir = run_dir
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc = psutil.Process()
        self._cores = psutil.cpu_count() or 1
        self._gpus: _Gpus | None = None
        self._disk0 = _disk_io()
        self._net0 = _net_io()
        self._failed = False
        # The first cpu_percent() calls only set the baseline.
        psutil.cpu_percent(None)
        self._proc.cpu_percent(None)
        self._thread = threading.Thread(target=self._loop, name="fwtrack-system", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def sample(self) -> list[tuple[str, float]]:
        """One sample now (`system/...` key, value)."""
        out: list[tuple[str, float]] = []
        out.append(("system/cpu.percent", psutil.cpu_percent(None)))
        try:
            with self._proc.oneshot():
                # Over a short interval (the sample at finish comes soon after the last one)
                # the CPU-time ticks make the ratio overshoot: it is at most 100 per core.
                proc_cpu = min(self._proc.cpu_percent(None), 100.0 * self._cores)
                out.append(("system/proc.cpu.percent", proc_cpu))
                out.append(("system/proc.memory.rss_mb", self._proc.memory_info().rss / _MB))
        except psutil.Error:
            pass
        vm = psutil.virtual_memory()
        out.append(("system/memory.percent", float(vm.percent)))
        out.append(("system/memory.used_mb", vm.used / _MB))
        disk = _disk_io()
        if disk is not None and self._disk0 is not None:
            out.append(("system/disk.read_mb", (disk[0] - self._disk0[0]) / _MB))
            out.append(("system/disk.write_mb", (disk[1] - self._disk0[1]) / _MB))
        with contextlib.suppress(OSError):
            out.append(("system/disk.percent", float(psutil.disk_usage(self._run_dir).percent)))
        net = _net_io()
        if net is not None and self._net0 is not None:
            out.append(("system/network.sent_mb", (net[0] - self._net0[0]) / _MB))
            out.append(("system/network.recv_mb", (net[1] - self._net0[1]) / _MB))
        if self._gpus is not None:
            self._gpus.sample(out)
        return out

    def _emit(self) -> None:
        with self._lock:
            if os.getpid() != self._pid:
                return
            try:
                self._log(self.sample())
            except Exception as e:
                if not self._failed:
                    self._failed = True
                    _log.debug("fwtrack: a system-metrics sample failed: %s", e)

    def _loop(self) -> None:
        # NVML is probed here, off the thread that called init().
        self._gpus = _Gpus()
        self._emit()
        while not self._stop.wait(self._interval):
            self._emit()

    def stop(self) -> None:
        """Take the last sample and stop the thread. Does nothing in a forked child."""
        if os.getpid() != self._pid or self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._emit()
        if self._gpus is not None:
            self._gpus.close()


def _disk_io() -> tuple[int, int] | None:
    try:
        c = psutil.disk_io_counters()
    except (OSError, RuntimeError):
        return None
    return None if c is None else (c.read_bytes, c.write_bytes)


def _net_io() -> tuple[int, int] | None:
    try:
        c = psutil.net_io_counters()
    except (OSError, RuntimeError):
        return None
    return (c.bytes_sent, c.bytes_recv)
