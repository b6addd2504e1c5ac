# issue 14 helper, call 1: where the time goes (kernels, profiles, host CPU profile) and Dawn toggles / double buffering
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
for f in .device/i14/*.mjs.xz; do [ -f "${f%.xz}" ] || xz -dc "$f" > "${f%.xz}"; done
out=$OUT
FL='enable-dawn-features=allow_unsafe_apis,disable_robustness,disable_workgroup_init,skip_validation'
ours() { # tag preset loss batch steps warmup [extra]
  local tag=$1; shift
  echo "## $tag" >> $out/ours.txt
  timeout 45 $NODE .device/i14/bench.mjs --preset $1 --loss $2 --batch $3 --steps $4 --warmup $5 "${@:6}" 2>&1 | grep -v 'maxDynamic\|^ *at \|^$\|Couldn' >> $out/ours.txt
}
t0=$SECONDS
ours "default r1" cifar10 sa2 128 4 1
SADPM_DAWN_FLAGS=$FL ours "toggles r1" cifar10 sa2 128 4 1
SADPM_GEMM_DB=1 SADPM_DAWN_FLAGS=$FL ours "db+toggles r1" cifar10 sa2 128 4 1
SADPM_GEMM_DB=1 ours "db r1" cifar10 sa2 128 4 1
ours "default" small plain 128 8 2
SADPM_DAWN_FLAGS=$FL ours "toggles" small plain 128 8 2
SADPM_SUBMIT_BATCH=200 ours "submit200" small plain 128 8 2
SADPM_SUBMIT_BATCH=200 SADPM_DAWN_FLAGS=$FL ours "submit200+toggles" small plain 128 8 2
ours "default" small sa2 128 6 2
SADPM_DAWN_FLAGS=$FL ours "toggles" small sa2 128 6 2
SADPM_SUBMIT_BATCH=200 SADPM_DAWN_FLAGS=$FL ours "submit200+toggles" small sa2 128 6 2
SADPM_SUBMIT_BATCH=200 SADPM_DAWN_FLAGS=$FL ours "submit200+toggles" cifar10 sa2 128 4 1
echo "t=$((SECONDS-t0))" >> $out/ours.txt
SADPM_DAWN_FLAGS=$FL ours "profile toggles" cifar10 sa2 128 1 1 --profile 40
SADPM_DAWN_FLAGS=$FL ours "profile toggles" small plain 128 1 1 --profile 30
mkdir -p /tmp/prof
timeout 45 $NODE --cpu-prof --cpu-prof-dir=/tmp/prof .device/i14/bench.mjs --preset small --loss plain --batch 128 --steps 20 --warmup 2 2>&1 | grep '^train' >> $out/ours.txt
cp $(ls -S /tmp/prof/*.cpuprofile | head -1) $out/small-plain.cpuprofile
echo "t=$((SECONDS-t0))" >> $out/ours.txt
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models big,small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 6 --dropout 0.1 --tf32 off 2>&1 | grep '"result"' > $out/torch.txt
echo "t=$((SECONDS-t0))" >> $out/ours.txt
SADPM_DAWN_FLAGS=$FL timeout 50 $NODE .device/i14/kernels.mjs --batch 128 --reps 3 2>&1 | grep -v 'maxDynamic' > $out/kernels-toggles.txt
ours "default r2" cifar10 sa2 128 4 1
SADPM_DAWN_FLAGS=$FL ours "toggles r2" cifar10 sa2 128 4 1
echo "t=$((SECONDS-t0))" >> $out/ours.txt
