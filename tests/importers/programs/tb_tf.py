"""TensorBoard event files from tensorflow's tf.summary: LOGDIR/tf."""

from __future__ import annotations

import sys

import numpy as np
import tensorflow as tf


def main() -> None:
    writer = tf.summary.create_file_writer(f"{sys.argv[1]}/tf")
    with writer.as_default():
        for step in range(12):
            tf.summary.scalar("loss", 2.0 / (step + 1), step=step)
        tf.summary.histogram("activations", np.linspace(0, 1, 64), step=4)
        tf.summary.image("picture", np.full((2, 6, 6, 3), 0.5), step=6)
        tf.summary.text("comment", "from tf.summary", step=7)
    writer.close()


if __name__ == "__main__":
    main()
