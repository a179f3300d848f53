#!/usr/bin/env bash
# The GPU path, measured in one command: the demo recipe (GRU + Bahdanau, spa-eng) and the Multi30k
# Transformer, each trained for --minutes on CUDA in fp32, on CUDA in bf16 autocast, and on the CPU
# (train.amp=auto), then one table of tokens/s and validation loss side by side. Under 10 minutes in all at
# the default of 1 minute per run. Without a CUDA GPU (or with --cpu-only) the CUDA rows say so and the CPU
# rows still run, which is how CI tests this script.
#
#   bash bench/bench_gpu.sh [--minutes 1] [--cpu-only] [--out bench/runs-gpu] [--set section.key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
ATTNLAB=${ATTNLAB:-.venv/bin/attnlab}
PY=${PY:-.venv/bin/python}
minutes=1
cpu_only=0
out=bench/runs-gpu
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --cpu-only) cpu_only=1; shift ;;
    --out) out=$2; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    *) echo "error: unknown option $1 (see the header of bench/bench_gpu.sh)" >&2; exit 2 ;;
  esac
done
has_cuda=$($PY -c 'import torch; print(int(torch.cuda.is_available()))')
gpu=$($PY -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")')
recipes=(translate-spa-eng-bahdanau translate-multi30k-de-en-transformer)
configs=()
if [ "$cpu_only" = 0 ] && [ "$has_cuda" = 1 ]; then configs+=(cuda-fp32 cuda-bf16); fi
configs+=(cpu-auto)
rm -rf "$out"
mkdir -p "$out"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $($PY -c 'from attnlab.sysinfo import describe; print(describe())'); GPU: $gpu"
[ "$has_cuda" = 1 ] || echo "note: no CUDA GPU visible: the cuda rows are not measured"
for recipe in "${recipes[@]}"; do
  for config in "${configs[@]}"; do
    case "$config" in
      cuda-fp32) flags=(--device cuda --set train.amp=none) ;;
      cuda-bf16) flags=(--device cuda --set train.amp=bf16) ;;
      cpu-auto) flags=(--device cpu --set train.amp=auto) ;;
    esac
    # Loss only at the end (no BLEU decoding), so each run's time goes to training.
    $ATTNLAB train "recipes/$recipe.yaml" --out "$out/$recipe-$config" --max-minutes "$minutes" "${flags[@]}" \
      --set train.metric=loss --set data.valid_bleu_sentences=0 --set train.eval_every=1000000 \
      --set train.patience=null "${extra[@]}" > "$out/$recipe-$config.log" 2>&1 \
      || { echo "error: $recipe $config failed; see $out/$recipe-$config.log" >&2; exit 1; }
  done
done
$PY - "$out" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
print("\n| recipe | device / precision | steps | minutes | tokens/s | valid loss |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for run in sorted(p for p in out.iterdir() if p.is_dir()):
    s = json.loads((run / "summary.json").read_text())
    recipe, device, _ = run.name.rsplit("-", 2)  # <recipe>-cuda-fp32, <recipe>-cpu-auto
    label = f"{device} {s['precision']}"
    print(f"| {recipe} | {label} | {s['steps']} | {s['train_seconds'] / 60:.2f} | {s['tokens_per_second']:,.0f} "
          f"| {s['best']:.4f} |")
EOF
