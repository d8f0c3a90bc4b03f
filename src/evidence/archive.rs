//! The trail's log files in S3, the part without I/O: where one day's log files and digest
//! files of an account and region are, and the cheap test that lets most files go unparsed
//! (`digest.rs` reads and validates the digest files).
//!
//! Layout (CloudTrail User Guide, "Finding your CloudTrail log files" and "CloudTrail digest
//! file structure"):
//! `[PREFIX/]AWSLogs/[O-ID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`, and digests under
//! `.../CloudTrail-Digest/REGION/YYYY/MM/DD/`, one an hour, each listing the log files
//! delivered in that hour with the SHA-256 of their uncompressed content.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Where a trail delivers the logs of one account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailLocation {
    /// The trail's ARN (or name).
    pub trail: String,
    pub bucket: String,
    /// The bucket's region (GetBucketLocation), where S3 must be asked.
    pub bucket_region: String,
    /// The trail's S3 key prefix, without slashes at its ends.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The organization id, for an organization trail (`o-...`).
    #[serde(default)]
    pub org_id: Option<String>,
    pub account: String,
    pub region: String,
    /// Whether the trail writes digest files (log file validation).
    pub log_validation: bool,
    /// The KMS key the trail encrypts its log and digest files with (SSE-KMS;
    /// DescribeTrails' `KmsKeyId`), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

impl TrailLocation {
    fn base(&self) -> String {
        let mut s = String::new();
        if let Some(p) = self.prefix.as_deref().filter(|p| !p.is_empty()) {
            s.push_str(p.trim_matches('/'));
            s.push('/');
        }
        s.push_str("AWSLogs/");
        if let Some(o) = &self.org_id {
            s.push_str(o);
            s.push('/');
        }
        s.push_str(&self.account);
        s.push('/');
        s
    }

    fn dated(&self, folder: &str, day: NaiveDate) -> String {
        format!(
            "{}{folder}/{}/{:04}/{:02}/{:02}/",
            self.base(),
            self.region,
            day.year(),
            day.month(),
            day.day()
        )
    }

    /// The prefix of one day's log files.
    pub fn day_prefix(&self, day: NaiveDate) -> String {
        self.dated("CloudTrail", day)
    }

    /// The prefix of the digest files that end on `day`.
    pub fn digest_prefix(&self, day: NaiveDate) -> String {
        self.dated("CloudTrail-Digest", day)
    }

    /// `s3://BUCKET/KEY`.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Where the account's log files for the region are, in words.
    pub fn describe(&self) -> String {
        format!(
            "s3://{}/{}CloudTrail/{}/ (trail {})",
            self.bucket,
            self.base(),
            self.region,
            self.trail
        )
    }
}

/// What a failed read of one of the trail's objects needs, when the failure is an
/// AccessDenied that the trail's KMS key explains: S3 answers AccessDenied both when the
/// bucket refuses and when the caller may not `kms:Decrypt` the object's key ("Using
/// server-side encryption with AWS KMS keys (SSE-KMS)", S3 User Guide: "you must have
/// permission to use the key" to download an object encrypted with it), and only its
/// message tells them apart.
pub fn decrypt_hint(loc: &TrailLocation, access_denied: bool, message: &str) -> Option<String> {
    if !access_denied {
        return None;
    }
    let says_kms = message.to_ascii_lowercase().contains("kms");
    match &loc.kms_key {
        Some(k) => Some(format!(
            "the trail encrypts its files with the KMS key {k} (SSE-KMS): reading them needs kms:Decrypt on that key, allowed by its key policy (or, when the key policy delegates to IAM, by your IAM policies){}",
            if says_kms { "; S3 says the key refused" } else { ", besides s3:GetObject on the bucket" }
        )),
        None if says_kms => Some(
            "the object is encrypted with a KMS key (SSE-KMS): reading it needs kms:Decrypt on that key (the trail's KmsKeyId, cloudtrail DescribeTrails)".to_string(),
        ),
        None => None,
    }
}

