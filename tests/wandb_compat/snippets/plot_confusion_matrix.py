# "Log plots", confusion matrix (docs.wandb.ai/guides/track/log/plots; wandb/docs
# models/track/log/plots.mdx). The docs' predictions come from a model; here fixed lists.
# Changed: the import line.
import fwtrack.wandb as wandb

wandb.init(project="plots")
class_names = ["cat", "dog", "bird"]
ground_truth = [0, 1, 2, 2, 1, 0, 1]
predictions = [0, 1, 1, 2, 1, 2, 1]
cm = wandb.plot.confusion_matrix(y_true=ground_truth, preds=predictions, class_names=class_names)
wandb.log({"conf_mat": cm})
wandb.finish()
