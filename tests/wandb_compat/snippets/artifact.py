# "Create an artifact" (docs.wandb.ai/guides/artifacts/construct-an-artifact; wandb/docs
# models/artifacts/construct-an-artifact.mdx): a dataset file logged as an artifact. The docs'
# file exists already; here it is written first. Changed: the import line.
import fwtrack.wandb as wandb

with open("dataset.h5", "wb") as f:
    f.write(b"\x00" * 128)

run = wandb.init(project="artifacts-example", job_type="add-dataset")
artifact = wandb.Artifact(name="my_data", type="dataset")
artifact.add_file(local_path="./dataset.h5")
run.log_artifact(artifact)
run.finish()
