//! What KMS says about each of its operations, as far as authorization goes: whether a key
//! policy governs it (or only IAM, for account-wide operations such as ListKeys), whether it
//! works across accounts, and whether a request can carry `kms:RequestAlias`.
//! Sources: the "AWS KMS permissions" table of the KMS developer guide, each operation's
//! "Cross-account use" line in the API reference, and for the condition keys of each action,
//! the Service Authorization Reference, "Actions, resources, and condition keys for AWS Key
//! Management Service" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html).

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
    /// The action's own condition keys (lower-cased; a trailing `:` or `/` names a family).
    pub condition_keys: &'static [&'static str],
}

const fn op(
    name: &'static str,
    key_resource: bool,
    cross_account: bool,
    request_alias: bool,
    condition_keys: &'static [&'static str],
) -> Operation {
    Operation {
        name,
        key_resource,
        cross_account,
        request_alias,
        condition_keys,
    }
}

/// Condition keys every request on a KMS key carries, whatever the action: the "Condition
/// keys" of the `key` resource type in the Service Authorization Reference (the key's
/// properties), plus the deprecated spellings the KMS guide still documents.
pub const KEY_RESOURCE_KEYS: &[&str] = &[
    "aws:resourcetag/",
    "kms:customermasterkeyspec",
    "kms:customermasterkeyusage",
    "kms:keyorigin",
    "kms:keyspec",
    "kms:keyusage",
    "kms:multiregion",
    "kms:multiregionkeytype",
    "kms:resourcealiases",
];

impl Operation {
    /// Whether a request for this action can carry `key` (any case). Global `aws:` keys are
    /// carried, except the tag keys of requests that tag (`aws:RequestTag/`, `aws:TagKeys`)
    /// and `aws:ResourceTag/` on actions with no resource; `kms:` keys only where the table
    /// lists them. A `kms:` key kmsdoctor does not know is taken as carried: a new key AWS
    /// adds must not be judged absent.
    pub fn carries(&self, key: &str) -> bool {
        // Case-insensitive without allocating: this runs for every lookup of a key the
        // request context does not set.
        let starts = |s: &str, p: &str| {
            s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        };
        let listed = |list: &[&str]| {
            list.iter().any(|k| {
                if k.ends_with(':') || k.ends_with('/') {
                    starts(key, k)
                } else {
                    key.eq_ignore_ascii_case(k)
                }
            })
        };
        if listed(self.condition_keys) || (self.key_resource && listed(KEY_RESOURCE_KEYS)) {
            return true;
        }
        if starts(key, "aws:") {
            let rest = &key[4..];
            return !(starts(rest, "requesttag/")
                || rest.eq_ignore_ascii_case("tagkeys")
                || starts(rest, "resourcetag/"));
        }
        if starts(key, "kms:") {
            return !super::condition_keys::is_known_kms_key(key);
        }
        true
    }
}

