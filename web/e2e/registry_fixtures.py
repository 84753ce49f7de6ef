"""A model registry and a webhook receiver for `registry.spec.ts`.

registry_fixtures.py server --url URL --key KEY --work DIR --out seeded.json
    creates the user `bob` and the team `ml` (KEY's user its admin, bob a plain member),
    then logs runs online to project `ml/vision` through the Python API: `prep` logs the
    dataset `digits`; `train-a`, `train-b`, `train-c` each use `digits:latest`, log metrics
    and log the model artifact `cnn-weights` (v0, v1, v2). Through the server's registry
    routes, links the three to the registered model `mnist-cnn` of `ml` (v0 `production`,
    v1 `staging`), protects `production`, describes and tags it, and registers an empty
    model `text-clf` tagged `nlp`. Writes what was seeded as JSON.
registry_fixtures.py local --dir DIR
    an offline run `local-train` of project `local-reg` in DIR (for `fwtrack ui`) logs the
    model artifact `local-weights` and links it to the local registry's `local-cnn` with the
    alias `production`.
registry_fixtures.py receiver --port-file FILE --log FILE
    a webhook receiver on 127.0.0.1: answers every POST with 204 and appends
    `{"path", "headers", "body"}` as a JSON line to the log; writes its port to the port
    file once it listens.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fixtures import go_online, request_json

import fwtrack

ENTITY = "ml"
PROJECT = "vision"
MODEL = "mnist-cnn"
BOB_PASSWORD = "bob-e2e-password"

# run id -> run name, learning rate, the aliases its model version gets when linked
TRAINING: dict[str, dict[str, Any]] = {
    "train-a": {"name": "cnn-small", "lr": 0.01, "aliases": ["production"]},
    "train-b": {"name": "cnn-medium", "lr": 0.02, "aliases": ["staging"]},
    "train-c": {"name": "cnn-large", "lr": 0.05, "aliases": []},
}
STEPS = 20


def _prep(root: Path, files: Path) -> None:
    """`prep` logs the dataset `digits` (v0)."""
    data = files / "digits"
    data.mkdir(parents=True, exist_ok=True)
    (data / "train.csv").write_text(
        "label,pixels\n" + "".join(f"{i % 10},{i}\n" for i in range(50))
    )
    (data / "README.md").write_text("# digits\n\nA tiny synthetic copy for the browser tests.\n")
    run = fwtrack.init(project=PROJECT, id="prep", name="prepare-digits", dir=root)
    art = fwtrack.Artifact("digits", type="dataset", metadata={"rows": 50})
    art.add_dir(str(data))
    run.log_artifact(art).wait()
    run.finish()


def _train(root: Path, files: Path, run_id: str, spec: dict[str, Any]) -> dict[str, float]:
    """A training run that uses `digits:latest` and logs `cnn-weights`; its last metrics."""
    lr = float(spec["lr"])
    run = fwtrack.init(
        project=PROJECT,
        id=run_id,
        name=spec["name"],
        config={"lr": lr, "layers": 2},
        dir=root,
    )
    run.use_artifact("digits:latest")
    last: dict[str, float] = {}
    for i in range(STEPS):
        row = {
            "train/loss": math.exp(-lr * 10 * i),
            "train/acc": 1.0 - math.exp(-lr * 8 * i),
        }
        if i % 5 == 4:
            row["eval/acc"] = 0.8 + lr + i / 1000
        run.log(row, step=i)
        last.update(row)
    weights = files / run_id
    weights.mkdir(parents=True, exist_ok=True)
    (weights / "model.bin").write_bytes(bytes(range(256)) * (4 + len(run_id)))
    (weights / "config.json").write_text(json.dumps({"layers": 2, "lr": lr}))
    art = fwtrack.Artifact(
        "cnn-weights", type="model", metadata={"lr": lr, "eval/acc": last["eval/acc"]}
    )
    art.add_dir(str(weights))
    run.log_artifact(art).wait()
    run.finish()
    return last


def cmd_server(args: argparse.Namespace) -> int:
    api = f"{args.url}/api/v1"
    bob = request_json(f"{api}/users", args.key, "POST", {"name": "bob", "password": BOB_PASSWORD})
    request_json(f"{api}/teams", args.key, "POST", {"name": ENTITY})
    request_json(f"{api}/teams/{ENTITY}/members", args.key, "POST", {"user": "bob"})
    go_online(args.url, args.key, ENTITY)
    root = Path(args.work) / "registry-client"
    files = Path(args.work) / "registry-files"
    _prep(root, files)
    metrics = {run_id: _train(root, files, run_id, spec) for run_id, spec in TRAINING.items()}

    registry = f"{api}/registry/{ENTITY}/models"
    versions: dict[str, Any] = {}
    for i, (run_id, spec) in enumerate(TRAINING.items()):
        body = {
            "artifact": {
                "entity": ENTITY,
                "project": PROJECT,
                "name": "cnn-weights",
                "ref": f"v{i}",
            },
            "aliases": spec["aliases"],
            "run": {"project": PROJECT, "id": run_id},
        }
        linked = request_json(f"{registry}/{MODEL}/links", args.key, "POST", body)
        if linked["version"] != f"v{i}":
            raise RuntimeError(f"cnn-weights:v{i} was linked as {linked['version']!r}")
        versions[linked["version"]] = {
            "run": run_id,
            "name": spec["name"],
            "artifact": f"cnn-weights:v{i}",
        }
    patch = {
        "description": "Digit classifier (a small CNN)",
        "tags": ["vision", "mnist"],
        "protected_aliases": ["production"],
    }
    request_json(f"{registry}/{MODEL}", args.key, "PATCH", patch)
    request_json(registry, args.key, "POST", {"name": "text-clf", "tags": ["nlp"]})

    seeded = {
        "entity": ENTITY,
        "project": PROJECT,
        "model": MODEL,
        "versions": versions,
        "metrics": metrics,
        "dataset": "digits:v0",
        "bob": {"name": "bob", "api_key": bob["api_key"]},
    }
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    os.environ.pop("FWTRACK_BASE_URL", None)
    os.environ["FWTRACK_MODE"] = "offline"
    root = Path(args.dir)
    weights = root.parent / "local-weights"
    weights.mkdir(parents=True, exist_ok=True)
    (weights / "model.bin").write_bytes(bytes(range(256)) * 4)
    run = fwtrack.init(project="local-reg", id="local-train", name="local-train", dir=root)
    for i in range(5):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    art = fwtrack.Artifact("local-weights", type="model")
    art.add_dir(str(weights))
    run.log_artifact(art)
    run.link_artifact(art, "registry/local-cnn", aliases=["production"]).wait(timeout=60)
    run.finish()
    return 0


class _Receiver(BaseHTTPRequestHandler):
    log_path: Path
    lock = threading.Lock()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        line = {
            "path": urllib.parse.urlsplit(self.path).path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        with self.lock, self.log_path.open("a") as f:
            f.write(json.dumps(line) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        print(format % args, flush=True)


def cmd_receiver(args: argparse.Namespace) -> int:
    _Receiver.log_path = Path(args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    port_file = Path(args.port_file)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(port_file)
    server.serve_forever()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    server = sub.add_parser("server")
    server.add_argument("--url", required=True)
    server.add_argument("--key", required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--out", required=True)
    local = sub.add_parser("local")
    local.add_argument("--dir", required=True)
    receiver = sub.add_parser("receiver")
    receiver.add_argument("--port-file", required=True)
    receiver.add_argument("--log", required=True)
    args = parser.parse_args()
    return {"server": cmd_server, "local": cmd_local, "receiver": cmd_receiver}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
