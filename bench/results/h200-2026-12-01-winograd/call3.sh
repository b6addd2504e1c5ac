# Winograd call 3: the filter gradient by Winograd too (SADPM_WINOGRAD=1) against forward+input grad only (fwd) and off (0).
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/w/bench.mjs.xz > /tmp/b.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
T0=$(date +%s)
train() { local label=$1; shift; env $label timeout 90 $NODE /tmp/b.mjs --preset $1 --loss $2 --batch 128 --steps $3 --warmup $4 "${@:5}" 2>&1 | grep '^train\|^sample\|rror\|BENCH_JSON' | sed "s/^/[$label] /" >> $out/train.txt; tail -2 $out/train.txt | grep -v BENCH_JSON | cut -c1-200; }
A=SADPM_WINOGRAD=1; F=SADPM_WINOGRAD=fwd; O=SADPM_WINOGRAD=0
for r in 1 2; do for v in $A $F $O; do train $v cifar10 sa2 5 1; done; done
echo "sa2 done $(( $(date +%s) - T0 )) s"
for v in $A $F $O; do train $v cifar10 plain 5 1; done
for r in 1 2; do for v in $A $F $O; do train $v small plain 20 3; done; done
for v in $A $F $O; do train $v small sa2 12 2; done
echo "small done $(( $(date +%s) - T0 )) s"
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models big,small --losses sa2,plain --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 8 --dropout 0.1 --tf32 off 2>&1 | tee $out/torch.txt | grep -o '"model": "[a-z]*", "loss": "[a-z0-9]*".*"img_per_s": [0-9.]*' | sed 's/"prec.*"img_per_s"/ img_per_s/'
echo "all done $(( $(date +%s) - T0 )) s"
