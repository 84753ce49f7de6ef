"""TensorBoard event files from torch's SummaryWriter: LOGDIR/train and LOGDIR/eval."""

from __future__ import annotations

import sys

import numpy as np
from torch.utils.tensorboard import SummaryWriter


def main() -> None:
    logdir = sys.argv[1]
    train = SummaryWriter(f"{logdir}/train")
    for step in range(25):
        train.add_scalar("loss", 1.0 / (step + 1), step)
        train.add_scalar("lr", 0.1 * 0.9**step, step)
    train.add_histogram("weights", np.linspace(-2, 2, 200), 10)
    train.add_image("digit", np.arange(3 * 8 * 8, dtype=np.uint8).reshape(3, 8, 8), 12)
    train.add_text("notes", "first epoch done", 5)
    train.close()
    ev = SummaryWriter(f"{logdir}/eval")
    for step in range(0, 25, 5):
        ev.add_scalar("accuracy", step / 25, step)
    ev.close()


if __name__ == "__main__":
    main()
