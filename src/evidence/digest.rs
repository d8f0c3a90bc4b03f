//! CloudTrail digest files, validated as CloudTrail defines them, without I/O.
//!
//! CloudTrail User Guide, "CloudTrail digest file structure" and "Custom implementations of
//! CloudTrail log file integrity validation": each digest file lists the log files delivered
//! in the hour before it with the SHA-256 of each one's uncompressed content, and carries the
//! signature of the digest before it. Its own signature is in the object's metadata
//! (`x-amz-meta-signature`, hex; `x-amz-meta-signature-algorithm`, `SHA256withRSA`): RSA
//! (PKCS #1 v1.5) with SHA-256 over the data signing string
//!
//! ```text
//! digestEndTime \n digestS3Bucket/digestS3Object \n hex(SHA-256(uncompressed digest)) \n previousDigestSignature
//! ```
//!
//! where the previous signature is `null` for the first digest of a chain. The public key is
//! the one `cloudtrail:ListPublicKeys` returns for the digest's time range whose fingerprint
//! is the digest's `digestPublicKeyFingerprint` (DER, PKCS #1). Backfill digests
//! (`..._backfill.json.gz`) list log files an earlier digest missed; they carry
//! `x-amz-meta-backfill-generation-timestamp` and are signed with the key of that time.

use chrono::{DateTime, Utc};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::signature::Verifier;
use serde::Deserialize;

use super::Invalid;

/// The only signature algorithm CloudTrail documents for digests.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";

/// A digest file's content, as far as validation needs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<LogEntry>,
}

/// One log file a digest lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    #[serde(default)]
    pub s3_bucket: Option<String>,
    pub s3_object: String,
    pub hash_value: String,
    #[serde(default)]
    pub hash_algorithm: Option<String>,
}

impl DigestFile {
    /// Reads a digest file's uncompressed text.
    pub fn parse(raw: &[u8]) -> Result<DigestFile, Invalid> {
        serde_json::from_slice(raw)
            .map_err(|e| Invalid(format!("is not a CloudTrail digest file: {e}")))
    }

    /// The log files it lists with their SHA-256 (lower-case hex); entries with another hash
    /// algorithm are left out.
    pub fn sha256_entries(&self) -> impl Iterator<Item = (&str, String)> {
        self.log_files
            .iter()
            .filter(|e| e.hash_algorithm.as_deref().is_none_or(|a| a == "SHA-256"))
            .map(|e| (e.s3_object.as_str(), e.hash_value.to_ascii_lowercase()))
    }

    /// The data signing string CloudTrail signs, for the digest's uncompressed bytes `raw`.
    pub fn signing_string(&self, raw: &[u8]) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time,
            self.digest_s3_bucket,
            self.digest_s3_object,
            super::archive::sha256_hex(raw),
            self.previous_digest_signature.as_deref().unwrap_or("null")
        )
    }

    /// When the digest's hour ended.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.digest_end_time)
            .ok()
            .map(|t| t.to_utc())
    }
}

/// Whether a digest object's key names a backfill digest.
pub fn is_backfill(key: &str) -> bool {
    key.ends_with("_backfill.json.gz")
}

/// One of CloudTrail's public keys (ListPublicKeys): its fingerprint and DER value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub fingerprint: String,
    pub der: Vec<u8>,
}

impl PublicKey {
    /// `value` as ListPublicKeys gives it: DER, or (as some SDKs hand the blob over) the
    /// base64 text of the DER.
    pub fn new(fingerprint: &str, value: &[u8]) -> PublicKey {
        use base64::Engine as _;
        let der = if value.first() == Some(&0x30) {
            value.to_vec()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(value.trim_ascii())
                .unwrap_or_else(|_| value.to_vec())
        };
        PublicKey {
            fingerprint: fingerprint.to_ascii_lowercase(),
            der,
        }
    }
}

