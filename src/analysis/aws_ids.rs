//! AWS identifiers: partitions, regions, account ids, ARNs and the kinds of thing they name
//! (keys, aliases, users, roles, sessions, federated users, the root user), IAM names and
//! organization targets. Every part of kmsdoctor that reads, checks or builds one of these
//! uses this module, so that "a key ARN" means one thing in a flag, a bundle, the evaluator
//! and a printed command, and every ARN kmsdoctor builds is in the key's partition.
//!
//! Sources: AWS General Reference, "Amazon Resource Names (ARNs)" (the format, and the
//! partitions `aws`, `aws-cn`, `aws-us-gov`); the partitions table the AWS SDKs ship
//! (`partitions.json`: each partition's `regionRegex`, ISO partitions included); IAM User
//! Guide, "IAM identifiers" (ARN forms of users, roles, sessions, federated users and the
//! root user; unique id prefixes) and "IAM and AWS STS quotas, name requirements" (names
//! `[\w+=,.@-]`, paths); STS AssumeRole (`RoleSessionName`); KMS Developer Guide, "Key
//! identifiers (KeyId)" (key ids, `mrk-` ids, alias names); Organizations API reference
//! (`RootId`, `OrganizationalUnitId`, `AccountId` patterns).

/// A partition, and the prefixes of the region names in it (`partitions.json`,
/// `regionRegex`: a prefix, then `-WORD-DIGITS`). More specific prefixes come first: `us-gov-`
/// and `us-iso-` regions are not in `aws`.
pub struct PartitionInfo {
    pub name: &'static str,
    /// Region names start with one of these (then `-`).
    pub region_prefixes: &'static [&'static str],
}

/// The partitions kmsdoctor knows, each with its regions' prefixes.
#[rustfmt::skip]
pub const PARTITIONS: &[PartitionInfo] = &[
    PartitionInfo { name: "aws-us-gov", region_prefixes: &["us-gov"] },
    PartitionInfo { name: "aws-iso-b",  region_prefixes: &["us-isob"] },
    PartitionInfo { name: "aws-iso-f",  region_prefixes: &["us-isof"] },
    PartitionInfo { name: "aws-iso",    region_prefixes: &["us-iso"] },
    PartitionInfo { name: "aws-iso-e",  region_prefixes: &["eu-isoe"] },
    PartitionInfo { name: "aws-eusc",   region_prefixes: &["eusc-de"] },
    PartitionInfo { name: "aws-cn",     region_prefixes: &["cn"] },
    PartitionInfo { name: "aws",        region_prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"] },
];

/// The regions kmsdoctor knows, by partition: the `regions` of each partition in the AWS
/// SDKs' `partitions.json` (commercial, China, GovCloud, the ISO partitions and the
/// European Sovereign Cloud), as of December 2026. A region AWS opens later is refused
/// with a hint until `--any-region` is given.
#[rustfmt::skip]
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
    "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
    "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1",
    "us-west-2",
    "cn-north-1", "cn-northwest-1",
    "us-gov-east-1", "us-gov-west-1",
    "us-iso-east-1", "us-iso-west-1", "us-isob-east-1", "eu-isoe-west-1",
    "us-isof-east-1", "us-isof-south-1", "eusc-de-east-1",
];

