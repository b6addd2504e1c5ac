# Session 23 call 3: (b) main with the pending-free submits at 256 MiB (default), 0 (off), 512, against the table's bundle (p).
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/w/bench.mjs.xz > /tmp/b.mjs; xz -dc .device/w/bench-prev.mjs.xz > /tmp/p.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
T0=$(date +%s)
train() { local b=$1 mb=$2; shift 2; SADPM_PENDING_FREE_MB=$mb timeout 80 $NODE /tmp/$b.mjs --preset $1 --loss $2 --batch 128 --steps $3 --warmup $4 2>&1 | grep '^train\|rror\|BENCH_JSON' | sed "s/^/[$b $mb] /" >> $out/train.txt; tail -2 $out/train.txt | grep -v BENCH_JSON | sed 's/ batch 128 dropout 0.1 kernels wgsl//; s/tensors after a step/after/' | cut -c1-150; grep BENCH_JSON $out/train.txt | tail -1 | grep -o '"submits":[0-9]*,"pressureSubmits":[0-9]*'; }
for r in 1 2 3; do train p 0 small plain 20 3; train b 256 small plain 20 3; train b 0 small plain 20 3; train b 512 small plain 20 3; done
for r in 1 2; do train p 0 small sa2 12 3; train b 256 small sa2 12 3; done
train p 0 cifar10 sa2 5 1; train b 0 cifar10 sa2 5 1; train b 256 cifar10 sa2 5 1; train b 512 cifar10 sa2 5 1; train b 128 cifar10 sa2 5 1
echo "ours done $(( $(date +%s) - T0 )) s"
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 6 --dropout 0.1 --tf32 off 2>&1 | tee $out/torch.txt | grep -o '"model": "[a-z]*", "loss": "[a-z0-9]*".*"img_per_s": [0-9.]*' | sed 's/"prec.*"img_per_s"/ img_per_s/'
echo "all done $(( $(date +%s) - T0 )) s"
