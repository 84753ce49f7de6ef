# "Import and export data": read a run's metrics with scan_history and history
# (docs.wandb.ai/guides/track/public-api-guide; wandb/docs models/track/public-api-guide.mdx).
# The docs read a run that exists already; here it is logged first. Changed: the import line.
import fwtrack.wandb as wandb

with wandb.init(project="api-history") as run:
    for i in range(10):
        row = {"loss": 1.0 / (i + 1)}
        if i % 2 == 0:
            row["val_acc"] = i / 10
        run.log(row)
    run_path = f"api-history/{run.id}"

api = wandb.Api()
run = api.run(run_path)
history = run.scan_history(keys=["loss", "val_acc"])
losses = [row["loss"] for row in history]
print("rows", len(losses))
run.summary["tensor"] = 42
run.summary.update()
print("summary", api.run(run_path).summary["tensor"])
