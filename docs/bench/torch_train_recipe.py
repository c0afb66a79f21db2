"""PyTorch side-by-side of `gesture-app train --recipe RECIPE --root DATA` on the same data folder:
the same model (torchvision squeezenet1_1 features -> global average pool -> dropout -> new_fc
(512 -> img_feature_dim) -> MLP consensus: ReLU, Linear(N*D, 512), Dropout(0.2), ReLU,
Linear(512, C)), the same TSN sampling (a random frame per segment for training, segment centres
for validation), the same augmentation (GroupMultiScaleCrop with scales 1/.875/.75/.66 of the
shorter side at the 13 fixed offsets, horizontal flip only between mirror classes by name), the
same evaluation resize + centre crop (or, with `framing = "whole_frame"`, the whole frame squashed
to the input and crops scaled per side), ImageNet normalisation, Adam (or SGD) with the recipe's lr,
lr steps, linear per-step warm-up, gradient-norm clipping and batch size. The recipe's
`modality = "RGBDiff"` with `new_length = K` reads K + 1 consecutive frames per segment (TSN's
sampling over `num_frames - K` starts) and feeds the K differences of neighbouring normalised
frames, stacked as 3K channels, to a first convolution with 3K inputs (TSN's `_get_diff`).
Only squeezenet1_1 + MLP (the demo family) is implemented; torchvision's own initialisation is
used (kaiming-uniform convolutions, zero biases), which is the "torch-style" init the recipe
write-up compares with.

It prints one line per epoch like gesture-app's, plus how many of the 512 pooled backbone
features vary at all over the validation set (a collapsed network has none), so the two
implementations can be compared epoch by epoch.

    /work/torchenv/bin/python docs/bench/torch_train_recipe.py --recipe training/demo.toml \\
        --root DATA [--epochs 5] [--threads 2]
"""
import argparse
import math
import os
import random
import re
import time
import tomllib

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image

SCALES = [1.0, 0.875, 0.75, 0.66]
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MIRROR = {"left": "right", "right": "left", "clockwise": "counterclockwise",
          "counterclockwise": "clockwise"}


def read_recipe(path):
    with open(path, "rb") as f:
        r = tomllib.load(f)
    m, o, run = r.get("model", {}), r.get("optim", {}), r.get("run", {})
    return dict(
        arch=m.get("arch", "BNInception"), consensus=m.get("consensus", "TRNmultiscale"),
        segments=m.get("segments", 8), dim=m.get("img_feature_dim", 256),
        dropout=m.get("dropout", 0.3), input=m.get("input_size", 224),
        resize=m.get("resize_size", 256), optimizer=o.get("optimizer", "sgd"),
        lr=o.get("lr", 0.001), lr_steps=o.get("lr_steps", [15, 25]),
        momentum=o.get("momentum", 0.9), wd=o.get("weight_decay", 5e-4),
        clip=o.get("clip_gradient", 20.0), epochs=o.get("epochs", 30),
        batch=o.get("batch_size", 16), warmup=o.get("warmup_epochs", 0),
        seed=run.get("seed", 1), flip=run.get("flip", "auto"),
        diffs=m.get("new_length", 5) if m.get("modality", "RGB") == "RGBDiff" else 0,
        whole=m.get("framing", "center_crop") == "whole_frame")


def mirror_map(labels):
    """Label index -> its mirror's index (left <-> right, clockwise <-> counterclockwise)."""
    index = {l.lower(): i for i, l in enumerate(labels)}
    out = {}
    for i, l in enumerate(labels):
        words = re.split(r"(\W+)", l.lower())
        swapped = [MIRROR.get(w, w) for w in words]
        if swapped != words and "".join(swapped) in index:
            out[i] = index["".join(swapped)]
    return out


def read_list(root, name):
    clips = []
    for line in open(os.path.join(root, name)):
        parts = line.split()
        if len(parts) == 3:
            clips.append((parts[0], int(parts[1]), int(parts[2])))
    return clips


def load_frame(root, cid, idx):
    return Image.open(os.path.join(root, "rgb", cid, f"{idx + 1:05d}.jpg")).convert("RGB")


