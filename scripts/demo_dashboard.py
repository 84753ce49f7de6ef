"""The end of `make demo`: open the dashboard on the demo run.

Starts `fwtrack ui --dir ./fwtrack` on port 8080 (or the next free one), waits until the newest
run of the `demo` project is indexed, and prints the URL of its page. Then it keeps serving
until Ctrl-C, except under CI (`CI=true`) or without a terminal, where it stops the dashboard
and returns at once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEADLINE = 60.0


def _free_port(start: int) -> int:
    for port in range(start, start + 50):
        with socket.socket() as sock:
            # as uvicorn binds: a port left in TIME_WAIT by a previous run is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _newest_run(api: str, project: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fwtrack ui exited with status {proc.returncode}")
        try:
            body = _get(f"{api}/runs/local/{project}?limit=1&sort=-created_at")
            if body["runs"]:
                return str(body["runs"][0]["id"])
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no run of project {project!r} appeared within {DEADLINE:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="fwtrack", help="run directory (default ./fwtrack)")
    parser.add_argument("--project", default="demo")
    parser.add_argument("--port", type=int, default=8080, help="first port to try")
    args = parser.parse_args()

    port = _free_port(args.port)
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "fwtrack", "ui", "--dir", args.dir, "--port", str(port)]
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in the finally below)
        prefix="fwtrack-demo-ui-", suffix=".log", delete=False
    )
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    ok = False
    try:
        run_id = _newest_run(f"{base}/api/v1", args.project, proc)
        print(f"\nThe dashboard: {base}/#/p/local/{args.project}/r/{run_id}", flush=True)
        interactive = os.environ.get("CI", "").lower() not in ("1", "true", "yes")
        interactive = interactive and sys.stdin.isatty() and sys.stdout.isatty()
        if not interactive:
            print("  (CI or no terminal: stopping it; run `fwtrack ui` to browse the runs)")
            ok = True
            return 0
        print(f"  serving {Path(args.dir).resolve()}; press Ctrl-C to stop", flush=True)
        print(f"  (its log: {log_file.name})", flush=True)
        try:
            proc.wait()
        except KeyboardInterrupt:
            print()
        ok = True
        return 0
    except RuntimeError as exc:
        print(f"demo: {exc}; the dashboard's output is in {log_file.name}", file=sys.stderr)
        return 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_file.close()
        if ok:
            os.unlink(log_file.name)


if __name__ == "__main__":
    raise SystemExit(main())
