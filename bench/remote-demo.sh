#!/usr/bin/env bash
# Issue 17: which recipe teaches the tiny model the built-in shapes in the fewest training steps and images?
# Runs every recipe below at once on the GPU machine (each its own store; the tiny model is host-bound, one core
# each), samples 64 images every SAMPLE_EVERY steps with the demo's sampler (DDPM, 100 steps, EMA) and records
# the shape check (src/engine/data/shapeCheck.ts) of each sample set. The learning curve in steps does not depend
# on the hardware; the CPU's ms/step per batch size (bench:train) turns it into the demo's wall time.
#   carry .device (sadpm.mjs, engineHost.js, better_sqlite3.node; see bench/remote-gpu.sh), then
#   STEPS=4000 bash bench/remote-demo.sh        → $OUT/demo-curves.jsonl, $OUT/demo-grids.tar.gz
# Locally (llvmpipe, slow): STUDY_LOCAL=1 STEPS=200 RECIPES=quick bash bench/remote-demo.sh
set -uo pipefail
out=${OUT:-/tmp/demo-out}
mkdir -p "$out"
if [ -z "${STUDY_LOCAL:-}" ]; then
  source .device/prelude.sh
  export SADPM_DAWN_NODE=$DAWN_NODE
  for f in .device/sadpm.mjs .device/engineHost.js .device/better_sqlite3.node; do
    [ -f "$f" ] || xz -dc "$f.xz" > "$f"
  done
  export SADPM_SQLITE_NODE=$PWD/.device/better_sqlite3.node
  SADPM=("$NODE" "$PWD/.device/sadpm.mjs")
else
  SADPM=("$PWD/node_modules/.bin/tsx" "$PWD/bin/sadpm.mjs")
fi
steps=${STEPS:-4000}
every=${SAMPLE_EVERY:-250}
work=$(mktemp -d)
common=(--run-preset quick-cpu --steps "$steps" --sample-every "$every" --sample-n 64 --sample-steps 100
  --checkpoint-every "$steps" --gap-every 0 --log-every 50 --json)
declare -A R=(
  [quick]=""
  [cos]="--schedule cosine"
  [cos-b4]="--schedule cosine --batch 4"
  [cos-b16]="--schedule cosine --batch 16"
  [cos-b32]="--schedule cosine --batch 32"
  [cos-lr1e-3]="--schedule cosine --lr 1e-3"
  [cos-lr5e-3]="--schedule cosine --lr 5e-3 --warmup 50"
  [cos-ema995]="--schedule cosine --ema-decay 0.995"
  [cos-T250]="--schedule cosine --T 250 --gap-t0 75"
  [cos-ch32]="--schedule cosine --ch 32"
  [cos-res2]="--schedule cosine --num-res-blocks 2"
  [cos-plain]="--schedule cosine --k 1 --lambda 0"
  [lin-plain]="--k 1 --lambda 0"
  [cos-noclip]="--schedule cosine --grad-clip 0"
)
# SET=starter: the candidates for the demo's starter checkpoint, trained long; their last checkpoints come back.
if [ "${SET:-}" = starter ]; then
  common=(--run-preset quick-cpu --schedule cosine --steps "$steps" --sample-every "$every" --sample-n 64
    --sample-steps 100 --checkpoint-every "$every" --keep-last 1 --gap-every 0 --log-every 200 --json)
  unset R; declare -A R=(
    [b64]="--batch 64 --lr 2e-3 --ema-decay 0.999 --warmup 200"
    [b32]="--batch 32 --lr 2e-3 --ema-decay 0.999 --warmup 200"
    [b128]="--batch 128 --lr 3e-3 --ema-decay 0.999 --warmup 200"
    [ch32-b64]="--ch 32 --batch 64 --lr 1e-3 --ema-decay 0.999 --warmup 200"
  )
  # INIT=FILE: continue a starter from an earlier call (its weights, EMA and Adam state; no warm-up again).
  [ -n "${INIT:-}" ] && common+=(--init-from "$PWD/$INIT" --warmup 0)
fi
names=${RECIPES:-${!R[*]}}
started=$(date +%s)
for name in $names; do
  d=$work/$name
  mkdir -p "$d"
  # shellcheck disable=SC2086
  (timeout "${LIMIT:-540}" "${SADPM[@]}" train --data-dir "$d/store" --name "$name" "${common[@]}" ${R[$name]} \
    > "$d/log.jsonl" 2> "$d/err.txt"; echo "$name exit $? after $(( $(date +%s) - started )) s" >> "$out/exits.txt") &
done
wait
# One line per (recipe, sample set): the step, recognised of n, mean IoU; then the final grids.
for name in $names; do
  grep '"type":"samples"' "$work/$name/log.jsonl" | sed "s/^/{\"recipe\":\"$name\",\"msg\":/; s/\$/}/" >> "$out/demo-curves.jsonl"
  tail -c 2000 "$work/$name/err.txt" > "$work/$name/err-tail.txt"
done
(cd "$work" && find . -name '*.png' -path '*samples*' | tar czf "$out/demo-grids.tar.gz" -T - */err-tail.txt 2>/dev/null)
if [ "${SET:-}" = starter ]; then
  for name in $names; do
    ck=$(ls "$work/$name"/store/runs/*/checkpoints/*.sadpm-ck 2>/dev/null | tail -1)
    [ -n "$ck" ] && cp "$ck" "$out/starter-$name.sadpm-ck"
  done
fi
cat "$out/exits.txt"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const by = {};
for (const l of lines) (by[l.recipe] ??= []).push(`${l.msg.step}:${l.msg.shapes ? l.msg.shapes.recognised + "/" + l.msg.shapes.n + "@" + l.msg.shapes.meanIou.toFixed(2) : "-"}`);
for (const [r, v] of Object.entries(by)) console.log(r.padEnd(12), v.join(" "));
' "$out/demo-curves.jsonl" 2>/dev/null || true
