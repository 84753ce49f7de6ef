# PyTorch integration, "Log gradients with wandb.watch" (docs.wandb.ai/guides/integrations/pytorch;
# wandb/docs models/integrations/pytorch.mdx). The docs' model and dataloader are left to the
# reader; here a tiny linear model on in-memory random data. Changed: the import line.
import torch
from torch import nn

import fwtrack.wandb as wandb

torch.manual_seed(0)
config = {"learning_rate": 0.01, "epochs": 2}
wandb.init(project="pytorch_watch", config=config)

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=wandb.config.learning_rate)
criterion = nn.MSELoss()
data = [(torch.randn(16, 4), torch.randn(16, 1)) for _ in range(10)]

wandb.watch(model, criterion, log="all", log_freq=5)

for epoch in range(wandb.config.epochs):
    for x, y in data:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        wandb.log({"loss": loss.item(), "epoch": epoch})
wandb.finish()
