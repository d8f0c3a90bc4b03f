//! Principals on both sides of a request: the *caller* making a request (an IAM user, a role
//! session, the root user, a service), and the principal *entries* a policy names. Matching
//! between them follows IAM's rules: an account entry covers every principal of that account
//! (by delegation to IAM, except for the root user), a role ARN covers all its sessions, a
//! unique id (`AROA...`) names a principal that was deleted and matches nobody.

use std::fmt;

use super::text::Text;
use crate::analysis::aws_ids::{self, is_account_id, is_unique_id, Arn};

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The account's root user.
    Root { partition: String, account: String },
    User {
        partition: String,
        account: String,
        arn: String,
        name: String,
    },
    /// A role; `session` is the assumed-role session ARN when the caller gave one. Without it
    /// the caller stands for "any session of this role".
    Role {
        partition: String,
        account: String,
        arn: String,
        name: String,
        session: Option<String>,
    },
    FederatedUser {
        partition: String,
        account: String,
        arn: String,
        name: String,
    },
    /// An AWS service acting through its service principal, e.g. `logs.amazonaws.com`.
    Service { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a principal: {reason}")]
pub struct CallerParseError {
    pub input: String,
    pub reason: &'static str,
}

impl Caller {
    pub fn parse(input: &str) -> Result<Caller, CallerParseError> {
        let err = |reason| CallerParseError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        if is_account_id(s) {
            return Ok(Caller::Root {
                partition: "aws".into(),
                account: s.into(),
            });
        }
        if !s.starts_with("arn:") {
            if s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn") {
                return Ok(Caller::Service { name: s.into() });
            }
            return Err(err("expected an IAM or STS ARN, a 12-digit account id or a service principal such as `logs.amazonaws.com`"));
        }
        let arn = Arn::parse(s).ok_or_else(|| err("an ARN has six colon-separated parts"))?;
        if !is_account_id(arn.account) {
            return Err(err(
                "the account part of the ARN is not a 12-digit account id",
            ));
        }
        if s.contains(['*', '?']) {
            return Err(err("a caller is one principal: wildcards are not allowed"));
        }
        let partition = arn.partition.to_string();
        let account = arn.account.to_string();
        match arn.service {
            "iam" => {
                if arn.resource == "root" {
                    return Ok(Caller::Root { partition, account });
                }
                let (kind, rest) = arn
                    .resource
                    .split_once('/')
                    .ok_or_else(|| err("expected `root`, `user/NAME` or `role/NAME`"))?;
                let name = rest.rsplit('/').next().unwrap_or(rest).to_string();
                if name.is_empty() {
                    return Err(err("the principal name is empty"));
                }
                match kind {
                    "user" => Ok(Caller::User {
                        partition,
                        account,
                        arn: s.into(),
                        name,
                    }),
                    "role" => Ok(Caller::Role {
                        partition,
                        account,
                        arn: s.into(),
                        name,
                        session: None,
                    }),
                    _ => Err(err("only users, roles and the root user can make requests")),
                }
            }
            "sts" => {
                let parts: Vec<&str> = arn.resource.split('/').collect();
                match parts.as_slice() {
                    ["assumed-role", role, session] if !role.is_empty() && !session.is_empty() => {
                        Ok(Caller::Role {
                            arn: format!("arn:{partition}:iam::{account}:role/{role}"),
                            partition,
                            account,
                            name: (*role).into(),
                            session: Some(s.into()),
                        })
                    }
                    ["federated-user", name] if !name.is_empty() => Ok(Caller::FederatedUser {
                        partition,
                        account,
                        arn: s.into(),
                        name: (*name).into(),
                    }),
                    _ => Err(err(
                        "expected `assumed-role/ROLE/SESSION` or `federated-user/NAME`",
                    )),
                }
            }
            _ => Err(err("expected an `iam` or `sts` ARN")),
        }
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Root { account, .. }
            | Caller::User { account, .. }
            | Caller::Role { account, .. }
            | Caller::FederatedUser { account, .. } => Some(account),
            Caller::Service { .. } => None,
        }
    }

    pub fn partition(&self) -> &str {
        match self {
            Caller::Root { partition, .. }
            | Caller::User { partition, .. }
            | Caller::Role { partition, .. }
            | Caller::FederatedUser { partition, .. } => partition,
            Caller::Service { .. } => "aws",
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self, Caller::Root { .. })
    }

    /// The value of `aws:PrincipalArn`: for a role session, the role's ARN.
    pub fn principal_arn(&self) -> Option<String> {
        match self {
            Caller::Root { partition, account } => {
                Some(format!("arn:{partition}:iam::{account}:root"))
            }
            Caller::User { arn, .. }
            | Caller::Role { arn, .. }
            | Caller::FederatedUser { arn, .. } => Some(arn.clone()),
            Caller::Service { .. } => None,
        }
    }

    /// The value of `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Caller::Root { .. } => "Account",
            Caller::User { .. } => "User",
            Caller::Role { .. } => "AssumedRole",
            Caller::FederatedUser { .. } => "FederatedUser",
            Caller::Service { .. } => "Service",
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Role {
                session: Some(s), ..
            } => f.write_str(s),
            Caller::Service { name } => f.write_str(name),
            other => f.write_str(&other.principal_arn().unwrap_or_default()),
        }
    }
}

