#!/usr/bin/env bash
# Runs the engine's training benchmark and the PyTorch reference in one command on the remote GPU machine
# (see ../shared/device/README.md). Prepare locally first:
#   node scripts/bundle-bench.mjs tmp/bench.mjs && ../shared/device/pack.sh .device tmp/bench.mjs tmp/kernels.mjs bench/torch_sample.py
# then, carrying .device:  bash bench/remote-gpu.sh [table|profile|kernels|dropout]   (results also land in $OUT when set)
# Both sides train with the presets' dropout (0.1 for small and cifar10) unless a line says --dropout 0.
#   table    the table: small/cifar10 × plain/SA-2 at batch 128, DDIM sampling, PyTorch beside it,
#            after the conv kernels alone (bench/kernels.ts) and one profiled cifar10 SA-2 step
#   profile  one profiled step per model (GPU time per kernel) plus a shorter table
#   kernels  the convolution kernels alone (bench/kernels.ts), then cifar10 SA-2 profiled and timed beside PyTorch
#   lean     issue 14's table in one call of under ~8 minutes (no kernel sweep, no profile)
#   dropout  the cost of dropout 0.1 (issue 10, 1d; target <= 5 %): SA-2 small and cifar10 with --dropout 0 and
#            0.1 alternating, twice each; the dropout pass alone against a stored-mask multiply; PyTorch both ways
set -uo pipefail
mode=${1:-table}
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
# Bundles travel xz-compressed (the working tree that travels is capped at 64 MiB).
for f in .device/*.mjs.xz .device/*.js.xz .device/*.node.xz; do
  [ -f "$f" ] && [ ! -f "${f%.xz}" ] && xz -dc "$f" > "${f%.xz}"
done
[ -f .device/better_sqlite3.node ] && export SADPM_SQLITE_NODE=$PWD/.device/better_sqlite3.node
out=${OUT:-/tmp/bench-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
ours() { # preset loss batch steps warmup [extra...]; every run bounded so one slow case cannot eat the call
  timeout "${LIMIT:-90}" "$NODE" .device/bench.mjs --preset "$1" --loss "$2" --batch "$3" --steps "$4" --warmup "$5" "${@:6}" 2>&1 \
    | grep -v '^Warning: maxDynamic' | tee -a "$out/ours.txt"
  echo "exit ${PIPESTATUS[0]} for $*" | tee -a "$out/ours.txt"
}
torch_train() { # a later --dropout overrides the default
  PYTHONUNBUFFERED=1 timeout 120 python3 .device/bench_torch.py --models big,small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 8 --dropout 0.1 "$@" 2>&1 | tee -a "$out/torch.txt"
}
torch_sample() {
  PYTHONUNBUFFERED=1 timeout 120 python3 .device/torch_sample.py --model big --n 256 --steps 100 "$@" 2>&1 | tee -a "$out/torch.txt"
}
if [ "$mode" = lean ]; then
  # Issue 14's table in under ~8 minutes: both sides with the presets' dropout 0.1, then dropout 0 for its cost.
  ours small plain 128 8 2
  ours small sa2 128 6 2
  LIMIT=100 ours cifar10 plain 128 4 1
  LIMIT=100 ours cifar10 sa2 128 5 1
  LIMIT=100 ours cifar10 sa2 128 5 1 --dropout 0
  LIMIT=100 ours small sa2 128 6 2 --dropout 0
  LIMIT=120 ours cifar10 plain 8 1 1 --sample-n 256 --sample-steps 100 --sample-batch 256
  torch_train --tf32 off
  torch_train
  torch_train --models big,small --losses sa2 --tf32 off --dropout 0
  torch_sample --tf32 off
  torch_sample
  grep -h '^BENCH\|"event": "result"\|"event": "sample"' "$out/ours.txt" "$out/torch.txt" > "$out/summary.jsonl" || true
  exit 0
elif [ "$mode" = dropout ]; then
  timeout 120 "$NODE" .device/kernels.mjs --dropout 0.1 --batch 128 --reps 20 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$out/kernels.txt"
  for _ in 1 2; do
    for p in 0 0.1; do
      ours small sa2 128 8 2 --dropout "$p"
      LIMIT=120 ours cifar10 sa2 128 5 1 --dropout "$p"
    done
  done
  torch_train --models big,small --losses sa2 --tf32 off --dropout 0
  torch_train --models big,small --losses sa2 --tf32 off
  grep -h '^BENCH\|"event": "result"' "$out/ours.txt" "$out/torch.txt" "$out/kernels.txt" > "$out/summary.jsonl"; exit 0
elif [ "$mode" = kernels ]; then
  timeout 120 "$NODE" .device/kernels.mjs --batch 128 --reps 10 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$out/kernels.txt"
  SADPM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis LIMIT=90 ours cifar10 sa2 128 1 1 --profile 25
  LIMIT=110 ours cifar10 sa2 128 5 1
  LIMIT=90 ours small plain 128 8 2
  torch_train --models big,small --losses sa2,plain
  grep -h "^BENCH\|\"event\": \"result\"" "$out/ours.txt" "$out/torch.txt" "$out/kernels.txt" > "$out/summary.jsonl"; exit 0
elif [ "$mode" = profile ]; then
  # timestamp queries (per-kernel GPU time) need Dawn's unsafe APIs
  SADPM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis LIMIT=60 ours small plain 128 1 1 --profile 30
  SADPM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis LIMIT=90 ours cifar10 sa2 128 1 1 --profile 40
  ours small plain 128 5 2
  ours small sa2 128 4 2
  LIMIT=120 ours cifar10 sa2 128 3 1
  LIMIT=150 ours cifar10 plain 128 2 1 --sample-n 256 --sample-steps 100 --sample-batch 256
  torch_train
  torch_train --tf32 off
  grep -h "^BENCH_JSON\|\"event\": \"result\"" "$out/ours.txt" "$out/torch.txt" > "$out/summary.jsonl"; exit 0
else
  timeout 150 "$NODE" .device/kernels.mjs --batch 128 --reps 10 2>&1 | grep -v '^Warning: maxDynamic' | tee -a "$out/kernels.txt"
  # (tf.profile sees tfjs' programs only: the Winograd passes, recorded on their own, are not in it)
  SADPM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis LIMIT=90 ours cifar10 sa2 128 1 1 --profile 25
  # The small model is host-bound and varies from process to process: three alternating rounds (take the best).
  for _ in 1 2 3; do
    ours small plain 128 20 3
    SADPM_DISPATCH_CACHE=0 ours small plain 128 20 3   # tfjs' own per-dispatch host path (no reused bind groups)
    ours small sa2 128 12 3
  done
  LIMIT=110 ours cifar10 plain 128 4 1
  LIMIT=110 ours cifar10 sa2 128 5 1
  SADPM_WINOGRAD=0 LIMIT=110 ours cifar10 sa2 128 5 1   # the direct convolution kernels alone
  SADPM_PENDING_FREE_MB=0 LIMIT=110 ours cifar10 sa2 128 5 1   # without the early submits (peak memory)
  LIMIT=120 ours cifar10 plain 8 1 1 --sample-n 256 --sample-steps 100 --sample-batch 256
fi
torch_train
torch_train --tf32 off
torch_sample
torch_sample --tf32 off
grep -h '^BENCH\|"event": "result"\|"event": "sample"' "$out/ours.txt" "$out/torch.txt" "$out/kernels.txt" > "$out/summary.jsonl" || true
