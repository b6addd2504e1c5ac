# Issue 14: the matrix-product core's variants (bench/gemmSweep.ts) on the H200, then cifar10 SA-2 training with the
# best forward / filter-gradient variants against the defaults, alternating.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/i14/kernels-sweep.mjs.xz > /tmp/k.mjs; xz -dc .device/i14/bench-sweep.mjs.xz > /tmp/b.mjs
out=$OUT
SADPM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis timeout 330 $NODE /tmp/k.mjs --sweep all --batch 256 --reps 10 2>&1 | grep -v '^Warning' > $out/sweep.txt
grep -v BENCH $out/sweep.txt | head -3; grep MISMATCH $out/sweep.txt
read F G < <($NODE .device/i14/pick.mjs $out/sweep.txt 2>$out/pick.txt)
cat $out/pick.txt; echo "best fwd $F fgrad $G"
for round in 1 2; do
  for v in "none none" "$F $G"; do
    set -- $v
    SADPM_GEMM=$1 SADPM_FG_GEMM=$2 timeout 100 $NODE /tmp/b.mjs --preset cifar10 --loss sa2 --batch 128 --steps 5 --warmup 1 2>&1 | grep '^train\|rror' | sed "s/^/[$1 | $2] /" | tee -a $out/train.txt
  done
done
