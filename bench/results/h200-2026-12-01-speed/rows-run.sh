# Issue 14 rows not in call 2: cifar10 plain and DDIM-100 sampling (main dc87586), PyTorch strict beside them.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/i14/bench-main2.mjs.xz > /tmp/b.mjs
out=$OUT
timeout 100 $NODE /tmp/b.mjs --preset cifar10 --loss plain --batch 128 --steps 4 --warmup 1 2>&1 | grep '^train\|^BENCH\|rror' >> $out/ours.txt
timeout 150 $NODE /tmp/b.mjs --preset cifar10 --loss plain --batch 8 --steps 1 --warmup 1 --sample-n 256 --sample-steps 100 --sample-batch 256 2>&1 | grep '^sample\|^BENCH\|rror' >> $out/ours.txt
PYTHONUNBUFFERED=1 timeout 100 python3 .device/torch_sample.py --model big --n 256 --steps 100 --tf32 off 2>&1 | tail -3 >> $out/torch.txt
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models big --losses plain --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 8 --dropout 0.1 --tf32 off 2>&1 | grep '"result"' >> $out/torch.txt
cat $out/ours.txt | grep -v BENCH; cat $out/torch.txt | cut -c1-300
