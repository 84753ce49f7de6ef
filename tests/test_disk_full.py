"""A full disk never stops training and loses nothing once the disk accepts writes again.

The disk is made "full" for a real subprocess with RLIMIT_FSIZE: writes past the limit fail
with EFBIG exactly as they fail with ENOSPC on a full disk.
"""

from __future__ import annotations

import json

from tests.conftest import ScriptRunner

import fwtrack

SCRIPT = """
import json, resource, signal, warnings
import fwtrack

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
run = fwtrack.init(project="full", id="disk", settings={"flush_interval": 0.05})
run.log({"x": -1})
run.flush()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))  # the disk is full now
    for i in range(20_000):
        run.log({"x": i, "text": "y" * 50})  # never raises
    try:
        run.flush()
        flush_error = None
    except OSError as exc:
        flush_error = type(exc).__name__
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    run.log({"x": 20_000})
    run.finish()
messages = [str(w.message) for w in caught if issubclass(w.category, fwtrack.FwTrackWarning)]
print(json.dumps({"flush_error": flush_error, "warnings": messages}))
"""


def test_full_disk_keeps_training_and_loses_nothing(
    run_script: ScriptRunner, tmp_dir: object
) -> None:
    proc = run_script(SCRIPT, timeout=120)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # neither log() nor flush() raised; flush() said the data is not durable yet
    assert out["flush_error"] is None
    assert any("flush() could not make" in m for m in out["warnings"])
    could_not_write = [m for m in out["warnings"] if "could not write" in m]
    assert len(could_not_write) == 1, out["warnings"]
    assert any("works again" in m for m in out["warnings"])
    run = fwtrack.Api().run("full/disk")
    assert run.state == "finished"
    assert run.tail_error is None
    assert run.history(keys=["x"])["x"].tolist() == [-1.0, *range(20_001)]
