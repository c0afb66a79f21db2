"""PyTorch reference for `gesture-app bench` (squeezenet1_1 rows), run beside it on the same
cores: torchvision squeezenet1_1 features -> global average pool -> new_fc (512 -> 256) -> MLP
or TRNmultiscale (the original's random draw of 3 relations per scale) over N segments, 27
classes, one clip of N frames at 224x224, eval + no_grad, 2 threads; 3 warm-ups, median of 15.

Run pinned to two cores, e.g.  taskset -c 0,1 python torch_infer.py"""
import itertools
import random
import statistics
import time

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(2)
D, C = 256, 27


class Mlp(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n
        self.fc = nn.Sequential(nn.ReLU(), nn.Linear(n * D, 512), nn.ReLU(), nn.Linear(512, C))

    def forward(self, x):  # [b, n, d]
        return self.fc(x.flatten(1))


class Trn(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.scales = list(range(n, 1, -1))
        self.relations = [list(itertools.combinations(range(n), s)) for s in self.scales]
        self.fc = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Linear(s * D, 256), nn.ReLU(), nn.Linear(256, C))
            for s in self.scales
        )

    def forward(self, x):
        out = self.fc[0](x[:, list(self.relations[0][0]), :].flatten(1))
        for i in range(1, len(self.scales)):
            for r in random.sample(range(len(self.relations[i])), min(3, len(self.relations[i]))):
                out = out + self.fc[i](x[:, list(self.relations[i][r]), :].flatten(1))
        return out


base = torchvision.models.squeezenet1_1().features.eval()
new_fc = nn.Linear(512, D).eval()
for head_name, head_cls in (("MLP", Mlp), ("TRNmultiscale", Trn)):
    for n in (8, 16):
        head = head_cls(n).eval()
        x = torch.randn(n, 3, 224, 224)
        times = []
        with torch.no_grad():
            for i in range(18):
                t = time.perf_counter()
                head(new_fc(base(x).mean((2, 3))).view(1, n, D))
                if i >= 3:
                    times.append((time.perf_counter() - t) * 1e3)
        print(f"torch {torch.__version__} squeezenet1_1 {head_name} N={n}: {statistics.median(times):.1f} ms/clip")
