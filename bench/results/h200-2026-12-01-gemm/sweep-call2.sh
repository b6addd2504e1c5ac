# Issue 14, call 2: the matrix-product core's variants at the picked tile plus 128x256/256x128 tiles (bench/gemmSweep.ts),
# timestamps unquantised; then cifar10 SA-2 training: no variants, the new defaults, the sweep's best, alternating.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/i14/kernels-sweep.mjs.xz > /tmp/k.mjs; xz -dc .device/i14/bench-sweep.mjs.xz > /tmp/b.mjs
out=$OUT
SADPM_DAWN_FLAGS='enable-dawn-features=allow_unsafe_apis;disable-dawn-features=timestamp_quantization' timeout 300 $NODE /tmp/k.mjs --sweep all --batch 256 --reps 10 2>&1 | grep -v '^Warning' > $out/sweep.txt
grep -v BENCH $out/sweep.txt | head -3; grep -i 'MISMATCH\|rror' $out/sweep.txt
read F G < <($NODE .device/i14/pick.mjs $out/sweep.txt 2>$out/pick.txt)
head -8 $out/pick.txt; echo "best fwd $F fgrad $G"
train() { SADPM_GEMM=$1 SADPM_FG_GEMM=$2 timeout 100 $NODE /tmp/b.mjs --preset cifar10 --loss sa2 --batch 128 --steps 5 --warmup 1 2>&1 | grep '^train\|rror' | sed "s/^/[$1 | $2] /" | tee -a $out/train.txt; }
train none none
for round in 1 2; do
  train unroll,aRows,bk32 warp,unroll
  [ "$F $G" != "unroll,aRows,bk32 warp,unroll" ] && train $F $G
done
