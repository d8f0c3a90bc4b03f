#!/usr/bin/env bash
# Benchmark: `kmsdoctor scan` over N keys (default 1,000) in one account and region, against
# a moto server on loopback at the default --rate: wall time, AWS calls per key, peak RSS.
# Issue 11's goal: 1,000 keys in under 60 s, at most 3 calls per key, memory flat in N.
#
# usage: bench/scan_1000.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
source bench/moto.sh
python3 - "$port" "$n" <<'PY'
import json, sys, boto3
port, n = sys.argv[1], int(sys.argv[2])
kms = boto3.client("kms", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
locked = {"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:role/KeyAdmin"}, "Action": "kms:*", "Resource": "*"}]}
for i in range(n):
    if i % 10 == 0:
        kms.create_key(Policy=json.dumps(locked), BypassPolicyLockoutSafetyCheck=True)
    else:
        kms.create_key()
PY
cargo build --release --quiet
out=$(mktemp)
/usr/bin/time -f "%e s wall, %M KB peak RSS" target/release/kmsdoctor scan --region us-east-1 \
  --endpoint-url "http://127.0.0.1:$port" --output json > "$out" 2> "$out.err" || true
tail -1 "$out.err"
python3 - "$out" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
keys = len(v["keys"])
calls = v["summary"]["calls"]
print(f"{keys} keys judged, {calls} AWS calls: {calls / max(keys, 1):.2f} calls per key; "
      f"recoverable {v['summary']['recoverable']}, ok {v['summary']['ok']}")
PY
rm -f "$out" "$out.err"
