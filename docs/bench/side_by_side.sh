#!/usr/bin/env bash
# gesture-app and PyTorch side by side on this machine (issue 12): ROUNDS alternating rounds of
# `gesture-app bench --json` and `docs/bench/torch_infer.py --json` on the same cases, then one
# markdown table. On a shared VM one run can be 30–80 % slower than the next, for both
# implementations alike; alternating rounds, reporting the median of the rounds and the fastest
# single run, and the median of the per-round clip ratios keeps that drift out of the comparison.
#
#   docs/bench/side_by_side.sh [ROUNDS]          (default 3)
#
# Environment:
#   ISA        avx2 (default) or avx512. avx2 caps both sides to AVX2 + FMA: our kernels with
#              GESTURE_APP_SIMD=avx2 (build gesture-app with --no-default-features for AVX2
#              gemm), PyTorch with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2.
#   GESTURE_APP  the binary (default target/release/gesture-app)
#   PYTHON     a Python with torch and torchvision (default python3)
#   ARCHS      default "squeezenet1_1 BNInception"; CONSENSUS default "MLP TRNmultiscale";
#   SEGMENTS   default 8; ITERS (timed runs per case and round) default 15.
#   OUT        where the raw JSON lines go (default runs/side_by_side.jsonl)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
isa=${ISA:-avx2}
bin=${GESTURE_APP:-target/release/gesture-app}
py=${PYTHON:-python3}
archs=${ARCHS:-squeezenet1_1 BNInception}
heads=${CONSENSUS:-MLP TRNmultiscale}
segments=${SEGMENTS:-8}
iters=${ITERS:-15}
out=${OUT:-runs/side_by_side.jsonl}
[ -x "$bin" ] || { echo "no $bin: build it with 'cargo build --release' or set GESTURE_APP" >&2; exit 2; }
"$py" -c "import torch, torchvision" 2>/dev/null ||
  { echo "$py has no torch/torchvision: pip install torch torchvision, or set PYTHON" >&2; exit 2; }
case "$isa" in
  avx2) ours_env=(GESTURE_APP_SIMD=avx2); torch_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
  avx512) ours_env=(GESTURE_APP_SIMD=avx512); torch_env=() ;;
  *) echo "ISA must be avx2 or avx512, not $isa" >&2; exit 2 ;;
esac
ours_cases=()
for a in $archs; do ours_cases+=(--arch "$a"); done
for c in $heads; do ours_cases+=(--consensus "$c"); done
for n in $segments; do ours_cases+=(--segments "$n"); done
mkdir -p "$(dirname "$out")"
: > "$out"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs; ISA $isa; $rounds rounds" >&2
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  env "${ours_env[@]}" "$bin" bench --json "${ours_cases[@]}" --iters "$iters" | sed "s/^{/{\"round\":$r,\"impl\":\"ours\",/" >> "$out"
  # shellcheck disable=SC2086
  env "${torch_env[@]}" "$py" docs/bench/torch_infer.py --json --arch $archs --consensus $heads \
    --segments $segments --iters "$iters" | sed "s/^{/{\"round\": $r, \"impl\": \"torch\", /" >> "$out"
done
"$py" - "$out" "$isa" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
isa = sys.argv[2]
cases = {}
for r in rows:
    key = (r["arch"], r["consensus"], r["segments"])
    cases.setdefault(key, {}).setdefault(r["impl"], {})[r["round"]] = r
simd = next((r["simd"] for r in rows if r["impl"] == "ours"), "?")
torch = next((r["torch"] for r in rows if r["impl"] == "torch"), "?")
print(f"gesture-app ({simd}) vs PyTorch {torch}; ms: median of the rounds' medians "
      "(fastest single run of all rounds)")
print()
print("| ISA | backbone | head | N | gesture-app frame | gesture-app clip | PyTorch frame "
      "| PyTorch clip | clip ratio, median (range) of rounds |")
print("|---|---|---|---|---|---|---|---|---|")
def fmt(d, field):
    med = statistics.median(v[field] for v in d.values())
    best = min(v.get(field.replace("_ms", "_best_ms"), v[field]) for v in d.values())
    return f"{med:.1f} ({best:.1f})"
for (arch, head, n), by in sorted(cases.items(), key=lambda kv: (kv[0][0] != "BNInception", kv[0])):
    ours, ref = by.get("ours", {}), by.get("torch", {})
    both = sorted(set(ours) & set(ref))
    ratios = [ours[k]["clip_ms"] / ref[k]["clip_ms"] for k in both]
    ratio = (f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
             if ratios else "-")
    cells = [fmt(d, f) if d else "-"
             for d, f in ((ours, "frame_ms"), (ours, "clip_ms"), (ref, "frame_ms"), (ref, "clip_ms"))]
    print(f"| {isa.upper()} | {arch} | {head} | {n} | " + " | ".join(cells) + f" | {ratio} |")
PY
