# scikit-learn integration (docs.wandb.ai/guides/integrations/scikit; wandb/docs
# models/integrations/scikit.mdx): plot_classifier and plot_confusion_matrix. The docs' data is
# the reader's; here scikit-learn's bundled iris (no download). Changed: the import line.
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import fwtrack.wandb as wandb

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
labels = ["setosa", "versicolor", "virginica"]

wandb.init(project="visualize-sklearn")
model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X_train, y_train)
y_pred = model.predict(X_test)
y_probas = model.predict_proba(X_test)

wandb.sklearn.plot_classifier(
    model,
    X_train,
    X_test,
    y_train,
    y_test,
    y_pred,
    y_probas,
    labels,
    model_name="RandomForest",
    feature_names=None,
)
wandb.sklearn.plot_confusion_matrix(y_test, y_pred, labels)
wandb.finish()