/// Why a region name is refused before any call: not a region name, or one kmsdoctor does
/// not know, with the nearest it knows (`us-esat-1`: did you mean `us-east-1`?).
pub fn check_region(region: &str, any_region: bool) -> Result<(), String> {
    if !is_region(region) {
        return Err(format!("`{region}` is not a region name"));
    }
    if any_region || KNOWN_REGIONS.contains(&region) {
        return Ok(());
    }
    let hint = KNOWN_REGIONS
        .iter()
        .map(|k| (super::suggest::distance(region, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    Err(format!(
        "`{region}` is not a region kmsdoctor knows{hint}; for a region opened since, add --any-region"
    ))
}

/// The partition of commercial AWS, taken when nothing says otherwise.
pub const DEFAULT_PARTITION: &str = "aws";

/// A partition kmsdoctor knows, or one of the ISO family (`aws-iso…`), whose names AWS
/// publishes as they open.
pub fn is_partition(p: &str) -> bool {
    PARTITIONS.iter().any(|x| x.name == p)
        || (p.starts_with("aws-iso") && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

/// The partition a region is in, by its name (`cn-north-1` is in `aws-cn`).
pub fn partition_of_region(region: &str) -> Option<&'static str> {
    if !is_region(region) {
        return None;
    }
    PARTITIONS
        .iter()
        .find(|p| {
            p.region_prefixes.iter().any(|prefix| {
                region
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('-'))
                    // The rest is `WORD-DIGITS`: one more dash, no more.
                    .is_some_and(|rest| rest.matches('-').count() == 1)
            })
        })
        .map(|p| p.name)
}

/// A region name's shape: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(s: &str) -> bool {
    (4..=30).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.split('-').count() >= 3
        && s.split('-').all(|part| !part.is_empty())
        && s.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A key id: a UUID, or `mrk-` and 32 hex digits.
pub fn is_key_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let mrk =
        s.len() == 36 && s.starts_with("mrk-") && s[4..].bytes().all(|b| b.is_ascii_hexdigit());
    uuid || mrk
}

/// IAM unique ids: what a policy shows in place of a principal that was deleted.
pub fn is_unique_id(s: &str) -> bool {
    const PREFIXES: [&str; 6] = ["AIDA", "AROA", "AGPA", "AIPA", "ANPA", "ANVA"];
    s.len() >= 16
        && PREFIXES.iter().any(|p| s.starts_with(p))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A parsed ARN: `arn:partition:service:region:account:resource`. Only the shape is
/// checked here (six parts, a partition and a service); what each part must hold for a key,
/// a role or a user is checked by the functions below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        if !s.starts_with("arn:") {
            return None;
        }
        // The places of the first five colons, in one pass (ARNs are short: a plain loop
        // beats a searcher's set-up per field).
        let mut colons = [0usize; 5];
        let mut found = 0;
        for (i, b) in s.bytes().enumerate() {
            if b == b':' {
                colons[found] = i;
                found += 1;
                if found == colons.len() {
                    break;
                }
            }
        }
        if found < colons.len() {
            return None;
        }
        let field = |n: usize| &s[colons[n - 1] + 1..colons[n]];
        let arn = Arn {
            partition: field(1),
            service: field(2),
            region: field(3),
            account: field(4),
            resource: &s[colons[4] + 1..],
        };
        if arn.partition.is_empty() || arn.service.is_empty() {
            return None;
        }
        Some(arn)
    }
}

/// A KMS key ARN, checked part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub key_id: &'a str,
}

impl<'a> KeyArn<'a> {
    /// `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID`, with a known partition, a region name,
    /// a 12-digit account and a key id.
    pub fn parse(s: &'a str) -> Option<KeyArn<'a>> {
        let a = kms_arn(s)?;
        let key_id = a.resource.strip_prefix("key/").filter(|id| is_key_id(id))?;
        Some(KeyArn {
            partition: a.partition,
            region: a.region,
            account: a.account,
            key_id,
        })
    }
}

/// A well-formed KMS ARN (key or alias): known partition, region name, account id.
fn kms_arn(s: &str) -> Option<Arn<'_>> {
    Arn::parse(s).filter(|a| {
        is_partition(a.partition)
            && a.service == "kms"
            && is_region(a.region)
            && is_account_id(a.account)
    })
}

