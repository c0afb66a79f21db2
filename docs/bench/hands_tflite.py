"""Per-call time of a MediaPipe hand model in the TFLite interpreter (ai-edge-litert, XNNPACK
delegate), the other side of examples/bench_hands.rs (docs/hands.md).

    python docs/bench/hands_tflite.py MODEL THREADS CALLS

prints one JSON line: the model, the threads, and the minimum and median milliseconds of CALLS
calls after 5 warm-up calls, on the same input as the Rust side.
"""

import json
import sys
import time

import numpy as np
from ai_edge_litert import interpreter as litert


def main():
    model, threads, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    interp = litert.Interpreter(model_path=model, num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    n = int(np.prod(inp["shape"]))
    x = (((np.arange(n, dtype=np.int64) * 7919) % 255).astype(np.float32) / np.float32(127.5) - 1)
    interp.set_tensor(inp["index"], x.reshape(inp["shape"]))
    for _ in range(5):
        interp.invoke()
    times = []
    for _ in range(max(calls, 1)):
        t = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"engine": "tflite", "model": model, "threads": threads, "calls": len(times),
                      "min_ms": times[0], "median_ms": times[len(times) // 2]}))


if __name__ == "__main__":
    main()
