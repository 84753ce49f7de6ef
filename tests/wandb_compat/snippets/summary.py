# "Log summary metrics" (docs.wandb.ai/guides/track/log/log-summary; wandb/docs
# models/track/log/log-summary.mdx): the best accuracy kept in the run summary. Changed: the
# import line.
import fwtrack.wandb as wandb

run = wandb.init(project="summary_example")
best_accuracy = 0.0
for epoch in range(5):
    accuracy = [0.5, 0.7, 0.9, 0.8, 0.6][epoch]
    run.log({"accuracy": accuracy})
    if accuracy > best_accuracy:
        run.summary["best_accuracy"] = accuracy
        best_accuracy = accuracy
wandb.run.summary.update({"test_accuracy": 0.85})
run.finish()
