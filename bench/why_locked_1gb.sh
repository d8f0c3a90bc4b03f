#!/usr/bin/env bash
# Benchmark: diagnose a key from 1 GB (uncompressed) of generated CloudTrail records, and
# compare with merely decompressing the same files (`zcat FILES > /dev/null`).
#
# usage: bench/why_locked_1gb.sh [SIZE_MB]   (data goes to ${BENCH_DIR:-/tmp/kmsdoctor-bench})
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
dir=${BENCH_DIR:-/tmp/kmsdoctor-bench}/trail-${size_mb}mb
key=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab

if [ ! -d "$dir" ]; then
  echo "generating $size_mb MB of records in $dir" >&2
  python3 bench/gen_trail.py "$dir" "$size_mb"
fi
cargo build --release --quiet
bin=target/release/kmsdoctor
mapfile -t files < <(find "$dir" -name '*.json.gz' | sort)
bytes=$(for f in "${files[@]}"; do gzip -l "$f" | awk 'NR==2 {print $2}'; done | awk '{s+=$1} END {print s}')
mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b/1048576}')
echo "data: ${#files[@]} files, $mb MB of JSON (uncompressed)"

t0=$(date +%s.%N)
zcat "${files[@]}" > /dev/null
t1=$(date +%s.%N)
/usr/bin/time -f "%M" -o /tmp/kmsdoctor-bench-rss "$bin" why-locked "$key" --events-file "$dir" --output json > /tmp/kmsdoctor-bench-out.json || true
t2=$(date +%s.%N)

zcat_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}')
kd_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.2f", b-a}')
echo "zcat > /dev/null:   ${zcat_s} s  ($(awk -v m="$mb" -v s="$zcat_s" 'BEGIN {printf "%.0f", m/s}') MB/s)"
echo "kmsdoctor why-locked: ${kd_s} s  ($(awk -v m="$mb" -v s="$kd_s" 'BEGIN {printf "%.0f", m/s}') MB/s), max RSS $(( $(tail -n 1 /tmp/kmsdoctor-bench-rss) / 1024 )) MB"
python3 -c "import json; d=json.load(open('/tmp/kmsdoctor-bench-out.json')); print('verdict:', d['verdict'], '| lockout event:', (d['lockout_event'] or {}).get('event_id'), '| history:', len(d['history']), 'versions')"
