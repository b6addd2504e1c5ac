#!/usr/bin/env bash
# The SA-vs-baseline study (issues 12 and 13) in one call on the remote GPU machine, with the bundled CLI
# (.device/sadpm.mjs, see bench/remote-gpu.sh for how .device is prepared). Two runs of one recipe that differ
# only in the loss (baseline: k 1, λ 0; SA-2: k 2, λ 1) train side by side on builtin:shapes32, then
#   study      the gap ratio per t and FID/KID/precision-recall (pixel feature space unless Inception weights are
#              set) against DDIM steps, as a report folder (Markdown, PNG charts, CSV)
#   samplers   each of the companion samplers on both models at 10, 25 and 50 steps (Γ estimated and cached
#              per checkpoint; NPR and SN heads trained briefly as covariance runs)
# Local dry run on this machine's CPU (slow): STUDY_LOCAL=1 PRESET=tiny BATCH=8 TRAIN_LIMIT=60 N=16 T0=10 \
#   COV_STEPS=2 GAMMA_N=16 bash bench/remote-study.sh
# Environment: TRAIN_LIMIT (seconds of training, default 300), STEPS (a cap, default none), N (images per step count,
#   default 1000), PRESET (small), BATCH (128), T0 (the gap's t0, 300), GAMMA_N (images for Γ, 1000), COV_STEPS (400),
#   STUDY (0: skip the study), SAMPLERS (evaluated, in order), SAMPLER_N (images per step count there, 500),
#   EVAL_SAMPLERS (0: samplers only as grids), BUDGET (seconds the whole call may take, 560),
#   DATA (a data folder kept between calls: runs already in it are resumed, not started again), PHASE (train: only
#   train or resume for TRAIN_LIMIT s; eval: only catch up, study and samplers; default both), FEATURES (1: first the
#   Inception features/s benchmark, ours beside PyTorch on the same card).
# Longer studies chain calls on one warm machine (ignored folders stay there between calls; checkpoints of the small
# model, 68 MiB each with Adam's moments, are too large to travel back and forth):
#   DATA=tmp/study-data PHASE=train TRAIN_LIMIT=450 bash bench/remote-study.sh   (twice), then PHASE=eval.
set -uo pipefail
out=${OUT:-/tmp/study-out}
mkdir -p "$out"
if [ -z "${STUDY_LOCAL:-}" ]; then
  source .device/prelude.sh
  export SADPM_DAWN_NODE=$DAWN_NODE
  for f in .device/sadpm.mjs .device/engineHost.js .device/better_sqlite3.node .device/features.mjs; do
    [ -f "$f" ] || xz -dc "$f.xz" > "$f"
  done
  export SADPM_SQLITE_NODE=$PWD/.device/better_sqlite3.node
  SADPM=("$NODE" "$PWD/.device/sadpm.mjs")
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
else
  SADPM=("$PWD/node_modules/.bin/tsx" "$PWD/bin/sadpm.mjs")
fi
sadpm() { "${SADPM[@]}" "$@"; }
started=$(date +%s)
if [ "${FEATURES:-0}" = 1 ] && [ -z "${STUDY_LOCAL:-}" ]; then
  # Issue 12: FID Inception-v3 features per second, random weights, 32 px images resized to 299 inside.
  timeout 100 "$NODE" .device/features.mjs --n 2000 --batch 100 --size 32 2>&1 | grep -v '^Warning: maxDynamic' \
    | tee -a "$out/features.txt"
  for tf in off on; do
    PYTHONUNBUFFERED=1 timeout 60 python3 bench/torch_features.py --n 2000 --batch 100 --size 32 --tf32 "$tf" 2>&1 \
      | tee -a "$out/features.txt"
  done
fi
data=${DATA:-$(mktemp -d)}
mkdir -p "$data"
phase=${PHASE:-all}
log=$out/log.txt
steps=${STEPS:-100000}
n=${N:-1000}
preset=${PRESET:-small}
size=$([ "$preset" = tiny ] && echo 16 || echo 32)
dataset=$([ "$size" = 16 ] && echo builtin:shapes || echo builtin:shapes32)
# The store is created once before the two trainings open it side by side.
"${SADPM[@]}" runs --data-dir "$data" > /dev/null
stamp() { echo "[$(( $(date +%s) - started )) s] $*" | tee -a "$log"; }
# One recipe; the loss is the only difference. EMA decay 0.995 suits a run of a few thousand steps.
recipe=(--data-dir "$data" --preset "$preset" --dataset "$dataset" --steps "$steps" --batch "${BATCH:-128}" --lr 5e-4 --warmup 100
  --grad-clip 1 --ema-decay 0.995 --checkpoint-every 1000 --log-every 25 --gap-every 0 --gap-t0 "${T0:-300}" --gap-batch 64
  --sample-every 0 --sample-n 64 --sample-steps 50 --seed 0)
