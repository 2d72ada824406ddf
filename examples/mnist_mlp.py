"""A small MNIST-style training script with the mistakes actlint was built to catch.

    actlint examples/mnist_mlp.py          # lists them (exit 1)
    actlint --fix examples/mnist_mlp.py    # applies the safe fixes
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, inputs=784, hidden=256, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, classes)
        nn.init.xavier_uniform_(self.fc1.weight)  # expect: ACT106

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))  # expect: ACT101
        return F.softmax(self.out(x))  # expect: ACT102, ACT104


def confidence(logits):
    return torch.log(torch.softmax(logits, dim=-1))  # expect: ACT109


model = MLP()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

for step in range(100):
    x = torch.randn(64, 784)
    y = torch.randint(0, 10, (64,))
    loss = criterion(model(x), y)
    optimizer.zero_grad()
    loss.backward()  # expect: ACT107
    optimizer.step()