/// Why a digest file does not stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No `signature` metadata on the object.
    Unsigned,
    /// Another algorithm than SHA256withRSA.
    Algorithm(String),
    /// The digest says it was delivered elsewhere: moved or copied.
    Moved { says: String },
    /// No public key of the digest's period has its fingerprint.
    NoKey { fingerprint: String },
    /// The key is not an RSA public key in PKCS #1 DER.
    BadKey { fingerprint: String },
    /// The signature does not verify: the digest (or its metadata) was changed.
    Signature,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Unsigned => write!(f, "carries no signature (x-amz-meta-signature)"),
            Fault::Algorithm(a) => write!(
                f,
                "is signed with {a}, not {SIGNATURE_ALGORITHM}: it is not CloudTrail's"
            ),
            Fault::Moved { says } => write!(
                f,
                "says it was delivered to s3://{says}: it was moved or copied, and cannot vouch for this place"
            ),
            Fault::NoKey { fingerprint } => write!(
                f,
                "is signed with the key {fingerprint}, which is not one of CloudTrail's public keys for its period (cloudtrail ListPublicKeys)"
            ),
            Fault::BadKey { fingerprint } => write!(
                f,
                "cannot be checked: CloudTrail's public key {fingerprint} is not an RSA key in PKCS #1 DER"
            ),
            Fault::Signature => write!(
                f,
                "has a signature that does not verify: the digest was changed after CloudTrail signed it"
            ),
        }
    }
}

/// Checks one digest's signature: `raw` is its uncompressed content, `bucket`/`key` where it
/// was read, `signature_hex` and `algorithm` its object metadata, `keys` CloudTrail's public
/// keys for its period.
pub fn verify(
    digest: &DigestFile,
    raw: &[u8],
    bucket: &str,
    key: &str,
    signature_hex: Option<&str>,
    algorithm: Option<&str>,
    keys: &[PublicKey],
) -> Result<(), Fault> {
    let Some(signature_hex) = signature_hex else {
        return Err(Fault::Unsigned);
    };
    if let Some(a) = algorithm.or(digest.digest_signature_algorithm.as_deref()) {
        if a != SIGNATURE_ALGORITHM {
            return Err(Fault::Algorithm(a.to_string()));
        }
    }
    if digest.digest_s3_bucket != bucket || digest.digest_s3_object != key {
        return Err(Fault::Moved {
            says: format!("{}/{}", digest.digest_s3_bucket, digest.digest_s3_object),
        });
    }
    let fingerprint = digest.digest_public_key_fingerprint.to_ascii_lowercase();
    let Some(public) = keys.iter().find(|k| k.fingerprint == fingerprint) else {
        return Err(Fault::NoKey { fingerprint });
    };
    let Ok(rsa_key) = rsa::PublicKey::from_pkcs1_der(&public.der) else {
        return Err(Fault::BadKey { fingerprint });
    };
    let Some(bytes) = from_hex(signature_hex) else {
        return Err(Fault::Signature);
    };
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(bytes.as_slice()) else {
        return Err(Fault::Signature);
    };
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(rsa_key)
        .verify(digest.signing_string(raw).as_bytes(), &signature)
        .map_err(|_| Fault::Signature)
}

/// How a digest links to the one before it, when both were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// The previous digest's signature and hash are the ones this digest carries.
    Holds,
    /// The signature this digest carries for the previous one is not its signature.
    SignatureDiffers,
    /// The hash this digest carries for the previous one is not its hash.
    HashDiffers,
}

/// Checks that `digest` names `previous` (read at `previous_raw`, signed `previous_signature`)
/// as CloudTrail chained them.
pub fn link(digest: &DigestFile, previous_raw: &[u8], previous_signature: Option<&str>) -> Link {
    let carried = digest
        .previous_digest_signature
        .as_deref()
        .map(str::to_ascii_lowercase);
    if carried != previous_signature.map(str::to_ascii_lowercase) {
        return Link::SignatureDiffers;
    }
    match &digest.previous_digest_hash_value {
        Some(h) if !h.eq_ignore_ascii_case(&super::archive::sha256_hex(previous_raw)) => {
            Link::HashDiffers
        }
        _ => Link::Holds,
    }
}

