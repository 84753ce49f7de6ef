# Hugging Face Transformers integration (docs.wandb.ai/guides/integrations/huggingface; wandb/docs
# models/integrations/huggingface.mdx): WANDB_PROJECT and WANDB_LOG_MODEL in the environment,
# report_to="wandb" and run_name in TrainingArguments. The docs fine-tune a hub model; here a
# tiny torch model and in-memory data (no download). Unchanged: run with
# `python -m fwtrack.wandb`, which routes report_to="wandb" to fwtrack.
import os

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

os.environ["WANDB_PROJECT"] = "amazon_sentiment_analysis"
os.environ["WANDB_LOG_MODEL"] = "false"


class TinyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs, labels=None):
        logits = self.linear(inputs)
        loss = nn.functional.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


train_dataset = [{"inputs": torch.randn(4), "labels": torch.tensor(i % 2)} for i in range(32)]

args = TrainingArguments(
    output_dir="hf_out",
    report_to="wandb",
    logging_steps=1,
    run_name="bert-base-high-lr",
    num_train_epochs=1,
    per_device_train_batch_size=8,
    use_cpu=True,
    save_strategy="no",
)
trainer = Trainer(model=TinyModel(), args=args, train_dataset=train_dataset)
trainer.train()
