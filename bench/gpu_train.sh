#!/usr/bin/env bash
# Train the 345-class model on a lent CUDA machine in one command (bf16 autocast is automatic on
# CUDA), resuming from runs/q345 when it holds a checkpoint, and leave the checkpoint and the
# best model in $OUT (or runs/q345-gpu without $OUT).
#
# The data must travel with the checkout: first, here,
#   mkdir -p .data && cp ../shared/data/quickdraw/*.npz .data/ && echo /.data/ >> .git/info/exclude
# then run this script with .data (and runs/q345, to resume) carried along.
#   MAX_STEPS=40000 bash bench/gpu_train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-.data}
RUN=${RUN:-runs/q345}
OUT=${OUT:-runs/q345-gpu}
python3 -m pip install -q -e . 2>/dev/null || python3 -m pip install -q --no-deps -e .
mkdir -p "$RUN" "$OUT"
classes=(); data=()
for f in "$DATA"/*.npz; do
  name=$(basename "$f" .npz); classes+=("${name//_/ }"); data+=(--data "$f")
done
resume=(); [ -f "$RUN/checkpoint.pt" ] && resume=(--resume)
PYTHONUNBUFFERED=1 sketchplot train "${classes[@]}" "${data[@]}" --config configs/quickdraw345.toml \
  --out "$RUN" --device cuda ${MAX_STEPS:+--max-steps "$MAX_STEPS"} "${resume[@]}" 2>&1 | tee "$OUT/train.log"
cp "$RUN/checkpoint.pt" "$RUN/log.jsonl" "$OUT/"
cp -r "$RUN/best" "$OUT/best"