/// Every KMS action, in alphabetical order, with the condition keys of its request (the
/// "Condition keys" column of "Actions defined by AWS Key Management Service" in the Service
/// Authorization Reference; a key ending in `:` or `/` names a family such as
/// `kms:EncryptionContext:<key>`), lower-cased.
pub const OPERATIONS: &[Operation] = &[
    op(
        "CancelKeyDeletion",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "ConnectCustomKeyStore",
        false,
        false,
        false,
        &["kms:calleraccount"],
    ),
    op(
        "CreateAlias",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "CreateCustomKeyStore",
        false,
        false,
        false,
        &["kms:calleraccount"],
    ),
    op(
        "CreateGrant",
        true,
        true,
        false,
        &[
            "kms:calleraccount",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:grantconstraintsourcearn",
            "kms:grantconstrainttype",
            "kms:grantisforawsresource",
            "kms:grantoperations",
            "kms:granteeprincipal",
            "kms:granteeserviceprincipal",
            "kms:retiringprincipal",
            "kms:retiringserviceprincipal",
            "kms:viaservice",
        ],
    ),
    op(
        "CreateKey",
        false,
        false,
        false,
        &[
            "aws:requesttag/",
            "aws:resourcetag/",
            "aws:tagkeys",
            "kms:bypasspolicylockoutsafetycheck",
            "kms:calleraccount",
            "kms:keyorigin",
            "kms:keyspec",
            "kms:keyusage",
            "kms:multiregion",
            "kms:multiregionkeytype",
            "kms:viaservice",
        ],
    ),
    op(
        "Decrypt",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:recipientattestation:",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "DeleteAlias",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "DeleteCustomKeyStore",
        false,
        false,
        false,
        &["kms:calleraccount"],
    ),
    op(
        "DeleteImportedKeyMaterial",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "DeriveSharedSecret",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:keyagreementalgorithm",
            "kms:recipientattestation:",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "DescribeCustomKeyStores",
        false,
        false,
        false,
        &["kms:calleraccount"],
    ),
    op(
        "DescribeKey",
        true,
        true,
        true,
        &["kms:calleraccount", "kms:requestalias", "kms:viaservice"],
    ),
    op(
        "DisableKey",
        true,
        false,
        false,
        &[
            "kms:calleraccount",
            "kms:trailingdayswithoutkeyusage",
            "kms:viaservice",
        ],
    ),
    op(
        "DisableKeyRotation",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "DisconnectCustomKeyStore",
        false,
        false,
        false,
        &["kms:calleraccount"],
    ),
    op(
        "EnableKey",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "EnableKeyRotation",
        true,
        false,
        false,
        &[
            "kms:calleraccount",
            "kms:rotationperiodindays",
            "kms:viaservice",
        ],
    ),
    op(
        "Encrypt",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "GenerateDataKey",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:recipientattestation:",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "GenerateDataKeyPair",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:datakeypairspec",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:recipientattestation:",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "GenerateDataKeyPairWithoutPlaintext",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:datakeypairspec",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "GenerateDataKeyWithoutPlaintext",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "GenerateMac",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:macalgorithm",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "GenerateRandom",
        false,
        false,
        false,
        &["kms:recipientattestation:"],
    ),
    op(
        "GetKeyLastUsage",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "GetKeyPolicy",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "GetKeyRotationStatus",
        true,
        true,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "GetParametersForImport",
        true,
        false,
        false,
        &[
            "kms:calleraccount",
            "kms:viaservice",
            "kms:wrappingalgorithm",
            "kms:wrappingkeyspec",
        ],
    ),
    op(
        "GetPublicKey",
        true,
        true,
        true,
        &["kms:calleraccount", "kms:requestalias", "kms:viaservice"],
    ),
    op(
        "ImportKeyMaterial",
        true,
        false,
        false,
        &[
            "kms:calleraccount",
            "kms:expirationmodel",
            "kms:validto",
            "kms:viaservice",
        ],
    ),
    op("ListAliases", false, false, false, &[]),
    op(
        "ListGrants",
        true,
        true,
        false,
        &[
            "kms:calleraccount",
            "kms:grantisforawsresource",
            "kms:viaservice",
        ],
    ),
    op(
        "ListKeyPolicies",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "ListKeyRotations",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op("ListKeys", false, false, false, &[]),
    op(
        "ListResourceTags",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op("ListRetirableGrants", false, false, false, &[]),
    op(
        "PutKeyPolicy",
        true,
        false,
        false,
        &[
            "kms:bypasspolicylockoutsafetycheck",
            "kms:calleraccount",
            "kms:viaservice",
        ],
    ),
    op(
        "ReEncryptFrom",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:reencryptonsamekey",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "ReEncryptTo",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:encryptionalgorithm",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:reencryptonsamekey",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
    op(
        "ReplicateKey",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:replicaregion", "kms:viaservice"],
    ),
    op(
        "RetireGrant",
        true,
        true,
        false,
        &[
            "kms:calleraccount",
            "kms:encryptioncontext:",
            "kms:encryptioncontextkeys",
            "kms:grantconstrainttype",
            "kms:viaservice",
        ],
    ),
    op(
        "RevokeGrant",
        true,
        true,
        false,
        &[
            "kms:calleraccount",
            "kms:grantisforawsresource",
            "kms:viaservice",
        ],
    ),
    op(
        "RotateKeyOnDemand",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "ScheduleKeyDeletion",
        true,
        false,
        false,
        &[
            "kms:calleraccount",
            "kms:schedulekeydeletionpendingwindowindays",
            "kms:trailingdayswithoutkeyusage",
            "kms:viaservice",
        ],
    ),
    op(
        "Sign",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:messagetype",
            "kms:requestalias",
            "kms:signingalgorithm",
            "kms:viaservice",
        ],
    ),
    op(
        "SynchronizeMultiRegionKey",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "TagResource",
        true,
        false,
        false,
        &[
            "aws:requesttag/",
            "aws:tagkeys",
            "kms:calleraccount",
            "kms:viaservice",
        ],
    ),
    op(
        "UntagResource",
        true,
        false,
        false,
        &["aws:tagkeys", "kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "UpdateAlias",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "UpdateCustomKeyStore",
        false,
        false,
        false,
        &["kms:calleraccount"],
    ),
    op(
        "UpdateKeyDescription",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:viaservice"],
    ),
    op(
        "UpdatePrimaryRegion",
        true,
        false,
        false,
        &["kms:calleraccount", "kms:primaryregion", "kms:viaservice"],
    ),
    op(
        "Verify",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:messagetype",
            "kms:requestalias",
            "kms:signingalgorithm",
            "kms:viaservice",
        ],
    ),
    op(
        "VerifyMac",
        true,
        true,
        true,
        &[
            "kms:calleraccount",
            "kms:macalgorithm",
            "kms:requestalias",
            "kms:viaservice",
        ],
    ),
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
        .map(|o| {
            (
                super::suggest::distance(&name, &o.name.to_ascii_lowercase()),
                o.name,
            )
        })
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
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

    /// Every action of "Actions defined by AWS Key Management Service" (Service
    /// Authorization Reference) has an entry, and there is no other.
    #[test]
    fn every_action_of_the_service_authorization_reference_is_in_the_table() {
        const SAR: &[&str] = &[
            "CancelKeyDeletion",
            "ConnectCustomKeyStore",
            "CreateAlias",
            "CreateCustomKeyStore",
            "CreateGrant",
            "CreateKey",
            "Decrypt",
            "DeleteAlias",
            "DeleteCustomKeyStore",
            "DeleteImportedKeyMaterial",
            "DeriveSharedSecret",
            "DescribeCustomKeyStores",
            "DescribeKey",
            "DisableKey",
            "DisableKeyRotation",
            "DisconnectCustomKeyStore",
            "EnableKey",
            "EnableKeyRotation",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateMac",
            "GenerateRandom",
            "GetKeyLastUsage",
            "GetKeyPolicy",
            "GetKeyRotationStatus",
            "GetParametersForImport",
            "GetPublicKey",
            "ImportKeyMaterial",
            "ListAliases",
            "ListGrants",
            "ListKeyPolicies",
            "ListKeyRotations",
            "ListKeys",
            "ListResourceTags",
            "ListRetirableGrants",
            "PutKeyPolicy",
            "ReEncryptFrom",
            "ReEncryptTo",
            "ReplicateKey",
            "RetireGrant",
            "RevokeGrant",
            "RotateKeyOnDemand",
            "ScheduleKeyDeletion",
            "Sign",
            "SynchronizeMultiRegionKey",
            "TagResource",
            "UntagResource",
            "UpdateAlias",
            "UpdateCustomKeyStore",
            "UpdateKeyDescription",
            "UpdatePrimaryRegion",
            "Verify",
            "VerifyMac",
        ];
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        assert_eq!(names, SAR);
    }

    #[test]
    fn the_recovery_calls_carry_what_the_reference_lists() {
        let put = operation("kms:PutKeyPolicy").unwrap();
        let get = operation("kms:GetKeyPolicy").unwrap();
        assert!(put.carries("kms:BypassPolicyLockoutSafetyCheck"));
        assert!(!get.carries("kms:BypassPolicyLockoutSafetyCheck"));
        for absent in [
            "kms:EncryptionContext:purpose",
            "kms:EncryptionAlgorithm",
            "kms:GrantOperations",
            "kms:RequestAlias",
            "aws:RequestTag/team",
            "aws:TagKeys",
        ] {
            assert!(!put.carries(absent), "{absent}");
            assert!(!get.carries(absent), "{absent}");
        }
        for present in [
            "kms:ViaService",
            "kms:CallerAccount",
            "kms:KeySpec",
            "kms:ResourceAliases",
            "aws:ResourceTag/team",
            "aws:SourceIp",
            "aws:PrincipalArn",
        ] {
            assert!(put.carries(present), "{present}");
        }
        assert!(operation("kms:TagResource")
            .unwrap()
            .carries("aws:RequestTag/team"));
        assert!(!operation("kms:ListKeys")
            .unwrap()
            .carries("aws:ResourceTag/team"));
    }
}
