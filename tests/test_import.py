"""`import fwtrack` and `init()` stay light: numpy, pandas and torch load only when needed.

Each test runs a fresh interpreter: the test runner itself has numpy imported already.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from fwtrack import _core

if TYPE_CHECKING:
    from conftest import ScriptRunner

HEAVY = ("numpy", "pandas", "torch")


def test_import_and_init_load_no_numpy_pandas_or_torch(run_script: ScriptRunner) -> None:
    out = run_script(
        f"""
        import json, sys
        import fwtrack

        heavy = {HEAVY!r}
        loaded = {{"import": [m for m in heavy if m in sys.modules]}}
        run = fwtrack.init(mode="offline", dir="runs", config={{"lr": 0.1, "layers": [4, 2]}})
        loaded["init"] = [m for m in heavy if m in sys.modules]
        run.log({{"loss": 0.5, "epoch": 1, "ok": True, "phase": "train", "none": None}})
        loaded["log"] = [m for m in heavy if m in sys.modules]
        run.finish()
        print(json.dumps({{"loaded": loaded, "dir": run.dir}}))
        """
    )
    got = json.loads(out.stdout)
    assert got["loaded"] == {"import": [], "init": [], "log": []}
    meta = _core.RunReader(got["dir"]).meta()
    assert meta["config"] == {"lr": 0.1, "layers": [4, 2]}
    assert meta["finish"]["exit_code"] == 0
    (row,) = _core.RunReader(got["dir"]).scan()
    assert (row["loss"], row["epoch"], row["ok"], row["phase"]) == (0.5, 1, True, "train")


def test_numpy_imported_after_fwtrack_is_recognised(run_script: ScriptRunner) -> None:
    # numpy values are recognised through `sys.modules`: numpy arriving after `import fwtrack`
    # (and after the first plain value was logged) must change nothing.
    out = run_script(
        """
        import json, sys
        import fwtrack

        run = fwtrack.init(mode="offline", dir="runs")
        run.log({"plain": 1.0})
        h = fwtrack.Histogram([1.0, 2.0, 2.0, 3.0], num_bins=2)  # imports numpy itself
        assert "numpy" in sys.modules
        import numpy as np

        run.config["seed"] = np.int64(7)
        run.config["shape"] = np.array([2, 3])
        run.log({"s": np.float32(0.5), "i": np.int16(-3), "one": np.array([4.0]), "h": h})
        run.log({"a": np.arange(10.0)})
        run.finish()
        print(json.dumps(run.dir))
        """
    )
    run_dir = json.loads(out.stdout)
    reader = _core.RunReader(run_dir)
    assert reader.meta()["config"] == {"seed": 7, "shape": [2, 3]}
    first, second, _ = reader.scan()
    assert first["plain"] == 1.0
    assert (second["s"], second["i"], second["one"]) == (0.5, -3, 4.0)
    assert type(second["i"]) is int
    ((h_step, h),) = reader.histograms("h")
    assert h_step == 1
    np.testing.assert_array_equal(h.counts, [1, 3])
    np.testing.assert_array_equal(h.edges, [1.0, 2.0, 3.0])
    ((a_step, a),) = reader.histograms("a")
    assert a_step == 2
    assert int(a.counts.sum()) == 10
    assert len(a.counts) == 64


def test_the_command_line_loads_pandas_only_for_history(run_script: ScriptRunner) -> None:
    # Every `fwtrack` command used to pay for importing pandas (seconds on a busy machine);
    # only the commands that build a DataFrame (`export`, `Api.history`) load it now.
    out = run_script(
        """
        import json, sys
        import fwtrack.cli

        print(json.dumps({"pandas": "pandas" in sys.modules}))
        """
    )
    assert json.loads(out.stdout) == {"pandas": False}
