# Session 23 call 1: where a small-plain step's host time goes on the H200 host (CPU profile), and GC flags.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/w/prof.mjs.xz > /tmp/prof.mjs; xz -dc .device/bench.mjs.xz > /tmp/b.mjs
out=${OUT:-/tmp/wout}; mkdir -p $out
T0=$(date +%s)
nproc; lscpu | grep -i "model name\|MHz\|NUMA node" | head -5
train() { local tag=$1; shift; timeout 80 $NODE "$@" /tmp/b.mjs --preset small --loss plain --batch 128 --steps 20 --warmup 3 2>&1 | grep '^train' | sed "s/^/[$tag] /" | tee -a $out/train.txt | cut -c1-150; }
for r in 1 2; do train def; train semi64 --max-semi-space-size=64; done
echo "bench done $(( $(date +%s) - T0 )) s"
timeout 120 $NODE /tmp/prof.mjs plain 128 $out/small-plain.cpuprofile 2>&1 | grep -v -i "warn" | tee $out/prof.txt
$NODE .device/w/summ.mjs $out/small-plain.cpuprofile > $out/summ.txt 2>&1; head -60 $out/summ.txt
echo "all done $(( $(date +%s) - T0 )) s"
