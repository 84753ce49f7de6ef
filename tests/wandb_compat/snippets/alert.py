# "Send alerts with wandb.Run.alert()" (docs.wandb.ai/guides/runs/alert; wandb/docs
# models/runs/alert.mdx): an alert when accuracy falls below a threshold. Changed: the import
# line.
import fwtrack.wandb as wandb

run = wandb.init(project="alerts")
acc = 0.75
threshold = 0.8
if acc < threshold:
    run.alert(
        title="Low accuracy",
        text=f"Accuracy {acc} is below the acceptable threshold {threshold}",
        level=wandb.AlertLevel.WARN,
        wait_duration=300,
    )
run.finish()
