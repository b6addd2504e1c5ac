# Winograd call 2: pipelines cached by geometry, bias always bound; size threshold and scratch size as variants.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/w/bench.mjs.xz > /tmp/b.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
T0=$(date +%s)
# label env... then preset loss steps warmup [extra]
train() { local label=$1; shift; env $label timeout 90 $NODE /tmp/b.mjs --preset $1 --loss $2 --batch 128 --steps $3 --warmup $4 "${@:5}" 2>&1 | grep '^train\|^sample\|rror\|BENCH_JSON' | sed "s/^/[$label] /" >> $out/train.txt; tail -2 $out/train.txt | grep -v BENCH_JSON | cut -c1-200; }
W0=SADPM_WINOGRAD=0; W1=SADPM_WINOGRAD=1; W12=SADPM_WINOGRAD_MIN_GMACS=12; W4=SADPM_WINOGRAD_MIN_GMACS=4; WS=SADPM_WINOGRAD_SCRATCH_MB=256
for r in 1 2; do for v in $W1 $W0 $W12; do train $v cifar10 sa2 5 1; done; done
train $WS cifar10 sa2 5 1
echo "sa2 done $(( $(date +%s) - T0 )) s"
for v in $W1 $W0 $W12; do train $v cifar10 plain 5 1; done
for v in $W1 $W0 $W12; do train $v cifar10 plain 1 1 --sample-n 256 --sample-steps 100 --sample-batch 256; done
echo "plain+ddim done $(( $(date +%s) - T0 )) s"
for r in 1 2; do for v in $W1 $W0 $W4; do train $v small plain 20 3; done; done
for v in $W1 $W0 $W4; do train $v small sa2 12 2; done
echo "all done $(( $(date +%s) - T0 )) s"