# Both train until TRAIN_LIMIT seconds (SIGTERM: a checkpoint at the stop step), then the one behind resumes to the
# other's step, so both are compared at the same number of steps. STEPS caps both when it comes first.
last_ckpt() { ls "$data"/runs/*-"$1"/checkpoints 2>/dev/null | sed -n 's/^ckpt-0*\([0-9]*\)\.sadpm-ck$/\1/p' | sort -n | tail -1; }
if [ "$phase" != eval ]; then
stamp "training baseline and SA-2 side by side: $preset on $dataset, batch ${BATCH:-128}, for ${TRAIN_LIMIT:-300} s or $steps steps"
for spec in "baseline 1 0" "sa2 2 1"; do
  set -- $spec
  if [ -n "$(last_ckpt "$1")" ]; then
    stamp "$1: resuming from step $(last_ckpt "$1")"
    timeout -s TERM "${TRAIN_LIMIT:-300}" "${SADPM[@]}" resume "$1" --data-dir "$data" --steps "$steps" \
      >> "$out/train-$1.txt" 2>&1 &
  else
    timeout -s TERM "${TRAIN_LIMIT:-300}" "${SADPM[@]}" train "${recipe[@]}" --k "$2" --lambda "$3" --name "$1" \
      > "$out/train-$1.txt" 2>&1 &
  fi
done
wait
stamp "training stopped: baseline at step $(last_ckpt baseline), sa2 at step $(last_ckpt sa2)"
fi
if [ "$phase" = train ]; then
  tail -n 3 "$out/train-baseline.txt" "$out/train-sa2.txt" | tee -a "$log"
  "${SADPM[@]}" runs --data-dir "$data" 2>&1 | tee -a "$log"
  ls -la "$out"; exit 0
fi
sb=$(last_ckpt baseline); ss=$(last_ckpt sa2)
if [ -n "$sb" ] && [ -n "$ss" ] && [ "$sb" != "$ss" ]; then
  if [ "$sb" -gt "$ss" ]; then behind=sa2; target=$sb; else behind=baseline; target=$ss; fi
  timeout 120 "${SADPM[@]}" resume "$behind" --data-dir "$data" --steps "$target" >> "$out/train-$behind.txt" 2>&1
  stamp "$behind resumed to step $target: now at $(last_ckpt "$behind")"
fi
tail -n 3 "$out/train-baseline.txt" "$out/train-sa2.txt" 2>/dev/null | tee -a "$log"
"${SADPM[@]}" runs --data-dir "$data" 2>&1 | tee -a "$log"

if [ "${STUDY:-1}" = 1 ]; then
stamp "study: gap on raw weights, FID/KID/PR at DDIM 10,20,50,100 with EMA weights, n=$n"
timeout 240 "${SADPM[@]}" study baseline sa2 --data-dir "$data" --t0 "${T0:-300}" --gap-weights raw --measure-gap missing \
  --steps 10,20,50,100 --n "$n" --ema --sampler ddim --batch 250 --out "$out/study" 2>&1 | tee -a "$log"
stamp "study done"
fi

# Companion samplers: Γ once per model (union of the 10/25/50 trajectories), heads trained briefly. Each phase runs
# only while the call has time for it (BUDGET seconds in all, default 560).
left() { echo $(( ${BUDGET:-560} - ($(date +%s) - started) )); }
if [ "$(left)" -gt 120 ]; then
  for run in baseline sa2; do
    timeout 90 "${SADPM[@]}" gamma "$run" --data-dir "$data" --ema --steps 10,25,50 --n "${GAMMA_N:-1000}" 2>&1 \
      | tail -n 4 | tee -a "$log" &
  done
  wait
  stamp "gamma done"
fi
if [ "$(left)" -gt 150 ]; then
  for kind in npr sn; do
    for run in baseline sa2; do
      timeout "${COV_LIMIT:-100}" "${SADPM[@]}" train-cov "$run" --data-dir "$data" --ema --kind "$kind" \
        --steps "${COV_STEPS:-400}" --batch 128 --lr 1e-4 --checkpoint-every "${COV_STEPS:-400}" --name "$run-$kind" \
        2>&1 | tail -n 2 | tee -a "$log" &
    done
  done
  wait
  stamp "covariance heads done"
fi
if [ "${EVAL_SAMPLERS:-1}" = 1 ]; then
  # ddim first: the companion samplers are compared with it at the same n, steps and noise.
  for s in ${SAMPLERS:-ddim analytic-ddim npr-ddim sn-ddim analytic-ddpm ddpm npr-ddpm sn-ddpm}; do
    for run in baseline sa2; do
      [ "$(left)" -gt 45 ] || continue
      g=(); case $s in analytic-*) g=(--gamma-images "${GAMMA_N:-1000}");; esac
      timeout "$(( $(left) - 25 ))" "${SADPM[@]}" eval "$run" --data-dir "$data" --ema --sampler "$s" --steps 10,25,50 \
        --n "${SAMPLER_N:-500}" --batch 250 "${g[@]}" --json 2>>"$log" > "$out/eval-$run-$s.json" \
        || stamp "eval $run $s failed (exit $?)"
      stamp "eval $run $s"
    done
  done
fi
# One grid per model and sampler at 25 steps, for the eye; same seed, so the panels start from the same noise.
mkdir -p "$out/grids"
for run in baseline sa2; do
  for s in ddim analytic-ddim npr-ddim sn-ddim; do
    [ "$(left)" -gt 20 ] || break
    g=(); case $s in analytic-*) g=(--gamma-images "${GAMMA_N:-1000}");; esac
    p=$(timeout 30 "${SADPM[@]}" sample "$run" --data-dir "$data" --ema --sampler "$s" --steps 25 --n 64 --seed 1 "${g[@]}" \
      2>>"$log" | sed -n 's/^grid: //p')
    [ -n "$p" ] && cp "$p" "$out/grids/$run-$s-25.png"
  done
done
"${SADPM[@]}" runs --data-dir "$data" --kind cov 2>&1 | tee -a "$log"
stamp "done"
# What comes back: at most 8 files, so the report folder, evaluations, grids and training logs travel packed.
# (Whatever of them exists: a call without the study still packs its evaluations.)
cd "$out" && packed=$(ls -d study eval-*.json grids train-*.txt 2>/dev/null || true)
[ -n "$packed" ] && tar czf study.tgz $packed && rm -rf $packed
ls -la "$out"
