"""Summarises `ncu --csv --metrics gpu__time_duration.sum` output: kernel count and GPU time,
total and per kernel name (top 15). Usage: ncu_summary.py NCU.csv"""
import collections
import csv
import sys

scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "ns": 1e-6, "us": 1e-3, "ms": 1.0}
rows = []
with open(sys.argv[1], newline="") as f:
    lines = [l for l in f if l.startswith('"')]
for r in csv.DictReader(lines):
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    ms = float(r["Metric Value"].replace(",", "")) * scale.get(r.get("Metric Unit", "ns"), 1e-6)
    rows.append((r["Kernel Name"].split("(")[0][:60], ms))
by = collections.defaultdict(lambda: [0, 0.0])
for name, ms in rows:
    by[name][0] += 1
    by[name][1] += ms
total = sum(ms for _, ms in rows)
print(f"{sys.argv[1]}: {len(rows)} kernels, {total:.3f} ms GPU time in all")
for name, (n, ms) in sorted(by.items(), key=lambda kv: -kv[1][1])[:15]:
    print(f"  {n:5d} x {name:60s} {ms:8.3f} ms")
