//! Condition keys as data: every global key and KMS key kmsdoctor knows, and who decides its
//! value in a recovery call (the kms:GetKeyPolicy or kms:PutKeyPolicy a person makes to get
//! back in). Which keys an action's request carries at all is in `kms::OPERATIONS`.
//!
//! Sources: IAM User Guide, "AWS global condition context keys"
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html);
//! KMS Developer Guide, "AWS KMS condition keys"
//! (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html) and "AWS
//! global condition keys" (policy-conditions.html); Service Authorization Reference for AWS
//! KMS (the condition keys table).

/// Who decides a key's value in a recovery call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The principal's identity: it singles principals out (`aws:PrincipalArn`,
    /// `aws:PrincipalType`, `aws:username`, `aws:userid`, principal tags).
    Principal,
    /// What any principal can arrange for its own call (MFA, source address, network path,
    /// fresh credentials, user agent).
    Arrangeable,
    /// The same for every principal of the account (its organization, its account id).
    Account,
    /// Fixed by the key (its region, account, properties, tags, aliases): known when the
    /// evidence says, the same for every caller.
    Key,
    /// Fixed by the call kmsdoctor recommends: direct (no service, no alias), over TLS, made
    /// by an IAM principal, without BypassPolicyLockoutSafetyCheck, without tags.
    Call,
    /// The time of the call: now, or later for whoever waits.
    Time,
    /// A parameter of some other operation's request (encryption context, grant
    /// constraints...): absent from the recovery calls, which never carry it.
    Request,
}

/// One known key, or a family of keys (a name ending in `/` or `:`).
struct Known {
    name: &'static str,
    role: Role,
}

const fn k(name: &'static str, role: Role) -> Known {
    Known { name, role }
}

/// Every key kmsdoctor knows, lower-cased.
const KEYS: &[Known] = &[
    // Global keys: the principal.
    k("aws:principalarn", Role::Principal),
    k("aws:principaltype", Role::Principal),
    k("aws:userid", Role::Principal),
    k("aws:username", Role::Principal),
    k("aws:principaltag/", Role::Principal),
    k("aws:federatedprovider", Role::Principal),
    k("aws:sourceidentity", Role::Principal),
    k("identitystore:userid", Role::Principal),
    k("aws:principalaccount", Role::Account),
    k("aws:principalorgid", Role::Account),
    k("aws:principalorgpaths", Role::Account),
    k("aws:principalisawsservice", Role::Call),
    k("aws:principalservicename", Role::Call),
    k("aws:principalservicenameslist", Role::Call),
    k("aws:assumedroot", Role::Call),
    // Global keys: the session and the network.
    k("aws:multifactorauthpresent", Role::Arrangeable),
    k("aws:multifactorauthage", Role::Arrangeable),
    k("aws:tokenissuetime", Role::Arrangeable),
    k("aws:sourceip", Role::Arrangeable),
    k("aws:sourcevpc", Role::Arrangeable),
    k("aws:sourcevpcarn", Role::Arrangeable),
    k("aws:sourcevpce", Role::Arrangeable),
    k("aws:vpcsourceip", Role::Arrangeable),
    k("aws:useragent", Role::Arrangeable),
    k("aws:referer", Role::Arrangeable),
    k("aws:ec2instancesourcevpc", Role::Arrangeable),
    k("aws:ec2instancesourceprivateipv4", Role::Arrangeable),
    k("aws:securetransport", Role::Call),
    k("aws:calledvia", Role::Call),
    k("aws:calledviafirst", Role::Call),
    k("aws:calledvialast", Role::Call),
    k("aws:viaawsservice", Role::Call),
    k("aws:sourcearn", Role::Call),
    k("aws:sourceaccount", Role::Call),
    k("aws:sourceorgid", Role::Call),
    k("aws:sourceorgpaths", Role::Call),
    k("aws:chatbotsourcearn", Role::Call),
    k("aws:requesttag/", Role::Call),
    k("aws:tagkeys", Role::Call),
    // Global keys: the resource and the request.
    k("aws:requestedregion", Role::Key),
    k("aws:resourceaccount", Role::Key),
    k("aws:resourceorgid", Role::Account),
    k("aws:resourceorgpaths", Role::Account),
    k("aws:resourcetag/", Role::Key),
    k("aws:currenttime", Role::Time),
    k("aws:epochtime", Role::Time),
    // KMS keys.
    k("kms:bypasspolicylockoutsafetycheck", Role::Call),
    k("kms:calleraccount", Role::Account),
    k("kms:customermasterkeyspec", Role::Key),
    k("kms:customermasterkeyusage", Role::Key),
    k("kms:datakeypairspec", Role::Request),
    k("kms:encryptionalgorithm", Role::Request),
    k("kms:encryptioncontext:", Role::Request),
    k("kms:encryptioncontextkeys", Role::Request),
    k("kms:expirationmodel", Role::Request),
    k("kms:grantconstraintsourcearn", Role::Request),
    k("kms:grantconstrainttype", Role::Request),
    k("kms:grantisforawsresource", Role::Request),
    k("kms:grantoperations", Role::Request),
    k("kms:granteeprincipal", Role::Request),
    k("kms:granteeserviceprincipal", Role::Request),
    k("kms:keyagreementalgorithm", Role::Request),
    k("kms:keyorigin", Role::Key),
    k("kms:keyspec", Role::Key),
    k("kms:keyusage", Role::Key),
    k("kms:macalgorithm", Role::Request),
    k("kms:messagetype", Role::Request),
    k("kms:multiregion", Role::Key),
    k("kms:multiregionkeytype", Role::Key),
    k("kms:primaryregion", Role::Request),
    k("kms:reencryptonsamekey", Role::Request),
    k("kms:recipientattestation:", Role::Request),
    k("kms:replicaregion", Role::Request),
    k("kms:requestalias", Role::Call),
    k("kms:resourcealiases", Role::Key),
    k("kms:retiringprincipal", Role::Request),
    k("kms:retiringserviceprincipal", Role::Request),
    k("kms:rotationperiodindays", Role::Request),
    k("kms:schedulekeydeletionpendingwindowindays", Role::Request),
    k("kms:signingalgorithm", Role::Request),
    k("kms:trailingdayswithoutkeyusage", Role::Request),
    k("kms:validto", Role::Request),
    k("kms:viaservice", Role::Call),
    k("kms:wrappingalgorithm", Role::Request),
    k("kms:wrappingkeyspec", Role::Request),
];