def train_indices(n_frames, n, rng):
    avg = n_frames // n
    if avg > 0:
        return [i * avg + rng.randrange(avg) for i in range(n)]
    return sorted(rng.randrange(n_frames) for _ in range(n)) if n_frames > n else [0] * n


def eval_indices(n_frames, n):
    tick = n_frames / n
    return [min(int(tick / 2 + tick * i), n_frames - 1) for i in range(n)]


def multiscale_crop(w, h, size, rng):
    base = min(w, h)
    sizes = []
    for s in SCALES:
        x = int(base * s)
        sizes.append(max(size if abs(x - size) < 3 else x, 1))
    pairs = [(min(cw, w), min(ch, h)) for i, ch in enumerate(sizes)
             for j, cw in enumerate(sizes) if abs(i - j) <= 1]
    return place_crop(w, h, pairs[rng.randrange(len(pairs))], rng)


def place_crop(w, h, size, rng):
    """TSN's fill_fix_offset(more_fix_crop=True): one of 13 fixed places for a crop of `size`."""
    cw, ch = size
    ws, hs = (w - cw) // 4, (h - ch) // 4
    offs = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs), (0, 2 * hs),
            (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0), (ws, hs), (3 * ws, hs),
            (ws, 3 * hs), (3 * ws, 3 * hs)]
    x, y = offs[rng.randrange(len(offs))]
    return (x, y, x + cw, y + ch)


def whole_frame_crop(w, h, rng):
    """`framing = "whole_frame"`: the scales apply to each side (at most one step apart)."""
    sides = [(max(1, min(int(w * sw), w)), max(1, min(int(h * sh), h)))
             for i, sh in enumerate(SCALES) for j, sw in enumerate(SCALES) if abs(i - j) <= 1]
    return place_crop(w, h, sides[rng.randrange(len(sides))], rng)


def to_array(img):
    a = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return a.transpose(2, 0, 1)


def segment_frames(starts, k, n_frames):
    """Each segment's k + 1 consecutive frames, clamped to the clip."""
    return [min(s + j, n_frames - 1) for s in starts for j in range(k + 1)]