/// Whether a log file's text can hold a policy event of the key: it names one of the
/// events kmsdoctor reads and the key's id. Most files fail this and are not parsed.
pub fn may_hold_policy_events(text: &str, key_id: &str) -> bool {
    text.contains(key_id) && super::cloudtrail_records::names_an_event_read(text)
}

pub use crate::analysis::fix::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(prefix: Option<&str>, org: Option<&str>) -> TrailLocation {
        TrailLocation {
            trail: "arn:aws:cloudtrail:us-east-1:111122223333:trail/org".into(),
            bucket: "trail-bucket".into(),
            bucket_region: "us-east-1".into(),
            prefix: prefix.map(str::to_string),
            org_id: org.map(str::to_string),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            log_validation: true,
            kms_key: None,
        }
    }

    #[test]
    fn day_prefixes_follow_the_trail_layout() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
        assert_eq!(
            loc(None, None).day_prefix(day),
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/03/07/"
        );
        assert_eq!(
            loc(Some("/logs/ct/"), Some("o-abc123")).day_prefix(day),
            "logs/ct/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2026/03/07/"
        );
        assert_eq!(
            loc(None, Some("o-abc123")).digest_prefix(day),
            "AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2026/03/07/"
        );
    }

    #[test]
    fn the_prefilter_needs_an_event_name_and_the_key() {
        let key = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(may_hold_policy_events(
            &format!(r#"{{"eventName":"PutKeyPolicy","x":"{key}"}}"#),
            key
        ));
        assert!(!may_hold_policy_events(
            &format!(r#"{{"eventName":"Decrypt","x":"{key}"}}"#),
            key
        ));
        assert!(!may_hold_policy_events(
            r#"{"eventName":"PutKeyPolicy","x":"other"}"#,
            key
        ));
    }

    #[test]
    fn an_access_denied_on_an_encrypted_trail_names_the_key_and_the_permission() {
        let mut l = loc(None, None);
        assert_eq!(decrypt_hint(&l, true, "AccessDenied: Access Denied"), None);
        assert_eq!(decrypt_hint(&l, false, "kms"), None);
        let bare = decrypt_hint(
            &l,
            true,
            "AccessDenied: not authorized to perform: kms:Decrypt",
        )
        .unwrap();
        assert!(
            bare.contains("kms:Decrypt") && bare.contains("KmsKeyId"),
            "{bare}"
        );
        l.kms_key = Some("arn:aws:kms:us-east-1:111122223333:key/trail".into());
        let named = decrypt_hint(&l, true, "AccessDenied: Access Denied").unwrap();
        assert!(
            named.contains("arn:aws:kms:us-east-1:111122223333:key/trail")
                && named.contains("kms:Decrypt")
                && named.contains("s3:GetObject"),
            "{named}"
        );
        let kms = decrypt_hint(&l, true, "AccessDenied: ... kms:Decrypt ...").unwrap();
        assert!(kms.contains("S3 says the key refused"), "{kms}");
        assert_eq!(decrypt_hint(&l, false, "NoSuchKey"), None);
    }

    #[test]
    fn digests_list_objects_with_their_sha256() {
        let text = r#"{"awsAccountId":"111122223333","digestStartTime":"2026-01-01T00:00:00Z",
            "digestEndTime":"2026-01-01T01:00:00Z","digestS3Bucket":"b","digestS3Object":"d",
            "digestPublicKeyFingerprint":"ab","previousDigestSignature":null,"logFiles":[
            {"s3Bucket":"b","s3Object":"AWSLogs/x.json.gz","hashValue":"ABCDEF","hashAlgorithm":"SHA-256","newestEventTime":"2026-01-01T00:00:00Z","oldestEventTime":"2026-01-01T00:00:00Z"},
            {"s3Bucket":"b","s3Object":"AWSLogs/y.json.gz","hashValue":"00","hashAlgorithm":"MD5"}]}"#;
        let d = super::super::digest::DigestFile::parse(text.as_bytes()).unwrap();
        assert_eq!(
            d.sha256_entries().collect::<Vec<_>>(),
            [("AWSLogs/x.json.gz", "abcdef".to_string())]
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