/// The region of a KMS key or alias ARN, when `s` is one.
pub fn kms_arn_region(s: &str) -> Option<&str> {
    kms_arn(s).map(|a| a.region)
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID`.
pub fn is_key_arn(s: &str) -> bool {
    KeyArn::parse(s).is_some()
}

/// The ARN of a key.
pub fn key_arn(partition: &str, region: &str, account: &str, key_id: &str) -> String {
    format!("arn:{partition}:kms:{region}:{account}:key/{key_id}")
}

/// The ARN of an account's root user, which also stands for the account as a principal.
pub fn root_arn(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

/// The ARN of a role (path left out) of an account.
pub fn role_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{name}")
}

/// The ARN of a user (path left out) of an account.
pub fn user_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:user/{name}")
}

/// The ARN of a role session.
pub fn session_arn(partition: &str, account: &str, role: &str, session: &str) -> String {
    format!("arn:{partition}:sts::{account}:assumed-role/{role}/{session}")
}

/// The ARN of an AWS managed policy, such as a root task policy
/// (`root-task/IAMCreateRootUserPassword`).
pub fn aws_managed_policy_arn(partition: &str, path_and_name: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{path_and_name}")
}

/// An alias name, `alias/NAME`.
pub fn is_alias_name(s: &str) -> bool {
    s.strip_prefix("alias/").is_some_and(|n| {
        !n.is_empty()
            && n.len() <= 250
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    })
}

/// A key as a command names it: key ARN, key id, alias name or alias ARN.
pub fn is_key_reference(s: &str) -> bool {
    if is_key_arn(s) || is_key_id(s) || is_alias_name(s) {
        return true;
    }
    kms_arn(s).is_some_and(|a| is_alias_name(a.resource))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// An IAM path: `/` or `/…/`, printable ASCII without spaces.
fn is_path(p: &str) -> bool {
    p.starts_with('/')
        && p.ends_with('/')
        && p.len() <= 512
        && p.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// What an IAM ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    User,
    Role,
}

impl IamKind {
    fn word(self) -> &'static str {
        match self {
            IamKind::User => "user",
            IamKind::Role => "role",
        }
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` (or `user/`), every part checked.
pub fn is_iam_principal_arn(s: &str, kind: IamKind) -> bool {
    let Some(a) = Arn::parse(s) else {
        return false;
    };
    if !is_partition(a.partition)
        || a.service != "iam"
        || !a.region.is_empty()
        || !is_account_id(a.account)
    {
        return false;
    }
    let Some(rest) = a
        .resource
        .strip_prefix(kind.word())
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_string(), rest),
    };
    is_path(&path) && !name.is_empty() && name.len() <= 64 && name.chars().all(is_name_char)
}

pub fn is_role_arn(s: &str) -> bool {
    is_iam_principal_arn(s, IamKind::Role)
}

/// A role IAM Identity Center made for a permission set: path
/// `/aws-reserved/sso.amazonaws.com/` (optionally a region after it), name
/// `AWSReservedSSO_{permission set}_{suffix}` (IAM Identity Center User Guide, "IAM roles
/// created by IAM Identity Center").
pub fn is_identity_center_role(s: &str) -> bool {
    is_role_arn(s)
        && s.contains(":role/aws-reserved/sso.amazonaws.com/")
        && identity_center_permission_set(s).is_some()
}

/// The permission set of an IAM Identity Center role: `AWSReservedSSO_Admin_0123abcd` is
/// `Admin` (a permission set name may hold `_`: the suffix is after the last one).
pub fn identity_center_permission_set(s: &str) -> Option<&str> {
    let name = s.rsplit('/').next()?;
    let rest = name.strip_prefix("AWSReservedSSO_")?;
    let (set, suffix) = rest.rsplit_once('_')?;
    (!set.is_empty() && !suffix.is_empty()).then_some(set)
}

pub fn is_user_arn(s: &str) -> bool {
    is_iam_principal_arn(s, IamKind::User)
}

/// An IAM role, user or group name: 1 to 64 name characters.
pub fn is_iam_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(is_name_char)
}

/// A role session name, as STS AssumeRole takes it.
pub fn is_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.chars().all(is_name_char)
}

