//! What KMS says about each of its operations, as far as authorization goes: whether a key
//! policy governs it (or only IAM, for account-wide operations such as ListKeys), whether it
//! works across accounts, and whether a request can carry `kms:RequestAlias`.
//! Source: the "AWS KMS permissions" table of the KMS developer guide and each operation's
//! "Cross-account use" line in the API reference.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    /// Governed by the key policy (resource: a KMS key). False for account-wide operations,
    /// which only IAM policies can allow.
    pub key_resource: bool,
    /// Works when the caller is in another account than the key.
    pub cross_account: bool,
    /// A request can name the key by alias, so `kms:RequestAlias` can be present.
    pub request_alias: bool,
}

const fn op(
    name: &'static str,
    key_resource: bool,
    cross_account: bool,
    request_alias: bool,
) -> Operation {
    Operation {
        name,
        key_resource,
        cross_account,
        request_alias,
    }
}

/// Every KMS action, in alphabetical order.
pub const OPERATIONS: &[Operation] = &[
    op("CancelKeyDeletion", true, false, false),
    op("ConnectCustomKeyStore", false, false, false),
    op("CreateAlias", true, false, false),
    op("CreateCustomKeyStore", false, false, false),
    op("CreateGrant", true, true, false),
    op("CreateKey", false, false, false),
    op("Decrypt", true, true, true),
    op("DeleteAlias", true, false, false),
    op("DeleteCustomKeyStore", false, false, false),
    op("DeleteImportedKeyMaterial", true, false, false),
    op("DeriveSharedSecret", true, true, true),
    op("DescribeCustomKeyStores", false, false, false),
    op("DescribeKey", true, true, true),
    op("DisableKey", true, false, false),
    op("DisableKeyRotation", true, false, false),
    op("DisconnectCustomKeyStore", false, false, false),
    op("EnableKey", true, false, false),
    op("EnableKeyRotation", true, false, false),
    op("Encrypt", true, true, true),
    op("GenerateDataKey", true, true, true),
    op("GenerateDataKeyPair", true, true, true),
    op("GenerateDataKeyPairWithoutPlaintext", true, true, true),
    op("GenerateDataKeyWithoutPlaintext", true, true, true),
    op("GenerateMac", true, true, true),
    op("GenerateRandom", false, false, false),
    op("GetKeyPolicy", true, false, false),
    op("GetKeyRotationStatus", true, true, false),
    op("GetParametersForImport", true, false, false),
    op("GetPublicKey", true, true, true),
    op("ImportKeyMaterial", true, false, false),
    op("ListAliases", false, false, false),
    op("ListGrants", true, true, false),
    op("ListKeyPolicies", true, false, false),
    op("ListKeyRotations", true, false, false),
    op("ListKeys", false, false, false),
    op("ListResourceTags", true, false, false),
    op("ListRetirableGrants", false, false, false),
    op("PutKeyPolicy", true, false, false),
    op("ReEncryptFrom", true, true, true),
    op("ReEncryptTo", true, true, true),
    op("ReplicateKey", true, false, false),
    op("RetireGrant", true, true, false),
    op("RevokeGrant", true, true, false),
    op("RotateKeyOnDemand", true, false, false),
    op("ScheduleKeyDeletion", true, false, false),
    op("Sign", true, true, true),
    op("SynchronizeMultiRegionKey", true, false, false),
    op("TagResource", true, false, false),
    op("UntagResource", true, false, false),
    op("UpdateAlias", true, false, false),
    op("UpdateCustomKeyStore", false, false, false),
    op("UpdateKeyDescription", true, false, false),
    op("UpdatePrimaryRegion", true, false, false),
    op("Verify", true, true, true),
    op("VerifyMac", true, true, true),
];

/// Looks up an action written as `kms:Name` (case-insensitive, as IAM action names are).
pub fn operation(action: &str) -> Option<&'static Operation> {
    let (prefix, name) = action.split_once(':')?;
    if !prefix.eq_ignore_ascii_case("kms") {
        return None;
    }
    OPERATIONS
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(name))
}

/// The closest known action name, for "did you mean" in errors.
pub fn suggest(action: &str) -> Option<&'static str> {
    let name = action.rsplit(':').next()?.to_ascii_lowercase();
    OPERATIONS
        .iter()
        .map(|o| (distance(&name, &o.name.to_ascii_lowercase()), o.name))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_case_insensitively() {
        let op = operation("KMS:putkeypolicy").unwrap();
        assert_eq!(op.name, "PutKeyPolicy");
        assert!(!op.cross_account && op.key_resource && !op.request_alias);
        assert!(operation("kms:ListKeys").is_some_and(|o| !o.key_resource));
        assert!(operation("kms:Decrypt").is_some_and(|o| o.cross_account && o.request_alias));
        assert!(operation("s3:GetObject").is_none());
        assert!(operation("kms:Nope").is_none());
        assert_eq!(suggest("kms:PutKeyPolcy"), Some("PutKeyPolicy"));
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(OPERATIONS.windows(2).all(|w| w[0].name < w[1].name));
    }
}
