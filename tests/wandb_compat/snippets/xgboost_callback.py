# XGBoost integration (docs.wandb.ai/guides/integrations/xgboost; wandb/docs
# models/integrations/xgboost.mdx): WandbCallback on an XGBClassifier. The docs' data is the
# reader's; here scikit-learn's bundled iris (no download). Changed: the import lines.
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

import fwtrack.wandb as wandb
from fwtrack.wandb.integration.xgboost import WandbCallback

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

run = wandb.init(project="xgboost-iris")
bst_params = {"n_estimators": 5, "max_depth": 2, "eval_metric": "mlogloss"}
xgbmodel = XGBClassifier(**bst_params, callbacks=[WandbCallback(log_model=True)])
xgbmodel.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
run.finish()
