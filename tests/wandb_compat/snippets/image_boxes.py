# "Log media": image with bounding boxes (docs.wandb.ai/guides/track/log/media; wandb/docs
# models/track/log/media.mdx). The docs' image is a loaded photo; here a random array.
# Changed: the import line.
import numpy as np

import fwtrack.wandb as wandb

wandb.init(project="my_project")
image = np.random.randint(0, 255, size=(120, 160, 3), dtype=np.uint8)
class_id_to_label = {1: "car", 2: "road", 3: "building"}

img = wandb.Image(
    image,
    boxes={
        "predictions": {
            "box_data": [
                {
                    "position": {"minX": 0.1, "maxX": 0.2, "minY": 0.3, "maxY": 0.4},
                    "class_id": 2,
                    "box_caption": class_id_to_label[2],
                    "scores": {"acc": 0.1, "loss": 1.2},
                },
                {
                    "position": {"middle": [50, 60], "width": 20, "height": 30},
                    "domain": "pixel",
                    "class_id": 3,
                    "box_caption": "a building",
                    "scores": {"acc": 0.5, "loss": 0.7},
                },
            ],
            "class_labels": class_id_to_label,
        },
    },
)
wandb.log({"driving_scene": img})
wandb.finish()
