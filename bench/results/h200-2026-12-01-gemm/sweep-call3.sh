# Issue 14, call 3: the double-buffered stages (db) against the current defaults (bench/gemmSweep.ts, timestamps
# unquantised); then cifar10 SA-2 training and DDIM-100 sampling with the defaults and with the sweep's best.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/i14/kernels-sweep.mjs.xz > /tmp/k.mjs; xz -dc .device/i14/bench-sweep.mjs.xz > /tmp/b.mjs
out=$OUT
SADPM_DAWN_FLAGS='enable-dawn-features=allow_unsafe_apis;disable-dawn-features=timestamp_quantization' timeout 200 $NODE /tmp/k.mjs --sweep all --batch 256 --reps 10 2>&1 | grep -v '^Warning' > $out/sweep.txt
grep -v BENCH $out/sweep.txt | cut -c1-80; grep -i 'MISMATCH\|rror' $out/sweep.txt
read F G < <($NODE .device/i14/pick.mjs $out/sweep.txt 2>$out/pick.txt)
cat $out/pick.txt; echo "best fwd $F fgrad $G"
train() { SADPM_GEMM=$1 SADPM_FG_GEMM=$2 timeout 100 $NODE /tmp/b.mjs --preset cifar10 --loss sa2 --batch 128 --steps 5 --warmup 1 2>&1 | grep '^train\|rror' | sed "s/^/[$1 | $2] /" | tee -a $out/train.txt; }
ddim() { SADPM_GEMM=$1 timeout 100 $NODE /tmp/b.mjs --preset cifar10 --loss plain --batch 8 --steps 1 --warmup 1 --sample-n 256 --sample-steps 100 --sample-batch 256 2>&1 | grep '^sample\|rror' | sed "s/^/[$1] /" | tee -a $out/train.txt; }
if [ "$F $G" != "unroll,bk32,aT warp,unroll" ]; then
  for round in 1 2; do train unroll,bk32,aT warp,unroll; train $F $G; done
  ddim unroll,bk32,aT; ddim $F; ddim unroll,bk32,aT; ddim $F
fi
