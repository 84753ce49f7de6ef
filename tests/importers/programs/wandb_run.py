"""A real W&B offline run with a tiny torch loop: prints {"run_dir", "id", "logged"} (what it
logged per step) as its last line. Usage: wandb_run.py DIR [EXIT_CODE]."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import wandb


def main() -> None:
    root = sys.argv[1]
    exit_code = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    torch.manual_seed(0)
    run = wandb.init(
        project="wb-proj",
        dir=root,
        name="tiny-torch",
        config={"lr": 0.05, "model": {"layers": 1, "act": "relu"}},
        tags=["baseline", "cpu"],
        notes="a tiny torch loop",
        group="g1",
        job_type="train",
    )
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    logged: list[dict[str, float]] = []
    for step in range(30):
        x = torch.randn(16, 4)
        loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        row = {"train/loss": loss.item(), "epoch": step // 10}
        run.log(row)
        logged.append(row)
        if step % 10 == 0:
            print(f"epoch {step // 10} loss {loss.item():.4f}", flush=True)
    pixels = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    run.log({"sample": wandb.Image(pixels, caption="pixels")})
    run.log({"weights": wandb.Histogram(np.linspace(-1, 1, 101))})
    path = os.path.join(root, "model.bin")
    with open(path, "wb") as f:
        f.write(b"tiny model weights")
    art = wandb.Artifact("tiny-model", type="model", metadata={"params": 5})
    art.add_file(path)
    run.log_artifact(art)
    run.summary["best_loss"] = min(r["train/loss"] for r in logged)
    print(json.dumps({"run_dir": run.dir, "id": run.id, "logged": logged}))
    run.finish(exit_code=exit_code)


if __name__ == "__main__":
    main()
