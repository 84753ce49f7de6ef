# "Log plots": line, scatter, bar and histogram from a wandb.Table
# (docs.wandb.ai/guides/track/log/plots; wandb/docs models/track/log/plots.mdx).
# Changed: the import line.
import math

import fwtrack.wandb as wandb

wandb.init(project="custom-charts")

data = [[x, math.sin(x / 10)] for x in range(50)]
table = wandb.Table(data=data, columns=["x", "y"])
wandb.log({"my_custom_plot_id": wandb.plot.line(table, "x", "y", title="Custom Y vs X Line Plot")})

scatter_data = [[i / 10, (i * 7 % 10) / 10] for i in range(20)]
table = wandb.Table(data=scatter_data, columns=["class_x", "class_y"])
wandb.log({"my_custom_id": wandb.plot.scatter(table, "class_x", "class_y")})

bar_data = [["cat", 3], ["dog", 5], ["bird", 2]]
table = wandb.Table(data=bar_data, columns=["label", "value"])
wandb.log({"my_bar_chart_id": wandb.plot.bar(table, "label", "value", title="Custom Bar Chart")})

scores = [[s / 100] for s in range(0, 100, 3)]
table = wandb.Table(data=scores, columns=["scores"])
wandb.log({"my_histogram": wandb.plot.histogram(table, "scores", title="Histogram")})

wandb.log(
    {
        "my_line_series": wandb.plot.line_series(
            xs=[0, 1, 2, 3],
            ys=[[10, 20, 30, 40], [0.5, 11, 72, 3]],
            keys=["metric Y", "metric Z"],
            title="Two Random Metrics",
            xname="x units",
        )
    }
)
wandb.finish()
