#!/usr/bin/env bash
# GPU check of gesture-app on a CUDA machine: parity of `classify --device cuda` against the
# PyTorch fixtures, then `bench --device cuda`. Run from the folder holding:
#   gesture-app.xz (stripped, xz-compressed CUDA build), fixtures/CASE.safetensors (or
#   CASE.safetensors.xz), fixtures/CASE_frames/, fixtures/CASE_logits.json ({"logits": [...]}),
#   compare.py, torch_bench.py
# Usage: gpu_check.sh OUTDIR [parity|goals|bench|all]   (goals: only the two H100 goal cases)
# GPU_CHECK_TAG labels the lines of this run (e.g. a TF32 setting) in OUTDIR's summaries.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?OUTDIR}
what=${2:-all}
mkdir -p "$out"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee -a "$out/env.txt"
# candle links libcuda, libcudart, libcublas(Lt), libcurand and libnvrtc: take CUDA 13's from
# the toolkit or the pip wheels already there.
libdirs=$(find /usr/local /usr/lib /opt -path '*stubs*' -prune -o -path '*compat*' -prune -o \( -name 'libcuda.so.1' -o -name 'libcublas.so.13' -o -name 'libnvrtc.so.13' -o -name 'libcurand.so.10' -o -name 'libcudart.so.13' -o -name 'libcudnn.so.9' \) -print 2>/dev/null | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:-}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" | tee -a "$out/env.txt"
bin=/tmp/gesture-app
unxz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
[ -x "$bin" ] || { unxz "$here/gesture-app.xz" "$bin" && chmod +x "$bin"; }
for z in "$here"/fixtures/*.safetensors.xz; do [ -e "$z" ] && unxz "$z" "${z%.xz}" && rm "$z"; done
ldd "$bin" | grep -E 'cuda|cublas|curand|nvrtc|cudnn|not found' | tee -a "$out/env.txt"
tag=${GPU_CHECK_TAG:-}
raw=$(mktemp -d)
status=0
if [ "$what" = parity ] || [ "$what" = all ] || [ "$what" = goals ]; then
  for w in "$here"/fixtures/*.safetensors; do
    case=$(basename "$w" .safetensors)
    t0=$EPOCHREALTIME
    if "$bin" classify --device "${GPU_CHECK_DEVICE:-cuda}" --json -w "$w" "$here/fixtures/${case}_frames" > "$raw/$case.json" 2> "$raw/$case.err"; then
      python3 "$here/compare.py" "$tag$case" "$raw/$case.json" "$here/fixtures/${case}_logits.json" | tee -a "$out/parity.txt" || status=1
    else
      echo "$tag$case: classify FAILED: $(tail -1 "$raw/$case.err")" | tee -a "$out/parity.txt"; status=1
    fi
    echo "  ($(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}") s wall: process start, weights load, first run)" | tee -a "$out/parity.txt"
  done
fi
if [ "$what" != parity ]; then
  echo "== $tag" >> "$out/bench.txt"
  "$bin" bench --device cuda --iters 50 --warmup 5 --arch squeezenet1_1 --consensus MLP --segments 8 2>&1 | tee -a "$out/bench.txt"
  "$bin" bench --device cuda --iters 50 --warmup 5 --arch BNInception --consensus MLP --segments 16 2>&1 | tee -a "$out/bench.txt"
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  "$bin" bench --device cuda --iters 50 --warmup 5 --consensus MLP,TRNmultiscale,LSTM,avg --segments 8,16 2>&1 | tee -a "$out/bench.txt"
  # The same backbone in PyTorch eager on the same GPU, for scale (torchvision's squeezenet1_1).
  python3 "$here/torch_bench.py" 2>&1 | tee -a "$out/bench.txt"
fi
exit $status
