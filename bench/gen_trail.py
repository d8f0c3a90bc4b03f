#!/usr/bin/env python3
"""Generates CloudTrail log files for the why-locked benchmark.

Writes gzipped `{"Records": [...]}` files in the AWSLogs layout under OUT until the JSON
(uncompressed) reaches SIZE_MB. Almost every record is noise (KMS cryptographic calls on many
keys, S3 and STS calls); a few are the benchmark key's policy history, spread through the
files, as in a real trail.

usage: gen_trail.py OUT [SIZE_MB]
"""
import gzip, json, os, random, sys

ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
FILE_MB = 32

NOISE = ('{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:{sess}",'
         '"arn":"arn:aws:sts::{acct}:assumed-role/App{n}/{sess}","accountId":"{acct}","accessKeyId":"ASIA{n:016d}",'
         '"sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::{acct}:role/App{n}",'
         '"accountId":"{acct}","userName":"App{n}"}},"attributes":{{"creationDate":"2026-05-01T00:00:00Z","mfaAuthenticated":"false"}}}}}},'
         '"eventTime":"2026-05-{day:02d}T{h:02d}:{m:02d}:{s:02d}Z","eventSource":"{src}","eventName":"{name}","awsRegion":"us-east-1",'
         '"sourceIPAddress":"10.{a}.{b}.{c}","userAgent":"aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/21",'
         '"requestParameters":{{"keyId":"arn:aws:kms:us-east-1:{acct}:key/{k:08x}-0000-4000-8000-000000000000",'
         '"encryptionContext":{{"aws:s3:arn":"arn:aws:s3:::bucket-{n}/object-{c}"}},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}},'
         '"responseElements":null,"requestID":"{rid:032x}","eventID":"{eid:032x}","readOnly":true,'
         '"resources":[{{"accountId":"{acct}","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:{acct}:key/{k:08x}-0000-4000-8000-000000000000"}}],'
         '"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management",'
         '"tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"kms.us-east-1.amazonaws.com"}}}}')
SOURCES = [("kms.amazonaws.com", "Decrypt"), ("kms.amazonaws.com", "GenerateDataKey"), ("kms.amazonaws.com", "Encrypt"),
           ("s3.amazonaws.com", "GetObject"), ("sts.amazonaws.com", "AssumeRole")]

def policy_event(i, policy, day):
    rec = {"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/admin{i}",
           "accountId": ACCOUNT, "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin"}}},
           "eventTime": f"2026-05-{day:02d}T12:00:{i % 60:02d}Z", "eventSource": "kms.amazonaws.com", "eventName": "PutKeyPolicy",
           "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.30",
           "requestParameters": {"keyId": KEY_ID, "policyName": "default", "policy": json.dumps(policy), "bypassPolicyLockoutSafetyCheck": False},
           "responseElements": None, "eventID": f"policy-{i:04d}", "readOnly": False,
           "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY_ARN}], "recipientAccountId": ACCOUNT}
    return json.dumps(rec)

def policy(i, locked):
    admin = {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin{i % 3}"}, "Action": "kms:*", "Resource": "*"}
    enable = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    return {"Version": "2012-10-17", "Statement": [admin] if locked else [enable, admin]}

def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) * 1024 * 1024 if len(sys.argv) > 2 else 1024 * 1024 * 1024
    rnd = random.Random(42)
    folder = os.path.join(out, "AWSLogs", ACCOUNT, "CloudTrail", "us-east-1", "2026", "05")
    os.makedirs(folder, exist_ok=True)
    written, file_no, policy_no = 0, 0, 0
    files = max(1, size // (FILE_MB * 1024 * 1024))
    while written < size:
        parts, fsize = [], 0
        # Time moves forward with the files, as in a real trail.
        day = 1 + (file_no * 27) // max(1, files - 1)
        while fsize < FILE_MB * 1024 * 1024 and written + fsize < size:
            src, name = SOURCES[rnd.randrange(len(SOURCES))]
            n = rnd.randrange(50)
            r = NOISE.format(sess=f"s{rnd.randrange(1000)}", acct=ACCOUNT, n=n, day=day, h=rnd.randrange(24), m=rnd.randrange(60),
                             s=rnd.randrange(60), src=src, name=name, a=rnd.randrange(256), b=rnd.randrange(256), c=rnd.randrange(256),
                             k=rnd.randrange(1 << 32), rid=rnd.getrandbits(128), eid=rnd.getrandbits(128))
            parts.append(r)
            fsize += len(r) + 1
        # Six policy events over the run; the last one (in the last file) locks IAM out.
        if file_no % max(1, files // 5) == 0 or written + fsize >= size:
            last = written + fsize >= size
            parts.insert(len(parts) // 2, policy_event(policy_no, policy(policy_no, locked=last), day))
            policy_no += 1
        text = '{"Records":[' + ",".join(parts) + "]}"
        path = os.path.join(folder, f"{ACCOUNT}_CloudTrail_us-east-1_2026050{file_no % 10}T{file_no:04d}Z_{file_no:04x}.json.gz")
        with gzip.open(path, "wt", compresslevel=1) as f:
            f.write(text)
        written += len(text)
        file_no += 1
    print(f"{written} bytes of JSON in {file_no} files, {policy_no} policy events", file=sys.stderr)

if __name__ == "__main__":
    main()