fn find(key: &str) -> Option<&'static Known> {
    KEYS.iter().find(|k| {
        if k.name.ends_with('/') || k.name.ends_with(':') {
            key.len() > k.name.len()
                && key.as_bytes()[..k.name.len()].eq_ignore_ascii_case(k.name.as_bytes())
        } else {
            key.eq_ignore_ascii_case(k.name)
        }
    })
}

/// Who decides `key` in a recovery call; `None` for a key kmsdoctor does not know (taken to
/// single principals out, the cautious reading).
pub fn role(key: &str) -> Option<Role> {
    find(key).map(|k| k.role)
}

/// Whether `key` is a known global or KMS condition key (any case).
pub fn is_known(key: &str) -> bool {
    find(key).is_some()
}

/// The closest known key to a mistyped one (`aws:SorceIp` -> `aws:sourceip`), for "did
/// you mean"; a key family (`aws:PrincipalTag/`) is matched on its prefix and keeps the rest
/// of the key as typed (`aws:PrincipalTgs/team` -> `aws:principaltag/team`).
pub fn suggest(key: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    KEYS.iter()
        .filter_map(|k| {
            let family = k.name.ends_with('/') || k.name.ends_with(':');
            let (probe, rest) = if family {
                let n = k.name.len().min(lower.len());
                if !lower.is_char_boundary(n) {
                    return None;
                }
                (&lower[..n], &key[n..])
            } else {
                (lower.as_str(), "")
            };
            let d = super::suggest::distance(probe, k.name);
            (d <= 2).then(|| (d, format!("{}{rest}", k.name)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Whether a `kms:` key (any case) is one kmsdoctor knows.
pub(crate) fn is_known_kms_key(key: &str) -> bool {
    key.len() > 4 && key.as_bytes()[..4].eq_ignore_ascii_case(b"kms:") && find(key).is_some()
}

/// Whether a requirement on `key` is met alike by every principal of the account, or can be
/// arranged by any of them: it does not single anyone out.
pub fn anyone_can_meet(key: &str) -> bool {
    matches!(
        role(key),
        Some(Role::Arrangeable | Role::Account | Role::Key | Role::Time)
    )
}

/// The keys fixed by the recommended recovery call: each with the value it takes, or `None`
/// for a key the call does not carry (absent).
pub const RECOVERY_CALL: &[(&str, Option<&str>)] = &[
    ("kms:BypassPolicyLockoutSafetyCheck", Some("false")),
    ("kms:ViaService", None),
    ("kms:RequestAlias", None),
    ("aws:SecureTransport", Some("true")),
    ("aws:ViaAWSService", Some("false")),
    ("aws:CalledVia", None),
    ("aws:CalledViaFirst", None),
    ("aws:CalledViaLast", None),
    ("aws:SourceArn", None),
    ("aws:SourceAccount", None),
    ("aws:SourceOrgID", None),
    ("aws:SourceOrgPaths", None),
    ("aws:AssumedRoot", None),
    ("aws:ChatbotSourceArn", None),
    ("aws:PrincipalServiceNamesList", None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_of_the_keys_that_matter_for_recovery() {
        assert_eq!(role("aws:PrincipalTag/team"), Some(Role::Principal));
        assert_eq!(role("aws:principaltag/"), None, "a family needs a member");
        assert_eq!(role("aws:SourceIp"), Some(Role::Arrangeable));
        assert_eq!(role("kms:EncryptionContext:purpose"), Some(Role::Request));
        assert_eq!(role("aws:RequestedRegion"), Some(Role::Key));
        assert_eq!(role("kms:BypassPolicyLockoutSafetyCheck"), Some(Role::Call));
        assert_eq!(role("aws:SorceIp"), None);
        assert!(anyone_can_meet("aws:MultiFactorAuthPresent"));
        assert!(!anyone_can_meet("aws:PrincipalArn"));
    }

    #[test]
    fn a_mistyped_key_gets_the_closest_known_one() {
        assert_eq!(suggest("aws:SorceIp").as_deref(), Some("aws:sourceip"));
        assert_eq!(
            suggest("aws:PrincipalTgs/team").as_deref(),
            Some("aws:principaltag/team")
        );
        assert_eq!(
            suggest("kms:CallerAcount").as_deref(),
            Some("kms:calleraccount")
        );
        assert_eq!(suggest("s3:prefix"), None);
        assert_eq!(suggest("aws:é"), None);
    }

    #[test]
    fn every_key_the_recovery_call_fixes_is_a_call_key() {
        for (k, _) in RECOVERY_CALL {
            assert_eq!(role(k), Some(Role::Call), "{k}");
        }
    }
}