/// An organization root id, OU id or account id (Organizations API reference: `RootId`,
/// `OrganizationalUnitId`, `AccountId` patterns).
pub fn is_org_target(t: &str) -> bool {
    let lower_alnum = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(rest) = t.strip_prefix("r-") {
        return (4..=32).contains(&rest.len()) && lower_alnum(rest);
    }
    if let Some(rest) = t.strip_prefix("ou-") {
        return rest.split_once('-').is_some_and(|(root, ou)| {
            (4..=32).contains(&root.len())
                && (8..=32).contains(&ou.len())
                && lower_alnum(root)
                && lower_alnum(ou)
        });
    }
    is_account_id(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn a_mistyped_region_is_refused_with_the_nearest_known_one() {
        assert!(check_region("us-east-1", false).is_ok());
        assert!(check_region("eusc-de-east-1", false).is_ok());
        let e = check_region("us-esat-1", false).unwrap_err();
        assert!(e.contains("did you mean `us-east-1`"), "{e}");
        assert!(e.contains("--any-region"), "{e}");
        assert!(check_region("xx-newland-9", true).is_ok());
        assert!(check_region("not a region", true).is_err());
        // Every known region is a region of a known partition.
        for r in KNOWN_REGIONS {
            assert!(partition_of_region(r).is_some(), "{r}");
        }
    }

    #[test]
    fn regions_belong_to_their_partition() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("ap-southeast-3", "aws"),
            ("il-central-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(partition_of_region(region), Some(partition), "{region}");
        }
        for r in ["xx-east-1", "us-east-", "us-east-1; id", ""] {
            assert_eq!(partition_of_region(r), None, "{r}");
        }
    }

    #[test]
    fn one_definition_of_a_key_arn() {
        for p in ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"] {
            let arn = key_arn(p, "us-east-1", "111122223333", KEY_ID);
            let k = KeyArn::parse(&arn).unwrap();
            assert_eq!((k.partition, k.key_id), (p, KEY_ID));
        }
        for bad in [
            KEY_ID,
            "alias/app",
            "arn:aws:kms",
            "",
            ":::::",
            "arn:awz:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us east 1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234; curl x | sh; #",
            "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(!is_key_arn(bad), "{bad}");
        }
        assert!(is_key_reference(KEY_ID) && is_key_reference("alias/app"));
        assert!(is_key_reference(
            "arn:aws-cn:kms:cn-north-1:111122223333:alias/app"
        ));
        assert!(!is_key_reference(
            "arn:aws:kms:us-east-1:111122223333:alias/a:b"
        ));
    }

    #[test]
    fn principals_are_built_in_their_partition() {
        assert_eq!(
            root_arn("aws-us-gov", "111122223333"),
            "arn:aws-us-gov:iam::111122223333:root"
        );
        assert!(is_role_arn(&role_arn("aws-cn", "111122223333", "Admin")));
        assert!(is_user_arn(&user_arn("aws", "111122223333", "bob")));
        assert!(is_role_arn("arn:aws:iam::111122223333:role/team/ops/Admin"));
        assert!(!is_role_arn(
            "arn:aws:iam::111122223333:role/Admin;curl${IFS}x|sh;#"
        ));
        assert!(!is_role_arn("arn:aws:iam::111122223333:role/Admin\n$ rm"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:user/Admin"));
        assert!(is_session_name("kmsdoctor-recovery") && !is_session_name("a b"));
        assert!(is_alias_name("alias/prod/app_1") && !is_alias_name("alias/$(id)"));
        assert!(is_org_target("r-ab12") && is_org_target("ou-ab12-abcdefgh"));
        let sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Key_Admins_0123456789abcdef";
        assert!(is_identity_center_role(sso));
        assert_eq!(identity_center_permission_set(sso), Some("Key_Admins"));
        assert!(!is_identity_center_role(
            "arn:aws:iam::111122223333:role/AWSReservedSSO_X_1"
        ));
        assert!(!is_org_target("ou-ab12") && !is_org_target("r-AB12"));
    }
}
