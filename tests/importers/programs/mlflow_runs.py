"""Two MLflow runs in the store at TRACKING_URI (experiment "exp-a": a finished run with
params, tags, a note, metric histories and an artifact; "exp-b": a failed run). Prints the run
ids as JSON."""

from __future__ import annotations

import json
import os
import sys

import mlflow


def main() -> None:
    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.set_experiment("exp-a")
    with mlflow.start_run(run_name="good-run") as good:
        mlflow.log_params({"lr": 0.01, "optimizer": "adam", "epochs": 3, "nesterov": True})
        mlflow.set_tags({"team": "vision", "mlflow.note.content": "a note"})
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 5 == 0:
                mlflow.log_metric("val_acc", step / 20, step=step)
        mlflow.log_metric("loss", 0.01, step=19)  # a second point at one step
        path = os.path.join(sys.argv[2], "weights.txt")
        with open(path, "w") as f:
            f.write("w = 1.5")
        mlflow.log_artifact(path, artifact_path="model")
    mlflow.set_experiment("exp-b")
    with mlflow.start_run(run_name="bad-run") as bad:
        mlflow.log_metric("loss", 3.0, step=0)
        mlflow.end_run(status="FAILED")
    print(json.dumps({"good": good.info.run_id, "bad": bad.info.run_id}))


if __name__ == "__main__":
    main()
