# "Log media": 3D point clouds (docs.wandb.ai/guides/track/log/media; wandb/docs
# models/track/log/media.mdx): numpy arrays of (x, y, z), (x, y, z, category) and
# (x, y, z, r, g, b). Changed: the import line.
import numpy as np

import fwtrack.wandb as wandb

run = wandb.init(project="point_clouds")
rng = np.random.default_rng(0)
point_cloud = rng.normal(size=(100, 3))
with_category = np.hstack([point_cloud, rng.integers(1, 5, size=(100, 1))])
with_rgb = np.hstack([point_cloud, rng.integers(0, 255, size=(100, 3))])
wandb.log(
    {
        "point_cloud": wandb.Object3D(point_cloud),
        "point_cloud_category": wandb.Object3D(with_category),
        "point_cloud_rgb": wandb.Object3D(with_rgb),
    }
)
run.finish()