/// One principal named in a policy's `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Everyone,
    /// The account principal: a bare account id or `arn:aws:iam::ID:root`.
    Account {
        account: Text,
        raw: Text,
    },
    /// A user, role, assumed-role session or federated-user ARN.
    Arn {
        arn: Text,
        account: Text,
    },
    /// A unique id (`AROA...`, `AIDA...`): the principal it named was deleted.
    UniqueId(Text),
    Service(Text),
    Federated(Text),
    CanonicalUser(Text),
    /// A value a template fills in at deploy time (`${AdminRole.Arn}`): matches nobody here.
    Unresolved(Text),
    /// An `AWS` value that is none of the above (a wildcard ARN, a typo): KMS rejects it.
    Invalid(Text),
}

impl PrincipalEntry {
    /// The ARN this entry names in a `Principal` element and its account: the ARN of a user,
    /// role or session, or the root ARN of an account principal (in `partition`); `None`
    /// for everyone, services, unique ids and the rest.
    pub fn named_arn(&self, partition: &str) -> Option<(String, &str)> {
        match self {
            PrincipalEntry::Arn { arn, account } => Some((arn.to_string(), account.as_str())),
            PrincipalEntry::Account { account, .. } => Some((
                crate::analysis::aws_ids::root_arn(partition, account),
                account.as_str(),
            )),
            _ => None,
        }
    }

    pub fn from_aws_value(v: &str) -> PrincipalEntry {
        if v == "*" {
            return PrincipalEntry::Everyone;
        }
        if is_account_id(v) {
            return PrincipalEntry::Account {
                account: v.into(),
                raw: v.into(),
            };
        }
        if is_unique_id(v) {
            return PrincipalEntry::UniqueId(v.into());
        }
        // One pass without early exit (which vectorises) tells whether a wildcard or a
        // variable's `$` may be there at all; most values have neither.
        let special = v.bytes().fold(false, |acc, b| {
            acc | (b == b'*') | (b == b'?') | (b == b'$')
        });
        if special && v.contains(['*', '?']) {
            return PrincipalEntry::Invalid(v.into());
        }
        if special && v.contains("${") && Arn::parse(v).is_none_or(|a| !is_account_id(a.account)) {
            return PrincipalEntry::Unresolved(v.into());
        }
        match Arn::parse(v) {
            Some(arn) if is_account_id(arn.account) => match (arn.service, arn.resource) {
                ("iam", "root") => PrincipalEntry::Account {
                    account: arn.account.into(),
                    raw: v.into(),
                },
                ("iam", r) if r.starts_with("user/") || r.starts_with("role/") => {
                    PrincipalEntry::Arn {
                        arn: v.into(),
                        account: arn.account.into(),
                    }
                }
                ("sts", r)
                    if r.starts_with("assumed-role/") || r.starts_with("federated-user/") =>
                {
                    PrincipalEntry::Arn {
                        arn: v.into(),
                        account: arn.account.into(),
                    }
                }
                _ => PrincipalEntry::Invalid(v.into()),
            },
            _ => PrincipalEntry::Invalid(v.into()),
        }
    }

    /// The principal as output shows it: a bare account id becomes the account's root ARN in
    /// `partition` (the key's: a policy names principals of the key's partition).
    pub fn normalized(&self, partition: &str) -> String {
        match self {
            PrincipalEntry::Everyone => "*".into(),
            PrincipalEntry::Account { account, raw } => {
                if raw.starts_with("arn:") {
                    raw.to_string()
                } else {
                    aws_ids::root_arn(partition, account)
                }
            }
            PrincipalEntry::Arn { arn, .. } => arn.to_string(),
            PrincipalEntry::UniqueId(s)
            | PrincipalEntry::Service(s)
            | PrincipalEntry::Federated(s)
            | PrincipalEntry::CanonicalUser(s)
            | PrincipalEntry::Unresolved(s)
            | PrincipalEntry::Invalid(s) => s.to_string(),
        }
    }

