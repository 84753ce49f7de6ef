# "Log media": image with segmentation masks (docs.wandb.ai/guides/track/log/media; wandb/docs
# models/track/log/media.mdx). The docs' image and masks come from a dataset; here arrays.
# Changed: the import line.
import numpy as np

import fwtrack.wandb as wandb

run = wandb.init(project="image_masks")
image = np.random.randint(0, 255, size=(64, 64, 3), dtype=np.uint8)
predicted_mask = np.zeros((64, 64), dtype=np.int64)
predicted_mask[10:30, 10:30] = 1
ground_truth_mask = np.zeros((64, 64), dtype=np.int64)
ground_truth_mask[12:32, 12:32] = 1
class_labels = {0: "background", 1: "person"}

masked_image = wandb.Image(
    image,
    masks={
        "predictions": {"mask_data": predicted_mask, "class_labels": class_labels},
        "ground_truth": {"mask_data": ground_truth_mask, "class_labels": class_labels},
    },
)
run.log({"img_with_masks": masked_image})
run.finish()
