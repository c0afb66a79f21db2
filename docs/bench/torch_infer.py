"""PyTorch reference for `gesture-app bench`, run beside it on the same cores: the backbone's
features (torchvision squeezenet1_1, or BN-Inception as pretrainedmodels defines it: conv + BN +
ReLU units, ceil-mode pools, eval-mode BatchNorm as separate ops) -> global average pool ->
new_fc (-> 256) -> MLP or TRNmultiscale (the original's random draw of 3 relations per scale)
over N segments, 27 classes; one frame through backbone + new_fc, and one clip of N frames at
224x224; eval + no_grad, 2 threads, 3 warm-ups, median of 15.

Run pinned to two cores, e.g.  taskset -c 0,1 python torch_infer.py --arch BNInception --json"""
import argparse
import itertools
import json
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


def unit(c_in, c_out, k, stride=1, pad=0):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, pad), nn.BatchNorm2d(c_out), nn.ReLU())


class Block(nn.Module):
    """An inception block: 1x1 | 3x3 | double 3x3 | pool (+ projection), concatenated."""

    def __init__(self, c_in, c1, c3r, c3, cdr, cd, pool, proj):
        super().__init__()
        s = 2 if pool == "reduce" else 1
        self.b1 = unit(c_in, c1, 1) if c1 else None
        self.b3 = nn.Sequential(unit(c_in, c3r, 1), unit(c3r, c3, 3, s, 1))
        self.bd = nn.Sequential(unit(c_in, cdr, 1), unit(cdr, cd, 3, 1, 1), unit(cd, cd, 3, s, 1))
        if pool == "avg":
            self.pool = nn.Sequential(nn.AvgPool2d(3, 1, 1, ceil_mode=True), unit(c_in, proj, 1))
        elif pool == "max":
            self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), unit(c_in, proj, 1))
        else:
            self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)

    def forward(self, x):
        parts = [self.b1(x)] if self.b1 is not None else []
        return torch.cat(parts + [self.b3(x), self.bd(x), self.pool(x)], 1)


def bninception():
    blocks = [  # c_in, 1x1, 3x3 reduce, 3x3, double reduce, double, pool, projection
        (192, 64, 64, 64, 64, 96, "avg", 32), (256, 64, 64, 96, 64, 96, "avg", 64),
        (320, 0, 128, 160, 64, 96, "reduce", 0), (576, 224, 64, 96, 96, 128, "avg", 128),
        (576, 192, 96, 128, 96, 128, "avg", 128), (576, 160, 128, 160, 128, 160, "avg", 128),
        (608, 96, 128, 192, 160, 192, "avg", 128), (608, 0, 128, 192, 192, 256, "reduce", 0),
        (1056, 352, 192, 320, 160, 224, "avg", 128), (1024, 352, 192, 320, 192, 224, "max", 128),
    ]
    return nn.Sequential(
        unit(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
        unit(64, 64, 1), unit(64, 192, 3, 1, 1), nn.MaxPool2d(3, 2, ceil_mode=True),
        *[Block(*b) for b in blocks],
    )


def times_ms(f, iters, warmup):
    """Median and fastest of the timed runs, ms."""
    times = []
    with torch.no_grad():
        for i in range(warmup + iters):
            t = time.perf_counter()
            f()
            if i >= warmup:
                times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times)


parser = argparse.ArgumentParser()
parser.add_argument("--arch", nargs="+", default=["squeezenet1_1", "BNInception"])
parser.add_argument("--consensus", nargs="+", default=["MLP", "TRNmultiscale"])
parser.add_argument("--segments", nargs="+", type=int, default=[8, 16])
parser.add_argument("--iters", type=int, default=15)
parser.add_argument("--warmup", type=int, default=3)
parser.add_argument("--json", action="store_true", help="one JSON line per case")
args = parser.parse_args()
heads = {"MLP": Mlp, "TRNmultiscale": Trn}
for arch in args.arch:
    if arch == "squeezenet1_1":
        base, width = torchvision.models.squeezenet1_1().features.eval(), 512
    elif arch == "BNInception":
        base, width = bninception().eval(), 1024
    else:
        raise SystemExit(f"unknown --arch {arch}: squeezenet1_1 or BNInception")
    new_fc = nn.Linear(width, D).eval()
    frame = torch.randn(1, 3, 224, 224)
    frame_ms, frame_best_ms = times_ms(
        lambda: new_fc(base(frame).mean((2, 3))), args.iters, args.warmup
    )
    for head_name in args.consensus:
        for n in args.segments:
            head = heads[head_name](n).eval()
            x = torch.randn(n, 3, 224, 224)
            clip_ms, clip_best_ms = times_ms(
                lambda: head(new_fc(base(x).mean((2, 3))).view(1, n, D)), args.iters, args.warmup
            )
            if args.json:
                print(json.dumps({"torch": torch.__version__, "arch": arch, "consensus": head_name,
                                  "segments": n, "frame_ms": frame_ms,
                                  "frame_best_ms": frame_best_ms, "clip_ms": clip_ms,
                                  "clip_best_ms": clip_best_ms}))
            else:
                print(f"torch {torch.__version__} {arch} {head_name} N={n}: "
                      f"{frame_ms:.1f} ms/frame, {clip_ms:.1f} ms/clip")
