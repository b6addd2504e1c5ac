# Winograd F(4x4,3x3) on the H200: kernels (direct vs Winograd, forward and input grad), then training and DDIM
# with SADPM_WINOGRAD=1/0 alternating, PyTorch strict beside.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/w/kernels.mjs.xz > /tmp/k.mjs; xz -dc .device/w/bench.mjs.xz > /tmp/b.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
T0=$(date +%s)
timeout 120 $NODE /tmp/k.mjs --batch 256 --reps 10 2>&1 | grep -v '^Warning' > $out/kernels.txt; grep -v BENCH $out/kernels.txt
echo "kernels done $(( $(date +%s) - T0 )) s"
train() { SADPM_WINOGRAD=$1 timeout 90 $NODE /tmp/b.mjs --preset $2 --loss $3 --batch 128 --steps $4 --warmup $5 "${@:6}" 2>&1 | grep '^train\|^sample\|rror\|BENCH_JSON' | sed "s/^/[w$1] /" >> $out/train.txt; tail -2 $out/train.txt | grep -v BENCH_JSON | cut -c1-220; }
for r in 1 2; do train 1 cifar10 sa2 5 1; train 0 cifar10 sa2 5 1; done
echo "sa2 done $(( $(date +%s) - T0 )) s"
train 1 cifar10 plain 1 1 --sample-n 256 --sample-steps 100 --sample-batch 256
train 0 cifar10 plain 1 1 --sample-n 256 --sample-steps 100 --sample-batch 256
echo "ddim done $(( $(date +%s) - T0 )) s"
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models big --losses sa2,plain --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 8 --dropout 0.1 --tf32 off 2>&1 | tee $out/torch.txt | grep -i 'img\|result' | cut -c1-200
PYTHONUNBUFFERED=1 timeout 60 python3 .device/torch_sample.py --model big --n 256 --steps 100 --tf32 off 2>&1 | tee -a $out/torch.txt | tail -2
echo "torch done $(( $(date +%s) - T0 )) s"
for r in 1 2; do train 1 small plain 20 3; train 0 small plain 20 3; done
train 1 small sa2 12 2; train 0 small sa2 12 2
train 1 cifar10 plain 4 1; train 0 cifar10 plain 4 1
echo "all done $(( $(date +%s) - T0 )) s"
