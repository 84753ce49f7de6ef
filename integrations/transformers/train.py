"""Fine-tune a tiny BERT classifier with the Hugging Face Trainer, tracked by fwtrack, and
register the best model.

The fwtrack line is `report_to="fwtrack"` in `TrainingArguments` (after `import fwtrack`);
`FWTRACK_LOG_MODEL=end` (set here unless given) logs the model at the end of training: the
best one, as `load_best_model_at_end` loads it, as the artifact `model-<run id>`. It is then
linked to the model registry as `registry/transformers-example` with the alias `candidate`:

    path = fwtrack.use_model("registry/transformers-example:candidate")  # in another run
    model = BertForSequenceClassification.from_pretrained(path)

Synthetic data (the label says whether the first token id is in the lower half) and a
model built from a config: nothing is downloaded. CPU, well under a minute.

    python integrations/transformers/train.py [--epochs 3] [--lr 1e-3] [--run-name NAME]
    fwtrack show <run id printed at the end>

The run lands in project `huggingface` (or `FWTRACK_PROJECT`) under `./fwtrack` (or
`FWTRACK_DIR`), named after `--run-name`. History: `train/loss`, `train/learning_rate`,
`train/grad_norm`, `eval/loss`, `eval/accuracy`, `test/accuracy`, ... against
`train/global_step`; config: the model config, the training arguments and
`model/num_parameters`; summary: `train_runtime`, `train_loss`, `total_flos`, ...
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    EvalPrediction,
    Trainer,
    TrainingArguments,
)

import fwtrack  # makes report_to="fwtrack" available to transformers
from fwtrack.integrations.transformers import FwTrackCallback

VOCAB, SEQ_LEN = 64, 16
REGISTERED_MODEL = "registry/transformers-example"


class LowHigh(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(1, VOCAB, (n, SEQ_LEN), generator=g)
        self.labels = (self.input_ids[:, 0] < VOCAB // 2).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids[i],
            "attention_mask": torch.ones(SEQ_LEN, dtype=torch.long),
            "labels": self.labels[i],
        }


def accuracy(pred: EvalPrediction) -> dict[str, float]:
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == pred.label_ids).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--run-name", default="tiny-bert-low-high")
    parser.add_argument("--seed", type=int, default=0)
    cli = parser.parse_args()

    torch.manual_seed(cli.seed)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=SEQ_LEN,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)
    os.environ.setdefault("FWTRACK_LOG_MODEL", "end")  # log the (best) model at the end
    args = TrainingArguments(
        output_dir="out/tiny-bert",
        run_name=cli.run_name,
        report_to="fwtrack",  # <- the fwtrack line
        num_train_epochs=cli.epochs,
        per_device_train_batch_size=cli.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=cli.lr,
        warmup_steps=4,
        logging_steps=4,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        use_cpu=True,
        disable_tqdm=True,
        seed=cli.seed,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=LowHigh(256, seed=1),
        eval_dataset=LowHigh(128, seed=2),
        compute_metrics=accuracy,
    )
    trainer.train()
    trainer.evaluate()
    test = trainer.predict(LowHigh(128, seed=3))
    print(f"test accuracy: {test.metrics['test_accuracy']:.3f}")

    run = fwtrack.run
    assert run is not None
    # The callback report_to="fwtrack" added holds the model it logged.
    (tracker,) = (c for c in trainer.callback_handler.callbacks if isinstance(c, FwTrackCallback))
    logged = tracker.model_artifact
    if logged is not None:  # FWTRACK_LOG_MODEL=end
        logged.wait()  # committed: its version is known
        registered = run.link_artifact(logged, REGISTERED_MODEL, aliases=["candidate"]).wait()
        assert registered is not None
        print(
            f"{logged.qualified_name} registered as {registered.ref} {sorted(registered.aliases)}"
        )
    print(f"best checkpoint: {trainer.state.best_model_checkpoint}")
    print(f"run {run.project}/{run.id} in {run.dir}")
    fwtrack.finish()


if __name__ == "__main__":
    main()
