#!/usr/bin/env bash
# Runs the engine's training benchmark and the PyTorch reference in one command on the remote GPU machine
# (see ../shared/device/README.md). Prepare locally first:
#   node scripts/bundle-bench.mjs tmp/bench.mjs && ../shared/device/pack.sh .device tmp/bench.mjs
# then, carrying .device:  bash bench/remote-gpu.sh   (results also land in $OUT when it is set)
set -uo pipefail
source .device/prelude.sh
export SADPM_DAWN_NODE=$DAWN_NODE
out=${OUT:-/tmp/bench-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
ours() { # preset loss batch steps warmup [extra...]; every run bounded so one slow case cannot eat the call
  timeout "${LIMIT:-90}" "$NODE" .device/bench.mjs --preset "$1" --loss "$2" --batch "$3" --steps "$4" --warmup "$5" --dropout 0 "${@:6}" 2>&1 \
    | grep -v '^Warning: maxDynamic' | tee -a "$out/ours.txt"
  echo "exit $? for $*" | tee -a "$out/ours.txt"
}
ours small plain 128 5 2
ours small sa2 128 4 2
LIMIT=110 ours cifar10 plain 128 3 1
LIMIT=150 ours cifar10 sa2 128 3 1 --sample-n 256 --sample-steps 100 --sample-batch 256
PYTHONUNBUFFERED=1 timeout 90 python3 .device/bench_torch.py --models big,small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 8 2>&1 | tee "$out/torch.txt"
PYTHONUNBUFFERED=1 timeout 60 python3 .device/bench_torch.py --models big,small --losses plain,sa2 --precs fp32 --batches 128 --steps 10 --warm 3 --maxsec 8 --tf32 off 2>&1 | tee "$out/torch_tf32off.txt"