    pub fn matches(&self, caller: &Caller) -> PrincipalMatch {
        match (self, caller) {
            (PrincipalEntry::Everyone, _) => PrincipalMatch::Everyone,
            (PrincipalEntry::Service(s), Caller::Service { name })
                if s.eq_ignore_ascii_case(name) =>
            {
                PrincipalMatch::Direct
            }
            (PrincipalEntry::Account { account, .. }, c)
                if c.account() == Some(account.as_str()) =>
            {
                PrincipalMatch::Account
            }
            (PrincipalEntry::Arn { arn, .. }, c) => match c {
                Caller::User { arn: a, .. } | Caller::FederatedUser { arn: a, .. } if a == arn => {
                    PrincipalMatch::Direct
                }
                Caller::Role {
                    arn: role_arn,
                    session,
                    name,
                    ..
                } => {
                    // A session ARN does not show the role's path: a role ARN with a path
                    // names the session's role when account and name agree (role names are
                    // unique in an account, whatever the path).
                    let same_role_by_name = session.is_some()
                        && Arn::parse(arn)
                            .zip(Arn::parse(role_arn))
                            .is_some_and(|(a, r)| {
                                a.service == "iam"
                                    && a.partition == r.partition
                                    && a.account == r.account
                                    && a.resource.starts_with("role/")
                                    && a.resource.rsplit('/').next() == Some(name.as_str())
                            });
                    if arn == role_arn
                        || same_role_by_name
                        || session.as_deref() == Some(arn.as_str())
                    {
                        PrincipalMatch::Direct
                    } else if session.is_none() && is_session_of(arn, role_arn) {
                        // The caller stands for any session of the role; this entry names one.
                        PrincipalMatch::OneSession
                    } else {
                        PrincipalMatch::None
                    }
                }
                _ => PrincipalMatch::None,
            },
            _ => PrincipalMatch::None,
        }
    }
}

/// Whether `session_arn` (`arn:P:sts::A:assumed-role/NAME/S`) is a session of `role_arn`
/// (`arn:P:iam::A:role/[path/]NAME`).
pub fn is_session_of(session_arn: &str, role_arn: &str) -> bool {
    let (Some(s), Some(r)) = (Arn::parse(session_arn), Arn::parse(role_arn)) else {
        return false;
    };
    let role_name = r.resource.rsplit('/').next().unwrap_or("");
    let mut parts = s.resource.split('/');
    s.service == "sts"
        && s.account == r.account
        && s.partition == r.partition
        && parts.next() == Some("assumed-role")
        && parts.next() == Some(role_name)
}

/// How one policy principal entry relates to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalMatch {
    /// Names the caller (or, for a role, any of its sessions).
    Direct,
    /// Names the caller's account: IAM policies decide (the root user needs none).
    Account,
    /// `*`: everyone.
    Everyone,
    /// Names one particular session of the caller role: holds only for that session name.
    OneSession,
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_callers() {
        let c = Caller::parse("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap();
        assert_eq!(
            c.principal_arn().unwrap(),
            "arn:aws:iam::111122223333:role/Admin"
        );
        assert_eq!(c.principal_type(), "AssumedRole");
        assert!(Caller::parse("111122223333").unwrap().is_root());
        assert!(matches!(
            Caller::parse("arn:aws:iam::111122223333:user/ops/bob").unwrap(),
            Caller::User { ref name, .. } if name == "bob"
        ));
        assert!(matches!(
            Caller::parse("logs.amazonaws.com").unwrap(),
            Caller::Service { .. }
        ));
        for bad in [
            "",
            "bob",
            "arn:aws:iam::1111:root",
            "arn:aws:iam::111122223333:group/g",
            "arn:aws:iam::111122223333:role/*",
            "arn:aws:s3:::bucket",
            "arn:aws:sts::111122223333:assumed-role/OnlyRole",
        ] {
            assert!(Caller::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classifies_policy_entries() {
        assert!(matches!(
            PrincipalEntry::from_aws_value("*"),
            PrincipalEntry::Everyone
        ));
        assert_eq!(
            PrincipalEntry::from_aws_value("111122223333").normalized("aws"),
            "arn:aws:iam::111122223333:root"
        );
        assert!(matches!(
            PrincipalEntry::from_aws_value("AROAEXAMPLEID1234567"),
            PrincipalEntry::UniqueId(_)
        ));
        assert!(matches!(
            PrincipalEntry::from_aws_value("arn:aws:iam::*:role/x"),
            PrincipalEntry::Invalid(_)
        ));
    }

    #[test]
    fn role_arn_matches_sessions() {
        let entry = PrincipalEntry::from_aws_value("arn:aws:iam::111122223333:role/Admin");
        let session = Caller::parse("arn:aws:sts::111122223333:assumed-role/Admin/x").unwrap();
        assert_eq!(entry.matches(&session), PrincipalMatch::Direct);
        let sess_entry =
            PrincipalEntry::from_aws_value("arn:aws:sts::111122223333:assumed-role/Admin/x");
        let role = Caller::parse("arn:aws:iam::111122223333:role/Admin").unwrap();
        assert_eq!(sess_entry.matches(&role), PrincipalMatch::OneSession);
        let other = Caller::parse("arn:aws:sts::111122223333:assumed-role/Admin/y").unwrap();
        assert_eq!(sess_entry.matches(&other), PrincipalMatch::None);
    }

    #[test]
    fn account_entry_covers_account_members_only() {
        let entry = PrincipalEntry::from_aws_value("arn:aws:iam::111122223333:root");
        let user = Caller::parse("arn:aws:iam::111122223333:user/bob").unwrap();
        let foreign = Caller::parse("arn:aws:iam::444455556666:user/bob").unwrap();
        assert_eq!(entry.matches(&user), PrincipalMatch::Account);
        assert_eq!(entry.matches(&foreign), PrincipalMatch::None);
    }
}
