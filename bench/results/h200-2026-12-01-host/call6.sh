# Session 23 call 6: small plain, final main (m) against call 3's bundle (c3), alternating.
set -uo pipefail
source .device/prelude.sh >/dev/null
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/bench.mjs.xz > /tmp/m.mjs; xz -dc .device/w/bench.mjs.xz > /tmp/c3.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
train() { local b=$1; shift; timeout 40 $NODE /tmp/$b.mjs --preset small --loss $1 --batch 128 --steps 15 --warmup 3 2>&1 | grep '^train\|BENCH_JSON' | sed "s/^/[$b] /" >> $out/train.txt; tail -2 $out/train.txt | grep -v BENCH_JSON | cut -c1-110; }
for r in 1 2; do train m plain; train c3 plain; done; train m sa2