/// Lower- or upper-case hex to bytes.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};

    /// A 2048-bit test key (made with openssl for these tests; it signs nothing else).
    pub(crate) const TEST_KEY_DER: &[u8] =
        include_bytes!("../../fixtures/digests/test-signing-key.der");

    pub(crate) fn test_public_key() -> PublicKey {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let private = rsa::PrivateKey::from_pkcs1_der(TEST_KEY_DER).unwrap();
        let der = private.to_public_key().to_pkcs1_der().unwrap();
        PublicKey::new("31e8b5433410dfb61a9dc45cc65b22ff", der.as_bytes())
    }

    pub(crate) fn sign(text: &str) -> String {
        sign_with(TEST_KEY_DER, text)
    }

    /// The SHA256withRSA signature of `text` by the PKCS #1 DER private key `der`, in hex.
    fn sign_with(der: &[u8], text: &str) -> String {
        let private = rsa::PrivateKey::from_pkcs1_der(der).unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private);
        signer
            .sign(text.as_bytes())
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The guide's sample digest ("CloudTrail digest file structure"), its fields as given.
    fn sample(previous_signature: Option<&str>) -> String {
        serde_json::json!({
            "awsAccountId": "111122223333",
            "digestStartTime": "2015-08-17T14:01:31Z",
            "digestEndTime": "2015-08-17T15:01:31Z",
            "digestS3Bucket": "amzn-s3-demo-bucket",
            "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
            "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": "2015-08-17T14:52:27Z",
            "oldestEventTime": "2015-08-17T14:42:27Z",
            "previousDigestS3Bucket": "amzn-s3-demo-bucket",
            "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
            "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
            "previousDigestHashAlgorithm": "SHA-256",
            "previousDigestSignature": previous_signature,
            "logFiles": [{
                "s3Bucket": "amzn-s3-demo-bucket",
                "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
                "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
                "hashAlgorithm": "SHA-256",
                "newestEventTime": "2015-08-17T14:52:27Z",
                "oldestEventTime": "2015-08-17T14:42:27Z"
            }]
        })
        .to_string()
    }

    fn signed(raw: &str) -> (DigestFile, String) {
        let d = DigestFile::parse(raw.as_bytes()).unwrap();
        let s = sign(&d.signing_string(raw.as_bytes()));
        (d, s)
    }

    const BUCKET: &str = "amzn-s3-demo-bucket";

    fn key_of(d: &DigestFile) -> String {
        d.digest_s3_object.clone()
    }

    #[test]
    fn the_signing_string_is_the_four_documented_fields() {
        let raw = sample(Some("abcd"));
        let d = DigestFile::parse(raw.as_bytes()).unwrap();
        let s = d.signing_string(raw.as_bytes());
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "2015-08-17T15:01:31Z");
        assert_eq!(lines[1], format!("{BUCKET}/{}", d.digest_s3_object));
        assert_eq!(lines[2], super::super::archive::sha256_hex(raw.as_bytes()));
        assert_eq!(lines[3], "abcd");
        // The first digest of a chain: `null`, as CloudTrail's own validator writes it.
        let first = sample(None);
        let d = DigestFile::parse(first.as_bytes()).unwrap();
        assert!(d.signing_string(first.as_bytes()).ends_with("\nnull"));
        assert_eq!(d.sha256_entries().count(), 1);
    }

    #[test]
    fn a_signed_digest_verifies_and_every_change_is_caught() {
        let keys = [test_public_key()];
        let raw = sample(Some("abcd"));
        let (d, sig) = signed(&raw);
        let k = key_of(&d);
        let ok = |raw: &str, d: &DigestFile, sig: Option<&str>, key: &str| {
            verify(
                d,
                raw.as_bytes(),
                BUCKET,
                key,
                sig,
                Some(SIGNATURE_ALGORITHM),
                &keys,
            )
        };
        assert_eq!(ok(&raw, &d, Some(&sig), &k), Ok(()));
        // Upper-case hex is the same signature.
        assert_eq!(ok(&raw, &d, Some(&sig.to_uppercase()), &k), Ok(()));
        // A log file's hash rewritten in the digest (with its text re-parsed): caught.
        let tampered = raw.replace("9bb6196f", "0bb6196f");
        let td = DigestFile::parse(tampered.as_bytes()).unwrap();
        assert_eq!(ok(&tampered, &td, Some(&sig), &k), Err(Fault::Signature));
        // One more space in the text, same fields: the hash of the bytes differs.
        let spaced = format!("{raw} ");
        assert_eq!(ok(&spaced, &d, Some(&sig), &k), Err(Fault::Signature));
        // A signature flipped in one bit, cut short, not hex, or missing.
        let mut flipped = from_hex(&sig).unwrap();
        flipped[10] ^= 1;
        let flipped: String = flipped.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ok(&raw, &d, Some(&flipped), &k), Err(Fault::Signature));
        assert_eq!(ok(&raw, &d, Some(&sig[..100]), &k), Err(Fault::Signature));
        assert_eq!(ok(&raw, &d, Some("zz"), &k), Err(Fault::Signature));
        assert_eq!(ok(&raw, &d, None, &k), Err(Fault::Unsigned));
        // Read from another place than the one it names.
        assert!(matches!(
            ok(&raw, &d, Some(&sig), "elsewhere.json.gz"),
            Err(Fault::Moved { .. })
        ));
        // Another algorithm.
        assert_eq!(
            verify(
                &d,
                raw.as_bytes(),
                BUCKET,
                &k,
                Some(&sig),
                Some("SHA1withRSA"),
                &keys
            ),
            Err(Fault::Algorithm("SHA1withRSA".into()))
        );
        // The key of another period (another fingerprint): not found; a key that is not
        // RSA DER: said.
        let other = [PublicKey::new("00ff", &keys[0].der)];
        assert!(matches!(
            verify(&d, raw.as_bytes(), BUCKET, &k, Some(&sig), None, &other),
            Err(Fault::NoKey { .. })
        ));
        let broken = [PublicKey::new(
            &d.digest_public_key_fingerprint,
            &[0x30, 0x03, 1, 2, 3],
        )];
        assert!(matches!(
            verify(&d, raw.as_bytes(), BUCKET, &k, Some(&sig), None, &broken),
            Err(Fault::BadKey { .. })
        ));
        // Signed by another key with the same fingerprint: the signature does not verify.
        let forged = sign_with_other_key(&d.signing_string(raw.as_bytes()));
        assert_eq!(ok(&raw, &d, Some(&forged), &k), Err(Fault::Signature));
    }

    /// A signature by another key (a second test key made with openssl).
    fn sign_with_other_key(text: &str) -> String {
        sign_with(
            include_bytes!("../../fixtures/digests/other-signing-key.der"),
            text,
        )
    }

    #[test]
    fn public_keys_are_taken_as_der_or_as_its_base64() {
        use base64::Engine as _;
        let k = test_public_key();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&k.der);
        assert_eq!(PublicKey::new("AB", b64.as_bytes()).der, k.der);
        assert_eq!(PublicKey::new("AB", b64.as_bytes()).fingerprint, "ab");
    }

    #[test]
    fn a_chain_link_holds_only_with_the_previous_signature_and_hash() {
        let prev = sample(None);
        let (_, prev_sig) = signed(&prev);
        let hash = super::super::archive::sha256_hex(prev.as_bytes());
        let next = sample(Some(&prev_sig)).replace(
            "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
            &hash,
        );
        let d = DigestFile::parse(next.as_bytes()).unwrap();
        assert_eq!(link(&d, prev.as_bytes(), Some(&prev_sig)), Link::Holds);
        assert_eq!(
            link(&d, prev.as_bytes(), Some(&prev_sig.to_uppercase())),
            Link::Holds
        );
        assert_eq!(
            link(&d, prev.as_bytes(), Some("00")),
            Link::SignatureDiffers
        );
        assert_eq!(link(&d, prev.as_bytes(), None), Link::SignatureDiffers);
        assert_eq!(
            link(&d, format!("{prev} ").as_bytes(), Some(&prev_sig)),
            Link::HashDiffers
        );
    }

    #[test]
    fn backfill_digests_are_known_by_their_name() {
        assert!(is_backfill("a/b_20150817T150131Z_backfill.json.gz"));
        assert!(!is_backfill("a/b_20150817T150131Z.json.gz"));
        assert_eq!(from_hex("0aFF"), Some(vec![10, 255]));
        assert_eq!(from_hex("0"), None);
        assert!(DigestFile::parse(b"[1]").is_err());
    }
}
