"""DDIM (eta 0) sampling throughput of the PyTorch reference UNet (bench_torch.py's architectures), for
side-by-side numbers with `bench/train.ts --sample-n N --sample-steps S`. Run beside bench_torch.py:
  python3 .device/torch_sample.py --model big --n 256 --steps 100 [--tf32 off]
prints one JSON line."""
import argparse, json, math, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
from bench_torch import CFGS, UNet

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="big")
ap.add_argument("--n", type=int, default=256)
ap.add_argument("--steps", type=int, default=100)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--tf32", default="on", choices=["on", "off"])
a = ap.parse_args()
dev = torch.device("cuda")
torch.backends.cudnn.benchmark = True
torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
torch.backends.cuda.matmul.allow_tf32 = a.tf32 == "on"
torch.manual_seed(0)
model = UNet(**CFGS[a.model]).to(dev).eval()
T = 1000
betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
ab = torch.cumprod(1 - betas, 0)
seq = list(range(0, T, T // a.steps))  # "uniform" spacing, as the official DDIM code


@torch.no_grad()
def ddim(n):
    x = torch.randn(n, 3, 32, 32, device=dev)
    prev = [-1] + seq[:-1]
    for i, j in zip(reversed(seq), reversed(prev)):
        a_t = ab[i].item()
        a_p = ab[j].item() if j >= 0 else 1.0
        t = torch.full((n,), i, device=dev, dtype=torch.long)
        e = model(x, t)
        x0 = (x - math.sqrt(1 - a_t) * e) / math.sqrt(a_t)
        x = math.sqrt(a_p) * x0 + math.sqrt(1 - a_p) * e
    return x


ddim(min(a.batch, a.n))  # warm-up (cudnn autotuning)
torch.cuda.synchronize()
torch.cuda.reset_peak_memory_stats()
t0 = time.perf_counter()
done = 0
while done < a.n:
    b = min(a.batch, a.n - done)
    ddim(b)
    done += b
torch.cuda.synchronize()
sec = time.perf_counter() - t0
print(json.dumps(dict(event="sample", be="torch", model=a.model, n=a.n, steps=a.steps, tf32=a.tf32, seconds=round(sec, 3),
                      img_per_s=round(a.n / sec, 1), peak_mem_gb=round(torch.cuda.max_memory_allocated() / 2 ** 30, 2))), flush=True)
