#!/usr/bin/env bash
# Benchmark: `kmsdoctor check` over the real-world corpus beside the project
# (../shared/realworld/policies: 61 key policies and templates from public repositories), in
# interleaved runs with another build (to compare two commits), and the JSON's totals.
#
# usage: bench/check_realworld.sh [OTHER_BINARY] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/realworld/policies
[ -d "$corpus" ] || { echo "no $corpus beside the project" >&2; exit 1; }
other=${1:-}
runs=${2:-30}
cargo build --release --quiet
bin=target/release/kmsdoctor
"$bin" check "$corpus" --output json > /tmp/kmsdoctor-realworld.json || true
python3 -c "import json; d=json.load(open('/tmp/kmsdoctor-realworld.json')); print('files read:', d['files_read'], '| policies:', len(d['policies']), '| findings:', len(d['findings']), '| skipped:', sum(d['skipped'].values()), '| errors:', len(d['errors']))"
time_one() {
  local s e
  s=$(date +%s%N)
  "$1" check "$corpus" --output json > /dev/null 2>&1 || true
  e=$(date +%s%N)
  echo $(( (e - s) / 1000 ))
}
declare -a a b
for _ in $(seq 1 "$runs"); do
  a+=("$(time_one "$bin")")
  [ -n "$other" ] && b+=("$(time_one "$other")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "this build: median $(median "${a[@]}") us over $runs runs"
[ -n "$other" ] && echo "$other: median $(median "${b[@]}") us over $runs runs"
exit 0
