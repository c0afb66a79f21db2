"""PyTorch eager reference on the same GPU: torchvision squeezenet1_1 (features + classifier),
batch N at 224x224, f32, median of 50 timed runs after 5 warm-ups, synchronised like
`gesture-app bench`. TF32 is off so the arithmetic matches candle's f32 GEMMs."""
import statistics
import time

import torch
import torchvision

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
model = torchvision.models.squeezenet1_1().eval().to(dev)
for n in (1, 8, 16):
    x = torch.randn(n, 3, 224, 224, device=dev)
    with torch.inference_mode():
        for _ in range(5):
            model(x)
        torch.cuda.synchronize()
        times = []
        for _ in range(50):
            t = time.perf_counter()
            model(x)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t) * 1e3)
    print(f"torch {torch.__version__} squeezenet1_1 batch {n}: median {statistics.median(times):.3f} ms")
