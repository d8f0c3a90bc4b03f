#!/usr/bin/env bash
# Benchmark: `--history s3`'s archive scan against `zcat` over the same trail log files
# (issue 10's goal: at least 0.8x zcat's speed, GETs proportional to days read). A moto
# server on loopback holds DAYS days of FILES gzipped log files each (Decrypt noise that
# names the key, so that every file is decompressed and searched in full, as most are);
# the same files are written to a folder for zcat. Records carry random ids, addresses and
# user agents, so that files compress about as real trail files do (about 10:1).
#
# Each day's first file also holds a PutKeyPolicy of the key, and each day has 24 hourly
# digest files, chained and signed with the tests' key (fixtures/digests/): the scan is run
# twice, interleaved, with digest validation off and on (issue 25), to show its cost.
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
import datetime, gzip, hashlib, json, os, random, sys, uuid, boto3
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
signing_key = serialization.load_der_private_key(open("fixtures/digests/test-signing-key.der", "rb").read(), None)
port, folder, days, files, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
s3.create_bucket(Bucket="bench-trail")
key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
start = datetime.date(2026, 6, 30)
total = 0
for d in range(days):
    day = start - datetime.timedelta(days=d)
    logs = {}
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
        if f == 0:
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}
            recs[0] = dict(recs[0], eventName="PutKeyPolicy", readOnly=False,
                           requestParameters={"keyId": key, "policyName": "default", "policy": json.dumps(policy), "bypassPolicyLockoutSafetyCheck": False})
        text = json.dumps({"Records": recs}).encode()
        body = gzip.compress(text, 6)
        total += len(body)
        k = f"AWSLogs/123456789012/CloudTrail/us-east-1/{day:%Y/%m/%d}/123456789012_CloudTrail_us-east-1_{day:%Y%m%d}T{f:02d}00Z_{f:04d}.json.gz"
        s3.put_object(Bucket="bench-trail", Key=k, Body=body)
        logs.setdefault(min(f + 1, 23), []).append({"s3Bucket": "bench-trail", "s3Object": k, "hashValue": hashlib.sha256(text).hexdigest(), "hashAlgorithm": "SHA-256"})
        path = os.path.join(folder, k.replace("/", "_"))
        with open(path, "wb") as out:
            out.write(body)
    # 24 hourly digests of the day, chained from the previous one, signed as CloudTrail signs.
    previous = None
    for h in range(1, 25):
        end = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(hours=h)
        dk = f"AWSLogs/123456789012/CloudTrail-Digest/us-east-1/{end:%Y/%m/%d}/123456789012_CloudTrail-Digest_us-east-1_bench_us-east-1_{end:%Y%m%dT%H%M%S}Z.json.gz"
        digest = {"awsAccountId": "123456789012", "digestStartTime": f"{end - datetime.timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z",
                  "digestEndTime": f"{end:%Y-%m-%dT%H:%M:%S}Z", "digestS3Bucket": "bench-trail", "digestS3Object": dk,
                  "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff", "digestSignatureAlgorithm": "SHA256withRSA",
                  "previousDigestSignature": previous and previous[2], "logFiles": logs.get(h, [])}
        if previous:
            digest.update(previousDigestS3Bucket="bench-trail", previousDigestS3Object=previous[0],
                          previousDigestHashValue=hashlib.sha256(previous[1]).hexdigest(), previousDigestHashAlgorithm="SHA-256")
        raw = json.dumps(digest).encode()
        to_sign = f"{digest['digestEndTime']}\nbench-trail/{dk}\n{hashlib.sha256(raw).hexdigest()}\n{digest['previousDigestSignature'] or 'null'}"
        sig = signing_key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
        s3.put_object(Bucket="bench-trail", Key=dk, Body=gzip.compress(raw), Metadata={"signature": sig, "signature-algorithm": "SHA256withRSA"})
        previous = (dk, raw, sig)
print(f"{days * files} objects, {days * 24} digests, {total / 1e6:.1f} MB gzipped", file=sys.stderr)
PY
cargo build --release --quiet --example archive_bench
oldest=$(python3 -c "import datetime; print(datetime.date(2026, 6, 30) - datetime.timedelta(days=$days - 1))")
echo "zcat over the same files (from local disk):"
/usr/bin/time -f "  %e s wall" sh -c "cat $dir/*.gz | zcat > /dev/null"
echo "kmsdoctor's archive scan (moto on loopback, GET + gunzip + prefilter), digest validation off and on, interleaved:"
for run in 1 2 3; do
  for validate in off on; do
    /usr/bin/time -f "  ^ %e s wall, %M KB peak RSS (validation $validate, run $run)" target/release/examples/archive_bench \
      "http://127.0.0.1:$port" bench-trail 123456789012 us-east-1 2026-06-30 "$oldest" "$validate"
  done
done