def load_clip(root, clip, cfg, mirrors, rng=None):
    cid, n_frames, label = clip
    n, size, k = cfg["segments"], cfg["input"], cfg["diffs"]
    starts_len = max(1, n_frames - k)
    frames = []
    if rng is not None:
        idx = segment_frames(train_indices(starts_len, n, rng), k, n_frames)
        imgs = [load_frame(root, cid, i) for i in idx]
        if cfg["whole"]:
            box = whole_frame_crop(*imgs[0].size, rng)
        else:
            box = multiscale_crop(*imgs[0].size, size, rng)
        flip = label in mirrors and cfg["flip"] == "auto" and rng.random() < 0.5
        if flip:
            label = mirrors[label]
        for im in imgs:
            im = im.crop(box).resize((size, size), Image.BILINEAR)
            if flip:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            frames.append(to_array(im))
    else:
        for i in segment_frames(eval_indices(starts_len, n), k, n_frames):
            im = load_frame(root, cid, i)
            if cfg["whole"]:
                frames.append(to_array(im.resize((size, size), Image.BILINEAR)))
                continue
            w, h = im.size
            r = cfg["resize"]
            nw, nh = (r, (h * r + w // 2) // w) if w <= h else ((w * r + h // 2) // h, r)
            im = im.resize((nw, nh), Image.BILINEAR)
            x0, y0 = round((nw - size) / 2), round((nh - size) / 2)
            frames.append(to_array(im.crop((x0, y0, x0 + size, y0 + size))))
    a = np.stack(frames).reshape(n, k + 1, 3, size, size)
    if k > 0:
        a = a[:, 1:] - a[:, :-1]  # [n, k, 3, s, s]: newer minus older
    return a.reshape(n, -1, size, size).astype(np.float32), label


class Tsn(nn.Module):
    def __init__(self, cfg, classes):
        super().__init__()
        n, d = cfg["segments"], cfg["dim"]
        self.n, self.d = n, d
        self.base = torchvision.models.squeezenet1_1(weights=None).features
        if cfg["diffs"] > 0:
            # TSN's RGBDiff: the first convolution reads 3 channels per frame difference.
            self.base[0] = nn.Conv2d(3 * cfg["diffs"], 64, 3, 2)
            nn.init.kaiming_uniform_(self.base[0].weight)
            nn.init.zeros_(self.base[0].bias)
        self.drop = nn.Dropout(cfg["dropout"])
        self.new_fc = nn.Linear(512, d)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(n * d, 512), nn.Dropout(0.2), nn.ReLU(),
                                  nn.Linear(512, classes))

    def features(self, x):  # [b, n, c_in, s, s] -> [b * n, 512]
        return self.base(x.flatten(0, 1)).mean((2, 3))

    def forward(self, x):
        b = x.shape[0]
        f = self.new_fc(self.drop(self.features(x)))
        return self.head(f.view(b, self.n * self.d))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup-epochs", type=int)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    cfg = read_recipe(a.recipe)
    for k, v in (("epochs", a.epochs), ("lr", a.lr), ("warmup", a.warmup_epochs)):
        if v is not None:
            cfg[k] = v
    if cfg["arch"] != "squeezenet1_1" or cfg["consensus"] != "MLP":
        raise SystemExit("only squeezenet1_1 + MLP recipes are implemented here")
    torch.set_num_threads(a.threads)
    torch.manual_seed(cfg["seed"])
    labels = [l.strip() for l in open(os.path.join(a.root, "category.txt")) if l.strip()]
    mirrors = mirror_map(labels)
    train, val = read_list(a.root, "train_videofolder.txt"), read_list(a.root, "val_videofolder.txt")
    model = Tsn(cfg, len(labels))
    # The original's parameter groups: biases at twice the lr, without weight decay.
    weights = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    groups = [{"params": weights, "lr_mult": 1.0},
              {"params": biases, "lr_mult": 2.0, "weight_decay": 0.0}]
    if cfg["optimizer"].lower() == "adam":
        opt = torch.optim.Adam(groups, lr=cfg["lr"], weight_decay=cfg["wd"])
    else:
        opt = torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["wd"])
    print(f"torch {torch.__version__}, {a.threads} threads; {len(train)} train / {len(val)} val "
          f"clips, {len(labels)} classes; {cfg}")
    val_x = [load_clip(a.root, c, cfg, mirrors) for c in val]
    step, bs = 0, cfg["batch"]
    warm_steps = cfg["warmup"] * math.ceil(len(train) / bs)
    for epoch in range(cfg["epochs"]):
        t0 = time.time()
        lr = cfg["lr"] * 0.1 ** sum(epoch >= s for s in cfg["lr_steps"])
        rng = random.Random(cfg["seed"] * 1000 + epoch)
        order = list(range(len(train)))
        rng.shuffle(order)
        model.train()
        tot, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(order), bs):
            batch = [load_clip(a.root, train[j], cfg, mirrors, rng) for j in order[i:i + bs]]
            x = torch.from_numpy(np.stack([b[0] for b in batch]))
            y = torch.tensor([b[1] for b in batch])
            for g in opt.param_groups:
                ramp = min(1.0, (step + 1) / warm_steps) if warm_steps else 1.0
                g["lr"] = lr * ramp * g["lr_mult"]
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            if cfg["clip"] > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
            opt.step()
            step += 1
            tot += len(batch)
            correct += (out.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(batch)
        secs = time.time() - t0
        model.eval()
        with torch.no_grad():
            vc, feats = 0, []
            for i in range(0, len(val_x), bs):
                x = torch.from_numpy(np.stack([v[0] for v in val_x[i:i + bs]]))
                y = torch.tensor([v[1] for v in val_x[i:i + bs]])
                vc += (model(x).argmax(1) == y).sum().item()
                feats.append(model.features(x))
            f = torch.cat(feats)
            live = int((f.std(0) > 1e-6).sum())
        print(f"epoch {epoch + 1:>3}/{cfg['epochs']}  lr {lr:.1e}  train loss "
              f"{loss_sum / tot:.4f} top1 {100 * correct / tot:5.1f}%  val top1 "
              f"{100 * vc / len(val_x):5.1f}%  live features {live}/512  ({secs:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
