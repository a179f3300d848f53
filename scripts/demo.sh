#!/usr/bin/env bash
# `make demo`: train the seeds' Spanish->English GRU + Bahdanau model on the real spa-eng pairs (about
# 10 minutes on 2 CPU cores), translate the seeds' four sentences and draw their attention maps.
# A second run reuses the trained model; an interrupted one resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
ATTNLAB=.venv/bin/attnlab
RECIPE=recipes/translate-spa-eng-bahdanau.yaml
RUN=${RUN:-runs/translate-spa-eng-bahdanau}
start=$(date +%s)

# A run left by an older attnlab (split line by line, so its test sentences leak into training) or by
# another recipe is kept, renamed aside, and the demo trains afresh.
if [ -f "$RUN/summary.json" ] && ! .venv/bin/python - "$RUN" "$RECIPE" <<'PY'
import json, sys
from pathlib import Path

import yaml

run, recipe = Path(sys.argv[1]), yaml.safe_load(Path(sys.argv[2]).read_text())
split = json.loads((run / "split.json").read_text()) if (run / "split.json").is_file() else {}
saved = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
same = all(saved.get(k, {}).get(key) == v for k in ("data", "model") for key, v in (recipe.get(k) or {}).items())
sys.exit(0 if split.get("version", 1) >= 2 and same else 1)
PY
then
  aside="$RUN.old-$(date +%Y%m%d-%H%M%S)"
  mv "$RUN" "$aside"
  echo "== $RUN was trained by an older attnlab or another recipe: kept as $aside, training anew"
fi

if [ -f "$RUN/summary.json" ]; then
  echo "== reusing the trained run in $RUN (delete it to train again)"
elif [ -f "$RUN/checkpoints/latest" ]; then
  echo "== resuming the interrupted training in $RUN"
  $ATTNLAB train "$RECIPE" --out "$RUN" --resume
else
  echo "== training $RECIPE into $RUN"
  $ATTNLAB train "$RECIPE" --out "$RUN"
fi

sentences=("hace mucho frio aqui." "esta es mi vida." "¿todavia estan en casa?" "trata de averiguarlo.")
echo
echo "== translations (greedy)"
for s in "${sentences[@]}"; do
  printf '%-28s -> %s\n' "$s" "$($ATTNLAB translate "$RUN" "$s")"
done
echo
echo "== beam search (beam 5, 3-best) for the last one, which the seed notes it gets wrong"
$ATTNLAB translate "$RUN" --beam 5 --n-best 3 "trata de averiguarlo."
echo
echo "== attention maps"
i=1
for s in "${sentences[@]}"; do
  $ATTNLAB plot attention "$RUN" "$s" -o "$RUN/attention-$i.png"
  i=$((i + 1))
done
echo
echo "== BLEU / chrF on the run's own test split"
$ATTNLAB eval "$RUN" --split test > /dev/null  # writes $RUN/eval-test.json
.venv/bin/python - "$RUN" <<'PY'
import json, sys
from pathlib import Path

run = Path(sys.argv[1])
r = json.loads((run / "eval-test.json").read_text())
print(f"test sentences {r['sentences']}: BLEU {r['bleu']:.1f}  chrF {r['chrf']:.1f}  ({r['signature']})")
s = json.loads((run / "summary.json").read_text())
print(f"training: {s['steps']} steps, {s['train_seconds'] / 60:.1f} min, {s['tokens_per_second']:,.0f} tokens/s, "
      f"precision {s.get('precision', 'fp32')}")
PY
echo "demo wall-clock: $(( $(date +%s) - start )) s"
