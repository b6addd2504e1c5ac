# Session 23 call 2: main at the GN/dense/worker-inputs commits (b) against the table's bundle (p), alternating.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/w/bench.mjs.xz > /tmp/b.mjs; xz -dc .device/w/bench-prev.mjs.xz > /tmp/p.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
T0=$(date +%s)
train() { local b=$1; shift; timeout 80 $NODE /tmp/$b.mjs --preset $1 --loss $2 --batch 128 --steps $3 --warmup $4 2>&1 | grep '^train\|rror\|BENCH_JSON' | sed "s/^/[$b] /" >> $out/train.txt; tail -2 $out/train.txt | grep -v BENCH_JSON | cut -c1-175; }
for r in 1 2 3; do train p small plain 20 3; train b small plain 20 3; done
for r in 1 2; do train p small sa2 12 3; train b small sa2 12 3; done
train p cifar10 sa2 5 1; train b cifar10 sa2 5 1
echo "ours done $(( $(date +%s) - T0 )) s"
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 6 --dropout 0.1 --tf32 off 2>&1 | tee $out/torch.txt | grep -o '"model": "[a-z]*", "loss": "[a-z0-9]*".*"img_per_s": [0-9.]*' | sed 's/"prec.*"img_per_s"/ img_per_s/'
echo "all done $(( $(date +%s) - T0 )) s"
