# issue 14 helper, call 2 (~160 s): main's bundle (.device/bench.mjs.xz) against branch i14-speed's
# (.device/i14/bench.mjs.xz), alternating, PyTorch strict fp32 in the same call. Carry .device.
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
xz -dc .device/bench.mjs.xz > /tmp/main-bench.mjs; xz -dc .device/i14/bench.mjs.xz > /tmp/i14-bench.mjs
out=$OUT
run() { # tag bundle preset loss batch steps warmup [extra]
  local tag=$1 b=$2; shift 2
  echo "## $tag" >> $out/ours.txt
  timeout 45 $NODE $b --preset $1 --loss $2 --batch $3 --steps $4 --warmup $5 "${@:6}" 2>&1 | grep '^train\|^BENCH_JSON\|rror' >> $out/ours.txt
}
M=/tmp/main-bench.mjs; I=/tmp/i14-bench.mjs
t0=$SECONDS
run "main" $M cifar10 sa2 128 4 1
run "i14" $I cifar10 sa2 128 4 1
SADPM_CONV_TILE=128x64 run "i14 tile128x64" $I cifar10 sa2 128 4 1
for r in 1 2; do
  run "main r$r" $M small plain 128 8 2
  run "i14 r$r" $I small plain 128 8 2
done
run "main" $M small sa2 128 6 2
run "i14" $I small sa2 128 6 2
echo "t=$((SECONDS-t0))" >> $out/ours.txt
PYTHONUNBUFFERED=1 timeout 50 python3 .device/bench_torch.py --models big,small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 5 --dropout 0.1 --tf32 off 2>&1 | grep '"result"' > $out/torch.txt
echo "t=$((SECONDS-t0))" >> $out/ours.txt
