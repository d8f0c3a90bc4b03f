//! The lockout concepts every command shares: the delegation statement ("Enable IAM User
//! Permissions", the account principal with `kms:*`), the default key policy, and the
//! recovery call: the kms:GetKeyPolicy / kms:PutKeyPolicy request a person would make to get
//! back in, with the context kmsdoctor knows for it. `why-locked`, `check --as` and the
//! repair all build their requests here, so that they decide every condition alike.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::key::{KeyProperties, KeyRef};
use crate::analysis::aws_ids;
use crate::analysis::condition_keys::RECOVERY_CALL;
use crate::analysis::context::Context;
use crate::analysis::eval::{decide, Decision, Evaluation, Request, Resource};
use crate::analysis::policy::{Effect, Policy, Statement};
use crate::analysis::principal::{Caller, PrincipalEntry};
use crate::analysis::principal_class::Kind;
use crate::analysis::satisfiability::settle_explained;

/// The Sid KMS gives the statement of the default key policy.
pub const DELEGATION_SID: &str = "Enable IAM User Permissions";

/// The two calls a recovery needs.
pub const RECOVERY_ACTIONS: [&str; 2] = ["kms:GetKeyPolicy", "kms:PutKeyPolicy"];

/// The default delegation statement for `account` (in `partition`), as KMS writes it.
pub fn delegation_statement(partition: &str, account: &str) -> Value {
    json!({
        "Sid": DELEGATION_SID,
        "Effect": "Allow",
        "Principal": {"AWS": aws_ids::root_arn(partition, account)},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// The key policy KMS applies when CreateKey is called without one.
pub fn default_policy(partition: &str, account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [delegation_statement(partition, account)]
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

/// The principals of a statement, as text for messages (a bare account id as the root ARN
/// in `partition`).
pub fn principal_text(s: &Statement, partition: &str) -> String {
    s.principal
        .as_ref()
        .map(|p| {
            let list: Vec<String> = p.entries.iter().map(|e| e.normalized(partition)).collect();
            list.join(", ")
        })
        .unwrap_or_else(|| "nobody".into())
}

/// What a recovery call is made against: the key, its account, when, and what else is known
/// of the key.
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    pub key: &'a KeyRef,
    pub account: &'a str,
    /// The earliest time a recovery call could be made: `aws:CurrentTime` ranges from here on.
    pub now: DateTime<Utc>,
    /// The key's aliases (`kms:ResourceAliases`), when known.
    pub aliases: Option<&'a [String]>,
    /// The key's properties (DescribeKey), when known.
    pub properties: Option<&'a KeyProperties>,
    /// The recovery call's context, built once for all the requests made in this setting.
    pub base: std::cell::OnceCell<std::sync::Arc<Context>>,
    /// Requests shared by settings that differ only in the policy judged (`check` over
    /// thousands of files of one account): built once, not once per file.
    pub shared: Option<&'a RequestCache>,
}

/// Account, key ARN, key region, time, kind, action.
type RequestKey = (String, Option<String>, Option<String>, i64, Kind, String);

/// The "any principal of a kind" requests of the settings that share a key, account and
/// time, built once. Only settings without key-specific evidence (aliases, properties) use
/// it, so the requests are the same for all of them.
#[derive(Debug, Default)]
pub struct RequestCache {
    requests: std::sync::Mutex<std::collections::HashMap<RequestKey, std::sync::Arc<Request>>>,
}

impl<'a> Setting<'a> {
    pub fn new(
        key: &'a KeyRef,
        account: &'a str,
        now: DateTime<Utc>,
        aliases: Option<&'a [String]>,
        properties: Option<&'a KeyProperties>,
    ) -> Setting<'a> {
        Setting {
            key,
            account,
            now,
            aliases,
            properties,
            base: std::cell::OnceCell::new(),
            shared: None,
        }
    }

    /// The key's partition: every ARN built for this setting is in it.
    pub fn partition(&self) -> &'a str {
        self.key.partition()
    }

    /// The ARN of the root user of the key's account.
    pub fn root_arn(&self) -> String {
        aws_ids::root_arn(self.partition(), self.account)
    }

    /// Shares the requests that do not depend on the policy with other settings.
    pub fn sharing(mut self, cache: &'a RequestCache) -> Setting<'a> {
        if self.aliases.is_none() && self.properties.is_none() {
            self.shared = Some(cache);
        }
        self
    }

    /// The recovery call's context, shared: a fresh context over it costs nothing to make.
    fn shared_context(&self) -> Context {
        Context::over(
            self.base
                .get_or_init(|| std::sync::Arc::new(self.build_recovery_context()))
                .clone(),
        )
    }

    /// The context of the recovery call kmsdoctor recommends (see `build_recovery_context`).
    pub fn recovery_context(&self) -> Context {
        self.shared_context()
    }

    /// The context of the recovery call kmsdoctor recommends. Keys the call fixes take the
    /// values of that call (`condition_keys::RECOVERY_CALL`: direct, over TLS, no bypass, no
    /// alias); keys fixed by the key take its values when the evidence has them (region,
    /// account, aliases, properties); the time is left open for `satisfiability` (now or
    /// later); the rest (the principal, MFA, source address...) is unknown.
    fn build_recovery_context(&self) -> Context {
        let mut ctx = Context::open();
        for (k, v) in RECOVERY_CALL {
            match v {
                Some(v) => ctx.set(k, vec![v.to_string()]),
                None => ctx.set_absent(k),
            }
        }
        ctx.set("aws:ResourceAccount", vec![self.account.to_string()]);
        if let Some(r) = &self.key.region {
            ctx.set("aws:RequestedRegion", vec![r.clone()]);
        }
        match self.aliases {
            Some([]) => ctx.set_absent("kms:ResourceAliases"),
            Some(a) => ctx.set("kms:ResourceAliases", a.to_vec()),
            None => {}
        }
        if let Some(p) = self.properties {
            p.fill(&mut ctx);
        }
        ctx
    }

    /// The recovery call `action` made by "any principal of this kind": a user or role
    /// session of the account whose identity is otherwise unknown.
    pub fn kind_request(&self, kind: Kind, action: &str) -> std::sync::Arc<Request> {
        let Some(cache) = self.shared else {
            return std::sync::Arc::new(self.build_kind_request(kind, action));
        };
        let key = (
            self.account.to_string(),
            self.key.arn.clone(),
            self.key.region.clone(),
            self.now.timestamp(),
            kind,
            action.to_string(),
        );
        if let Some(r) = cache
            .requests
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return r;
        }
        let r = std::sync::Arc::new(self.build_kind_request(kind, action));
        if let Ok(mut m) = cache.requests.lock() {
            m.insert(key, r.clone());
        }
        r
    }

    fn build_kind_request(&self, kind: Kind, action: &str) -> Request {
        let mut req_ctx = self.recovery_context();
        for k in ["aws:PrincipalArn", "aws:userid"] {
            req_ctx.set_unknown(k);
        }
        req_ctx.set("aws:PrincipalType", vec![kind.principal_type().to_string()]);
        let caller = match kind {
            Kind::Role => {
                req_ctx.set_absent("aws:username");
                any_role(self.partition(), self.account)
            }
            Kind::User => {
                req_ctx.set_unknown("aws:username");
                Caller::User {
                    partition: self.partition().into(),
                    account: self.account.to_string(),
                    arn: aws_ids::user_arn(self.partition(), self.account, "kmsdoctor-any-user"),
                    name: "kmsdoctor-any-user".into(),
                }
            }
        };
        self.request(caller, action, req_ctx)
    }

    /// Decides a recovery call against `policy`, for a call made now or later: time
    /// requirements settled, impossible alternatives removed (`satisfiability`).
    pub fn decide(&self, req: &Request, policy: &Policy) -> Evaluation {
        let mut e = decide(req, Some(policy), None);
        if e.decision == Decision::Conditional {
            let (alts, denied) = settle_explained(std::mem::take(&mut e.requirements), self.now);
            if alts.is_empty() {
                // A Deny whose time window never ends decides; else nothing allows.
                let denies: Vec<_> = denied
                    .iter()
                    .flat_map(|a| a.via.iter())
                    .filter(|r| {
                        r.in_key_policy()
                            && policy
                                .statements
                                .get(r.index)
                                .is_some_and(|s| s.effect == Effect::Deny)
                    })
                    .cloned()
                    .collect();
                e.decision = if denies.is_empty() {
                    Decision::ImplicitDeny
                } else {
                    Decision::ExplicitDeny
                };
                e.deciding_statements = crate::analysis::reference::dedup(denies);
            } else if alts.iter().any(|a| a.all_of.is_empty()) {
                e.decision = Decision::Allowed;
                e.deciding_statements = alts
                    .iter()
                    .filter(|a| a.all_of.is_empty())
                    .flat_map(|a| a.via.iter().cloned())
                    .collect();
                e.deciding_statements = crate::analysis::reference::dedup(e.deciding_statements);
            } else {
                e.requirements = alts;
            }
        }
        e
    }

    /// Like [`Setting::decide`], through the whole request chain: the time windows of the
    /// chain's requirements are settled as of now, as they are for the key policy alone.
    pub fn decide_chain(
        &self,
        req: &Request,
        policy: &Policy,
        layers: &crate::analysis::chain::Layers<'_>,
    ) -> crate::analysis::chain::ChainEvaluation {
        let mut c = crate::analysis::chain::evaluate_chain(req, Some(policy), layers);
        if c.decision != Decision::Conditional {
            return c;
        }
        let (alts, denied) = settle_explained(std::mem::take(&mut c.requirements), self.now);
        if alts.is_empty() {
            // A Deny whose window never ends decides: the layer that holds it.
            let deny = denied.iter().flat_map(|a| a.via.iter()).find_map(|r| {
                c.layers
                    .iter()
                    .find(|l| l.deciding_statements.contains(r))
                    .filter(|_| {
                        !r.in_key_policy()
                            || policy
                                .statements
                                .get(r.index)
                                .is_some_and(|s| s.effect == Effect::Deny)
                    })
                    .map(|l| (l.layer, l.target.clone()))
            });
            c.decision = if deny.is_some() {
                Decision::ExplicitDeny
            } else {
                Decision::ImplicitDeny
            };
            let (layer, target) =
                deny.unwrap_or((crate::analysis::chain::LayerKind::KeyPolicy, None));
            c.denied_by = Some(layer);
            c.denied_at = target;
        } else if alts.iter().any(|a| a.all_of.is_empty()) {
            c.decision = Decision::Allowed;
        } else {
            c.requirements = alts;
        }
        c
    }

    /// The recovery call `action` made by `caller` on the key.
    pub fn recovery_request(&self, caller: Caller, action: &str) -> Request {
        self.request(caller, action, self.recovery_context())
    }

    /// The same call made exactly now (KMS's lockout safety check judges the policy for the
    /// request that applies it, not for a later one).
    pub fn request_now(&self, caller: Caller, action: &str) -> Request {
        let mut ctx = self.recovery_context();
        ctx.set(
            "aws:CurrentTime",
            vec![self.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()],
        );
        ctx.set("aws:EpochTime", vec![self.now.timestamp().to_string()]);
        self.request(caller, action, ctx)
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
        let caller = any_role(self.partition(), self.account);
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
/// A session of a role standing for "any role of the account".
fn any_role(partition: &str, account: &str) -> Caller {
    Caller::Role {
        partition: partition.into(),
        account: account.to_string(),
        arn: aws_ids::role_arn(partition, account, "kmsdoctor-any-principal"),
        name: "kmsdoctor-any-principal".into(),
        session: Some(aws_ids::session_arn(
            partition,
            account,
            "kmsdoctor-any-principal",
            "kmsdoctor",
        )),
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    pub const KEY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    pub fn key() -> KeyRef {
        KeyRef::parse(KEY).unwrap()
    }

    pub fn setting(key: &KeyRef) -> Setting<'_> {
        Setting::new(
            key,
            "111122223333",
            DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
                .unwrap()
                .to_utc(),
            None,
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::policy::{parse_policy, PolicyKind};

    #[test]
    fn the_default_policy_holds_one_delegation_covering_recovery() {
        let p = parse_policy(&default_policy("aws", "111122223333"), PolicyKind::Key, "k").unwrap();
        assert!(p.findings.is_empty());
        let s = &p.statements[0];
        assert_eq!(s.sid.as_deref(), Some(DELEGATION_SID));
        assert!(delegates(s, "111122223333") && names_account(s, "111122223333"));
        assert!(!delegates(s, "444455556666"));
        assert!(covers_recovery(s));
    }
}
