# "Log tables" (docs.wandb.ai/guides/track/log/log-tables; wandb/docs
# models/track/log/log-tables.mdx): a table built from columns and rows, then add_data.
# Changed: the import line.
import fwtrack.wandb as wandb

run = wandb.init(project="table-test")
my_table = wandb.Table(columns=["a", "b"], data=[["a1", "b1"], ["a2", "b2"]])
my_table.add_data("a3", "b3")
run.log({"Table Name": my_table})
run.finish()
