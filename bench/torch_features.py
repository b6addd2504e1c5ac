#!/usr/bin/env python3
"""Feature-extraction throughput of the FID Inception-v3 in PyTorch on the same card, beside bench/features.ts:
  python3 bench/torch_features.py --n 512 --batch 64 [--size 32] [--tf32 on|off] [--width 1]
Random weights (speed does not depend on them), the network of scripts/fixtures/make_inception_fixture.py (pytorch-fid's
FID Inception-v3), random input images of --size px resized to 299 inside; the timed part is the forward pass and the copy
of pool3 and the logits to the host. Prints one JSON line."""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
from make_inception_fixture import FidInception  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=512)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--size", type=int, default=32)
ap.add_argument("--width", type=int, default=1)
ap.add_argument("--tf32", default="on", choices=["on", "off"])
a = ap.parse_args()
dev = torch.device("cuda")
torch.backends.cudnn.benchmark = True
torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
torch.backends.cuda.matmul.allow_tf32 = a.tf32 == "on"
torch.manual_seed(0)
model = FidInception(a.width).to(dev).eval()


@torch.no_grad()
def run(b):
    x = torch.rand(b, 3, a.size, a.size, device=dev)
    pool3, _, logits = model(x)
    return pool3.cpu(), logits.cpu()


run(min(a.batch, a.n))  # cudnn autotuning
torch.cuda.synchronize()
torch.cuda.reset_peak_memory_stats()
t0 = time.perf_counter()
done = 0
while done < a.n:
    b = min(a.batch, a.n - done)
    run(b)
    done += b
torch.cuda.synchronize()
sec = time.perf_counter() - t0
print(json.dumps(dict(kind="features", be="torch", gpu=torch.cuda.get_device_name(), width=a.width, n=a.n, batch=a.batch, size=a.size,
                      tf32=a.tf32, seconds=round(sec, 3), imagesPerSecond=round(a.n / sec, 1),
                      peak_mem_gb=round(torch.cuda.max_memory_allocated() / 2 ** 30, 2))), flush=True)
