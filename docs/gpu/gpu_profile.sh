#!/usr/bin/env bash
# Kernel count and GPU-busy time of one forward, with Nsight Compute (one metric, no clock lock):
# `bench --iters 1 --warmup 0` runs one frame, one head and one clip forward. Usage: OUTDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?OUTDIR}
libdirs=$(find /usr/local /usr/lib /opt -path '*stubs*' -prune -o -path '*compat*' -prune -o \( -name 'libcuda.so.1' -o -name 'libcublas.so.13' -o -name 'libcurand.so.10' -o -name 'libcudart.so.13' \) -print 2>/dev/null | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:-}"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for c in "squeezenet1_1 8" "BNInception 16"; do
  set -- $c
  "$ncu" --clock-control none --csv --metrics gpu__time_duration.sum \
    /tmp/gesture-app bench --device cuda --iters 1 --warmup 0 --arch "$1" --consensus MLP --segments "$2" \
    > "$out/ncu_$1_$2.csv" 2> "/tmp/ncu_$1_$2.err" || tail -3 "/tmp/ncu_$1_$2.err"
  python3 "$here/ncu_summary.py" "$out/ncu_$1_$2.csv" | tee -a "$out/ncu_summary.txt"
done
