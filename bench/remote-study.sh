#!/usr/bin/env bash
# The SA-vs-baseline study (issues 12 and 13) in one call on the remote GPU machine, with the bundled CLI
# (.device/sadpm.mjs, see bench/remote-gpu.sh for how .device is prepared). Two runs of one recipe that differ
# only in the loss (baseline: k 1, λ 0; SA-2: k 2, λ 1) train side by side on builtin:shapes32, then
#   study      the gap ratio per t and FID/KID/precision-recall (pixel feature space unless Inception weights are
#              set) against DDIM steps, as a report folder (Markdown, PNG charts, CSV)
#   samplers   each of the companion samplers on both models at 10, 25 and 50 steps (Γ estimated and cached
#              per checkpoint; NPR and SN heads trained briefly as covariance runs)
# Local dry run on this machine's CPU: STUDY_LOCAL=1 STEPS=4 PRESET=tiny bash bench/remote-study.sh
# Environment: STEPS (training steps, default 1500), N (images per step count, default 1000), PRESET (small),
#   COV_STEPS (covariance head steps, default 400), EVAL_SAMPLERS (0 = only sample grids of the companion samplers).
set -uo pipefail
out=${OUT:-/tmp/study-out}
mkdir -p "$out"
if [ -z "${STUDY_LOCAL:-}" ]; then
  source .device/prelude.sh
  export SADPM_DAWN_NODE=$DAWN_NODE
  for f in .device/*.mjs.xz .device/*.js.xz .device/*.node.xz; do
    [ -f "$f" ] && [ ! -f "${f%.xz}" ] && xz -dc "$f" > "${f%.xz}"
  done
  export SADPM_SQLITE_NODE=$PWD/.device/better_sqlite3.node
  SADPM=("$NODE" "$PWD/.device/sadpm.mjs")
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
else
  SADPM=("$PWD/node_modules/.bin/tsx" "$PWD/bin/sadpm.mjs")
fi
sadpm() { "${SADPM[@]}" "$@"; }
data=$(mktemp -d)
log=$out/log.txt
steps=${STEPS:-1500}
n=${N:-1000}
preset=${PRESET:-small}
size=$([ "$preset" = tiny ] && echo 16 || echo 32)
dataset=$([ "$size" = 16 ] && echo builtin:shapes || echo builtin:shapes32)
started=$(date +%s)
stamp() { echo "[$(( $(date +%s) - started )) s] $*" | tee -a "$log"; }
# One recipe; the loss is the only difference. EMA decay 0.995 suits a run of a few thousand steps.
recipe=(--data-dir "$data" --preset "$preset" --dataset "$dataset" --steps "$steps" --batch 128 --lr 5e-4 --warmup 100
  --grad-clip 1 --ema-decay 0.995 --checkpoint-every "$steps" --log-every 25 --gap-every 0 --gap-t0 300 --gap-batch 64
  --sample-every 0 --sample-n 64 --sample-steps 50 --seed 0)
stamp "training baseline and SA-2 side by side: $preset on $dataset, $steps steps at batch 128"
timeout -s TERM "${TRAIN_LIMIT:-330}" "${SADPM[@]}" train "${recipe[@]}" --k 1 --lambda 0 --name baseline > "$out/train-baseline.txt" 2>&1 &
pb=$!
timeout -s TERM "${TRAIN_LIMIT:-330}" "${SADPM[@]}" train "${recipe[@]}" --k 2 --lambda 1 --name sa2 > "$out/train-sa2.txt" 2>&1 &
ps=$!
wait $pb; rb=$?; wait $ps; rs=$?
stamp "training exited: baseline $rb, sa2 $rs"
tail -n 3 "$out/train-baseline.txt" "$out/train-sa2.txt" | tee -a "$log"
sadpm runs --data-dir "$data" 2>&1 | tee -a "$log"

stamp "study: gap on raw weights, FID/KID/PR at DDIM 10,20,50,100 with EMA weights, n=$n"
timeout 240 "${SADPM[@]}" study baseline sa2 --data-dir "$data" --t0 300 --gap-weights raw --measure-gap missing \
  --steps 10,20,50,100 --n "$n" --ema --sampler ddim --batch 250 --out "$out/study" 2>&1 | tee -a "$log"
stamp "study done"

# Companion samplers: Γ once per model (union of the 10/25/50 trajectories), heads trained briefly.
for run in baseline sa2; do
  timeout 90 "${SADPM[@]}" gamma "$run" --data-dir "$data" --ema --steps 10,25,50 --n "${GAMMA_N:-1000}" 2>&1 | tail -n 4 | tee -a "$log"
done
stamp "gamma done"
for kind in npr sn; do
  for run in baseline sa2; do
    timeout 120 "${SADPM[@]}" train-cov "$run" --data-dir "$data" --ema --kind "$kind" --steps "${COV_STEPS:-400}" --batch 128 \
      --lr 1e-4 --checkpoint-every "${COV_STEPS:-400}" --name "$run-$kind" 2>&1 | tail -n 2 | tee -a "$log" &
  done
  wait
done
stamp "covariance heads done"
for run in baseline sa2; do
  for s in analytic-ddim analytic-ddpm npr-ddim sn-ddim ddim ddpm; do
    if [ "${EVAL_SAMPLERS:-1}" = 1 ] && [ $(( $(date +%s) - started )) -lt "${EVAL_UNTIL:-530}" ]; then
      timeout 120 "${SADPM[@]}" eval "$run" --data-dir "$data" --ema --sampler "$s" --steps 10,25,50 --n "$n" --batch 250 \
        --json 2>>"$log" > "$out/eval-$run-$s.json" || stamp "eval $run $s failed (exit $?)"
      tail -c 600 "$out/eval-$run-$s.json" >> "$log"; echo >> "$log"
    fi
  done
done
stamp "sampler evaluations done"
# One grid per model and sampler at 25 steps, for the eye; same seed, so the panels start from the same noise.
mkdir -p "$out/grids"
for run in baseline sa2; do
  for s in ddim analytic-ddim npr-ddim sn-ddim; do
    [ $(( $(date +%s) - started )) -lt "${GRID_UNTIL:-570}" ] || break
    p=$(timeout 30 "${SADPM[@]}" sample "$run" --data-dir "$data" --ema --sampler "$s" --steps 25 --n 64 --seed 1 2>>"$log" \
      | sed -n 's/^grid: //p')
    [ -n "$p" ] && cp "$p" "$out/grids/$run-$s-25.png"
  done
done
sadpm runs --data-dir "$data" --kind cov 2>&1 | tee -a "$log"
stamp "done"
# What comes back: at most 8 files, so the report folder, evaluations, grids and training logs travel packed.
cd "$out" && packed=$(ls -d study eval-*.json grids train-*.txt 2>/dev/null) && tar czf study.tgz $packed && rm -rf $packed
ls -la "$out"
