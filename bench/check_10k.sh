#!/usr/bin/env bash
# Benchmark: `kmsdoctor check` over 10,000 key policy files (variants of the bundled
# fixtures: clean, locking, conditioned), and the start-up time of one check of one file.
#
# usage: bench/check_10k.sh [FILES]   (data goes to ${BENCH_DIR:-/tmp/kmsdoctor-bench})
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
dir=${BENCH_DIR:-/tmp/kmsdoctor-bench}/check-$n
if [ ! -d "$dir" ]; then
  mkdir -p "$dir"
  python3 - "$dir" "$n" <<'PY'
import json, sys, os
out, n = sys.argv[1], int(sys.argv[2])
src = ["fixtures/check/policies/default.json", "fixtures/check/policies/admin-only.json",
       "fixtures/policies/console-admins.json", "fixtures/policies/conditional-admin.json"]
docs = [json.load(open(p)) for p in src]
for i in range(n):
    d = json.loads(json.dumps(docs[i % len(docs)]))
    d["Id"] = f"bench-{i}"
    sub = os.path.join(out, f"{i // 1000:02d}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"key-{i:05d}.json"), "w") as f:
        json.dump(d, f, indent=2)
PY
fi
cargo build --release --quiet
bin=target/release/kmsdoctor
t0=$(date +%s.%N)
"$bin" check "$dir" --output json > /tmp/kmsdoctor-check-bench.json || true
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}')
echo "check over $n files: ${secs} s ($(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", n/s}') files/s)"
python3 -c "import json; d=json.load(open('/tmp/kmsdoctor-check-bench.json')); print('policies checked:', d['policies_checked'], '| findings:', len(d['findings']))"
if command -v hyperfine >/dev/null 2>&1; then
  # Ten timed runs over the corpus (a single run on a shared machine varies by ±30%).
  hyperfine -N -i --warmup 2 --runs 10 "$bin check $dir --output json" 2>&1 | grep -E "Time|Range"
  hyperfine -N -i --warmup 10 --runs 200 "$bin check fixtures/check/policies/default.json" 2>&1 | grep -E "Time|Range"
else
  echo "(install hyperfine for the start-up time of one check)"
fi
