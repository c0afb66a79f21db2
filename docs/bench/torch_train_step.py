"""PyTorch reference for `gesture-app bench-train`'s training step, on the CPU with 2 threads:
torchvision squeezenet1_1 features -> global average pool -> dropout -> new_fc (512 -> 256)
-> TRNmultiscale (the original's random draw of 3 relations per scale) over N = 8 segments,
9 classes, batch 8 at 224x224 of random input, cross-entropy, backward, SGD (momentum 0.9,
weight decay 5e-4). One warm-up step, then the mean of --steps timed steps, split like
gesture-app's report (forward incl. loss / backward / optimiser).

Run pinned to two cores, e.g.  taskset -c 0,1 python torch_train_step.py"""
import argparse
import itertools
import random
import time

import torch
import torch.nn as nn
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=4)
p.add_argument("--segments", type=int, default=8)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--size", type=int, default=224)
a = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
N, B, S, C, D = a.segments, a.batch, a.size, 9, 256


class TRNmultiscale(nn.Module):
    """As in TRN-pytorch's TRNconsensus.RelationModuleMultiScale."""

    def __init__(self):
        super().__init__()
        self.scales = list(range(N, 1, -1))
        self.relations = [list(itertools.combinations(range(N), s)) for s in self.scales]
        self.fc = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Linear(s * D, 256), nn.ReLU(), nn.Linear(256, C))
            for s in self.scales
        )

    def forward(self, x):  # [b, n, d]
        out = self.fc[0](x[:, list(self.relations[0][0]), :].flatten(1))
        for i in range(1, len(self.scales)):
            for r in random.sample(range(len(self.relations[i])), min(3, len(self.relations[i]))):
                out = out + self.fc[i](x[:, list(self.relations[i][r]), :].flatten(1))
        return out


class Tsn(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = torchvision.models.squeezenet1_1().features
        self.drop = nn.Dropout(0.8)
        self.new_fc = nn.Linear(512, D)
        self.consensus = TRNmultiscale()

    def forward(self, x):  # [b, n, 3, s, s]
        f = self.base(x.flatten(0, 1)).mean((2, 3))  # [b*n, 512]
        return self.consensus(self.new_fc(self.drop(f)).view(B, N, D))


model = Tsn().train()
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
x = torch.randn(B, N, 3, S, S)
y = torch.arange(B) % C
fwd = bwd = stp = 0.0
for i in range(a.steps + 1):
    t0 = time.perf_counter()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.item()
    t1 = time.perf_counter()
    opt.zero_grad()
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    t3 = time.perf_counter()
    if i > 0:
        fwd, bwd, stp = fwd + t1 - t0, bwd + t2 - t1, stp + t3 - t2
n = a.steps
print(
    f"torch {torch.__version__} squeezenet1_1 + TRNmultiscale N={N} {S}px batch {B}, 2 threads: "
    f"forward {1e3 * fwd / n:.0f} ms, backward {1e3 * bwd / n:.0f} ms, optimiser {1e3 * stp / n:.0f} ms "
    f"per batch -> {B * n / (fwd + bwd + stp):.2f} clips/s"
)
