#!/usr/bin/env bash
# Benchmark: `--history s3`'s archive scan against `zcat` over the same trail log files
# (issue 10's goal: at least 0.8x zcat's speed, GETs proportional to days read). A moto
# server on loopback holds DAYS days of FILES gzipped log files each (Decrypt noise that
# names the key, so that every file is decompressed and searched in full, as most are);
# the same files are written to a folder for zcat. Records carry random ids, addresses and
# user agents, so that files compress about as real trail files do (about 10:1).
#
# usage: bench/archive_s3.sh [DAYS] [FILES] [RECORDS_PER_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-20}
files=${2:-12}
records=${3:-2000}
source bench/moto.sh
dir=$(mktemp -d)
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 - "$port" "$dir" "$days" "$files" "$records" <<'PY'
import datetime, gzip, json, os, random, sys, uuid, boto3
port, folder, days, files, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
s3.create_bucket(Bucket="bench-trail")
key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
start = datetime.date(2026, 6, 30)
total = 0
for d in range(days):
    day = start - datetime.timedelta(days=d)
    for f in range(files):
        recs = [{"eventVersion": "1.08", "eventTime": f"{day}T{f:02d}:00:00Z", "eventSource": "kms.amazonaws.com",
                 "eventName": "Decrypt", "awsRegion": "us-east-1",
                 "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/App/i-0abc", "accountId": "123456789012"},
                 "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": key},
                 "eventID": str(uuid.uuid4()), "requestID": str(uuid.uuid4()),
                 "sourceIPAddress": f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}",
                 "userAgent": f"aws-sdk-java/2.{random.randrange(30)}.{random.randrange(100)} Linux/5.10 OpenJDK/{random.randrange(100000)}",
                 "resources": [{"ARN": key, "type": "AWS::KMS::Key"}],
                 "recipientAccountId": "123456789012", "readOnly": True, "managementEvent": True}
                for i in range(records)]
        body = gzip.compress(json.dumps({"Records": recs}).encode(), 6)
        total += len(body)
        k = f"AWSLogs/123456789012/CloudTrail/us-east-1/{day:%Y/%m/%d}/123456789012_CloudTrail_us-east-1_{day:%Y%m%d}T{f:02d}00Z_{f:04d}.json.gz"
        s3.put_object(Bucket="bench-trail", Key=k, Body=body)
        path = os.path.join(folder, k.replace("/", "_"))
        with open(path, "wb") as out:
            out.write(body)
print(f"{days * files} objects, {total / 1e6:.1f} MB gzipped", file=sys.stderr)
PY
cargo build --release --quiet --example archive_bench
oldest=$(python3 -c "import datetime; print(datetime.date(2026, 6, 30) - datetime.timedelta(days=$days - 1))")
echo "zcat over the same files (from local disk):"
/usr/bin/time -f "  %e s wall" sh -c "cat $dir/*.gz | zcat > /dev/null"
echo "kmsdoctor's archive scan (moto on loopback, GET + gunzip + prefilter):"
/usr/bin/time -f "  %e s wall, %M KB peak RSS" target/release/examples/archive_bench \
  "http://127.0.0.1:$port" bench-trail 123456789012 us-east-1 2026-06-30 "$oldest"
