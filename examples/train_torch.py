"""Train a tiny MLP with plain PyTorch on CPU and track it with fwtrack.

    python examples/train_torch.py                # 3000 steps, well under a minute on 2 cores
    python examples/train_torch.py --steps 300    # quicker

The data is synthetic: Gaussian inputs labelled by a fixed random "teacher" network, so nothing
is downloaded and the student network can learn the task well. The run is written to
`./fwtrack/demo/<run id>/` (or under `FWTRACK_DIR`); at the end the script reads it back
through `fwtrack.Api`, as any other script or notebook could.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import torch
from torch import nn

import fwtrack


def make_data(
    n: int, dim: int, classes: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ~ N(0, 1), labelled by a random two-layer teacher network (seeded)."""
    w1 = torch.randn(dim, 32, generator=generator) / math.sqrt(dim)
    w2 = torch.randn(32, classes, generator=generator) / math.sqrt(32)
    x = torch.randn(n, dim, generator=generator)
    y = (torch.tanh(x @ w1) @ w2).argmax(dim=1)
    return x, y


def lr_at(step: int, steps: int, base_lr: float, warmup: int) -> float:
    """Linear warmup, then cosine decay to 5% of the base rate."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    return base_lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="optimizer steps (default 3000)")
    parser.add_argument("--project", default="demo", help="fwtrack project (default demo)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    config = {
        "model": "mlp",
        "input_dim": 16,
        "hidden": 64,
        "classes": 4,
        "batch_size": 128,
        "lr": 3e-3,
        "warmup_steps": min(100, max(args.steps // 10, 1)),
        "weight_decay": 1e-4,
        "steps": args.steps,
        "train_size": 8192,
        "eval_size": 2048,
        "seed": args.seed,
    }
    eval_every = max(args.steps // 10, 10)
    hist_every = max(args.steps // 5, 10)

    torch.manual_seed(args.seed)
    # A model this small trains fastest on one thread (and is not slowed by a busy machine).
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)
    x, y = make_data(config["train_size"] + config["eval_size"], 16, 4, gen)
    x_train, y_train = x[: config["train_size"]], y[: config["train_size"]]
    x_eval, y_eval = x[config["train_size"] :], y[config["train_size"] :]

    model = nn.Sequential(
        nn.Linear(16, config["hidden"]),
        nn.ReLU(),
        nn.Linear(config["hidden"], config["hidden"]),
        nn.ReLU(),
        nn.Linear(config["hidden"], 4),
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"]
    )
    loss_fn = nn.CrossEntropyLoss()

    run = fwtrack.init(project=args.project, config=config)
    run.define_metric("eval/accuracy", summary="max")
    run.define_metric("eval/loss", summary="min")

    for step in range(args.steps):
        lr = lr_at(step, args.steps, config["lr"], config["warmup_steps"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, config["train_size"], (config["batch_size"],), generator=gen)
        model.train()
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
        optimizer.step()

        metrics = {"train/loss": loss.item(), "train/lr": lr, "train/grad_norm": grad_norm.item()}
        last = step == args.steps - 1
        if step % eval_every == 0 or last:
            model.eval()
            with torch.no_grad():
                logits = model(x_eval)
                metrics["eval/loss"] = loss_fn(logits, y_eval).item()
                metrics["eval/accuracy"] = (logits.argmax(dim=1) == y_eval).float().mean().item()
            # The first layer's weights as a picture (a media panel with a step slider).
            w = model[0].weight.detach()
            metrics["weights/layer0_image"] = fwtrack.Image(
                (w - w.min()) / (w.max() - w.min() + 1e-12), caption=f"step {step}"
            )
            print(f"step {step}: eval accuracy {metrics['eval/accuracy']:.3f}")
        if step % hist_every == 0 or last:
            # A tensor with more than one element is logged as a histogram.
            for i, layer in enumerate(m for m in model if isinstance(m, nn.Linear)):
                metrics[f"weights/layer{i}"] = layer.weight.detach()
        run.log(metrics)

    # The predictions on the first eval examples, as a table.
    with torch.no_grad():
        probs = torch.softmax(model(x_eval[:200]), dim=1)
    table = fwtrack.Table(columns=["example", "label", "predicted", "confidence"])
    for i, (p, y) in enumerate(zip(probs, y_eval[:200], strict=True)):
        table.add_data(i, int(y), int(p.argmax()), round(float(p.max()), 4))
    run.log({"eval/predictions": table}, step=args.steps - 1)

    run_id = run.id
    run.finish()
    report(fwtrack.Api().run(f"{args.project}/{run_id}"))
    return 0


def report(run: fwtrack.api.Run) -> None:
    """Print what was recorded, read back from disk."""
    history = run.history(keys=["train/loss", "eval/accuracy"])
    summary = run.summary
    best = summary.get("eval/accuracy")
    if isinstance(best, dict):
        best = best.get("max")
    final_loss = history["train/loss"].dropna().iloc[-1] if len(history) else float("nan")
    print(f"\nfwtrack run {run.path} ({run.name}) is {run.state}")
    print(f"  saved in       {_relative(run.dir)}")
    print(
        f"  steps          {len(history)} (last step {run.last_step}), runtime {run.runtime:.1f}s"
    )
    print(f"  final loss     {final_loss:.4f}  (train/loss)")
    print(f"  best accuracy  {best:.4f}  (eval/accuracy, max)")
    print(f"  histograms     {', '.join(run.histogram_keys())}")
    print(f"  media          {', '.join(run.media_keys())}")
    print("  config         " + ", ".join(f"{k}={v}" for k, v in run.config.items()))
    print(f"\nSee more: {_fwtrack_command()} show {run.path}")


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _fwtrack_command() -> str:
    """`fwtrack`, or the virtual environment's copy when that environment is not active."""
    exe = Path(sys.executable).parent / "fwtrack"
    on_path = os.environ.get("PATH", "").split(os.pathsep)
    if exe.is_file() and str(exe.parent) not in on_path:
        return _relative(exe)
    return "fwtrack"


if __name__ == "__main__":
    raise SystemExit(main())
