//! The lockout concepts every command shares: the delegation statement ("Enable IAM User
//! Permissions", the account principal with `kms:*`), the default key policy, and the
//! recovery call: the kms:GetKeyPolicy / kms:PutKeyPolicy request a person would make to get
//! back in, with the context kmsdoctor knows for it. `why-locked`, `check --as` and the
//! repair all build their requests here, so that they decide every condition alike.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::key::KeyRef;
use crate::analysis::context::Context;
use crate::analysis::eval::{Request, Resource};
use crate::analysis::policy::{Effect, Statement};
use crate::analysis::principal::{Caller, PrincipalEntry};

/// The Sid KMS gives the statement of the default key policy.
pub const DELEGATION_SID: &str = "Enable IAM User Permissions";

/// The two calls a recovery needs.
pub const RECOVERY_ACTIONS: [&str; 2] = ["kms:GetKeyPolicy", "kms:PutKeyPolicy"];

/// The default delegation statement for `account`, as KMS writes it.
pub fn delegation_statement(account: &str) -> Value {
    json!({
        "Sid": DELEGATION_SID,
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// The key policy KMS applies when CreateKey is called without one.
pub fn default_policy(account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [delegation_statement(account)]
    })
    .to_string()
}

/// Whether a statement delegates to IAM: an Allow for the account principal (or `*`).
pub fn delegates(s: &Statement, account: &str) -> bool {
    s.effect == Effect::Allow
        && s.principal.as_ref().is_some_and(|p| {
            !p.negated
                && p.entries.iter().any(|e| match e {
                    PrincipalEntry::Everyone => true,
                    PrincipalEntry::Account { account: a, .. } => a == account,
                    _ => false,
                })
        })
}

/// Whether a statement names the account principal itself (not `*`).
pub fn names_account(s: &Statement, account: &str) -> bool {
    s.principal.as_ref().is_some_and(|p| {
        !p.negated
            && p.entries
                .iter()
                .any(|e| matches!(e, PrincipalEntry::Account { account: a, .. } if a == account))
    })
}

/// Whether a statement's actions cover both recovery calls.
pub fn covers_recovery(s: &Statement) -> bool {
    RECOVERY_ACTIONS.iter().all(|a| s.covers_action(a))
}

/// The principals of a statement, as text for messages.
pub fn principal_text(s: &Statement) -> String {
    s.principal
        .as_ref()
        .map(|p| {
            let list: Vec<String> = p.entries.iter().map(PrincipalEntry::normalized).collect();
            list.join(", ")
        })
        .unwrap_or_else(|| "nobody".into())
}

/// What a recovery call is made against: the key, its account, when, and its aliases.
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    pub key: &'a KeyRef,
    pub account: &'a str,
    /// The time a recovery call would be made (`aws:CurrentTime`).
    pub now: DateTime<Utc>,
    /// The key's aliases (`kms:ResourceAliases`), when known.
    pub aliases: Option<&'a [String]>,
}

impl Setting<'_> {
    /// The context of a recovery call: over TLS, now, with the key's aliases when known;
    /// everything else unknown.
    pub fn recovery_context(&self) -> Context {
        let mut ctx = Context::open();
        ctx.set("aws:SecureTransport", vec!["true".into()]);
        ctx.set(
            "aws:CurrentTime",
            vec![self.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()],
        );
        ctx.set("aws:EpochTime", vec![self.now.timestamp().to_string()]);
        match self.aliases {
            Some([]) => ctx.set_absent("kms:ResourceAliases"),
            Some(a) => ctx.set("kms:ResourceAliases", a.to_vec()),
            None => {}
        }
        ctx
    }

    /// The recovery call `action` made by `caller` on the key.
    pub fn recovery_request(&self, caller: Caller, action: &str) -> Request {
        self.request(caller, action, self.recovery_context())
    }

    fn request(&self, caller: Caller, action: &str, context: Context) -> Request {
        Request::new(
            caller,
            action.to_string(),
            Resource::Key(self.key.arn.clone()),
            self.account.to_string(),
            context,
        )
    }

    /// The recovery call made by "any IAM principal of the account": a caller whose
    /// identity keys are unknown.
    pub fn any_principal_request(&self, action: &str) -> Request {
        let caller = Caller::Role {
            partition: "aws".into(),
            account: self.account.to_string(),
            arn: format!("arn:aws:iam::{}:role/kmsdoctor-any-principal", self.account),
            name: "kmsdoctor-any-principal".into(),
            session: Some(format!(
                "arn:aws:sts::{}:assumed-role/kmsdoctor-any-principal/kmsdoctor",
                self.account
            )),
        };
        let mut ctx = self.recovery_context();
        for k in [
            "aws:PrincipalArn",
            "aws:PrincipalType",
            "aws:username",
            "aws:userid",
        ] {
            ctx.set_unknown(k);
        }
        self.request(caller, action, ctx)
    }
}

/// The key and setting unit tests use: a key of account 111122223333, at a fixed time.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    pub const KEY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    pub fn key() -> KeyRef {
        KeyRef::parse(KEY).unwrap()
    }

    pub fn setting(key: &KeyRef) -> Setting<'_> {
        Setting {
            key,
            account: "111122223333",
            now: DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
                .unwrap()
                .to_utc(),
            aliases: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::policy::{parse_policy, PolicyKind};

    #[test]
    fn the_default_policy_holds_one_delegation_covering_recovery() {
        let p = parse_policy(&default_policy("111122223333"), PolicyKind::Key, "k").unwrap();
        assert!(p.findings.is_empty());
        let s = &p.statements[0];
        assert_eq!(s.sid.as_deref(), Some(DELEGATION_SID));
        assert!(delegates(s, "111122223333") && names_account(s, "111122223333"));
        assert!(!delegates(s, "444455556666"));
        assert!(covers_recovery(s));
    }
}
