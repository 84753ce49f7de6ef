# "Import and export data", querying runs with MongoDB-style filters
# (docs.wandb.ai/guides/track/public-api-guide; wandb/docs models/track/public-api-guide.mdx).
# The docs query runs that exist already; here three are logged first. Changed: the import line.
import fwtrack.wandb as wandb

for lr in (0.001, 0.01, 0.1):
    with wandb.init(project="api-filters", config={"lr": lr}, name=f"lr-{lr}") as run:
        run.log({"loss": lr * 10})

api = wandb.Api()
runs = api.runs("api-filters", filters={"config.lr": {"$gt": 0.005}})
for run in runs:
    print("matched", run.name, run.config["lr"])
runs = api.runs("api-filters", filters={"$or": [{"config.lr": 0.001}, {"display_name": "lr-0.1"}]})
for run in runs:
    print("or", run.name)
