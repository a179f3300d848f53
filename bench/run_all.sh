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
# Most benchmarks run once with their defaults; translation runs its suites as bench/README.md reports them
# (spa-eng: six 20-minute runs two at a time; Multi30k: each 60-minute run alone on both cores).
runs_of() {
  case "$1" in
    translation)
      echo "--suite spa-eng --beam 1"
      echo "--suite multi30k --only translate-multi30k-de-en-transformer --parallel 1 --threads 2"
      echo "--suite multi30k --only translate-multi30k-de-en-gru --parallel 1 --threads 2"
      echo "--suite multi30k --summarize --parallel 1 --threads 2" ;;  # both in one table and plot
    *) echo "" ;;
  esac
}
for name in "${selected[@]}"; do
  script="bench/bench_${name}.py"
  [ -f "$script" ] || { echo "no benchmark $script"; status=1; continue; }
  while IFS= read -r args; do
    echo "== $name $args" | tee -a "$out"
    # shellcheck disable=SC2086  # $args is a list of options
    $PY "$script" $args 2>&1 | tee -a "$out" || status=1
    echo | tee -a "$out"
  done < <(runs_of "$name")
done
echo "results appended to $out"
exit $status
