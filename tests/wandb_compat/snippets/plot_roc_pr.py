# "Log plots": ROC and precision-recall curves (docs.wandb.ai/guides/track/log/plots; wandb/docs
# models/track/log/plots.mdx). The docs' scores come from a model; here fixed arrays.
# Changed: the import line.
import numpy as np

import fwtrack.wandb as wandb

wandb.init(project="custom-charts")
ground_truth = np.array([0, 1, 1, 0, 1, 0, 1, 1])
predictions = np.array(
    [
        [0.9, 0.1],
        [0.2, 0.8],
        [0.4, 0.6],
        [0.7, 0.3],
        [0.1, 0.9],
        [0.6, 0.4],
        [0.3, 0.7],
        [0.55, 0.45],
    ]
)
wandb.log({"roc": wandb.plot.roc_curve(ground_truth, predictions, labels=["no", "yes"])})
wandb.log({"pr": wandb.plot.pr_curve(ground_truth, predictions, labels=["no", "yes"])})
wandb.finish()
