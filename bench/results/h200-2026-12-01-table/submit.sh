# Issue 14: tfjs' dispatches per submit (SADPM_SUBMIT_BATCH; default 15) against small plain's host-bound step and
# cifar10 SA-2's peak memory.
set -uo pipefail
source .device/prelude.sh >/dev/null
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/i14/bench-submit.mjs.xz > /tmp/b.mjs
for r in 1 2; do for b in 15 30 60; do
  echo "small plain batch-per-submit $b: $(SADPM_SUBMIT_BATCH=$b timeout 60 $NODE /tmp/b.mjs --preset small --loss plain --batch 128 --steps 20 --warmup 3 2>&1 | grep '^train' | sed 's/.*wgsl: //' | cut -c1-110)"
done; done
for b in 15 30 60; do
  echo "cifar10 sa2 batch-per-submit $b: $(SADPM_SUBMIT_BATCH=$b timeout 100 $NODE /tmp/b.mjs --preset cifar10 --loss sa2 --batch 128 --steps 4 --warmup 1 2>&1 | grep '^train' | sed 's/.*wgsl: //' | cut -c1-140)"
done
