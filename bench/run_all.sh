#!/usr/bin/env bash
# `make bench`: every benchmark, one after another, each printing a markdown table with the date and the
# machine. Long (trainings included); results are collected in bench/results/<date>.md and the numbers
# quoted in bench/README.md come from such a run. Pass names to run a subset: bash bench/run_all.sh mha lm
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export MPLBACKEND=Agg
export ATTNLAB_DATA=${ATTNLAB_DATA:-$(cd ../shared/data 2>/dev/null && pwd)}
mkdir -p bench/results
out="bench/results/$(date -u +%Y-%m-%d).md"
all=(mha ngram seq2seq_speed lm serve sentiment translation)
selected=("${@:-${all[@]}}")
status=0
for name in "${selected[@]}"; do
  script="bench/bench_${name}.py"
  [ -f "$script" ] || { echo "no benchmark $script"; status=1; continue; }
  echo "== $name" | tee -a "$out"
  $PY "$script" 2>&1 | tee -a "$out" || status=1
  echo | tee -a "$out"
done
echo "results appended to $out"
exit $status
