//! How one becomes a role: what its trust policy (GetRole's `AssumeRolePolicyDocument`)
//! lets in, for the recovery plan's first step. IAM User Guide, "Roles terms and
//! concepts" (the trust policy is the role's resource-based policy for `sts:AssumeRole`,
//! `sts:AssumeRoleWithSAML`, `sts:AssumeRoleWithWebIdentity`), "Policy evaluation logic"
//! (an explicit Deny wins), and "IAM JSON policy elements: Principal" (an account principal
//! lets that account's IAM policies decide). Principals are matched with the evaluator's
//! own principal matching.

use serde::Serialize;

use super::pattern::wildcard_match;
use super::principal::{Caller, PrincipalEntry, PrincipalMatch};

/// What a role's trust policy lets in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrustWays {
    /// AWS principals an Allow lets call sts:AssumeRole (ARNs, account roots as written).
    pub aws: Vec<String>,
    /// SAML providers (AssumeRoleWithSAML).
    pub saml: Vec<String>,
    /// Web identity providers (AssumeRoleWithWebIdentity).
    pub web_identity: Vec<String>,
    /// AWS services that assume the role.
    pub services: Vec<String>,
    /// Some Allow has a Condition: who gets in depends on the request.
    pub conditioned: bool,
    /// Some Deny statement: it may take a way in away.
    pub has_deny: bool,
    /// Whether the caller of the run is let in by an Allow (and no unconditioned Deny that
    /// names it), when the caller is known; account principals count as in (its IAM
    /// policies must allow sts:AssumeRole too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_allowed: Option<bool>,
}

impl TrustWays {
    /// The trust admits only IAM Identity Center's SAML federation, or SAML, or web identity:
    /// AssumeRole from an AWS principal is not a way in.
    pub fn federated_only(&self) -> bool {
        self.aws.is_empty() && (!self.saml.is_empty() || !self.web_identity.is_empty())
    }
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn covers(actions: &[String], action: &str) -> bool {
    actions.iter().any(|a| wildcard_match(a, action, true))
}

/// Reads a trust policy (a JSON document, already URL-decoded). `None` when it is not one.
pub fn ways_in(doc: &str, caller: Option<&Caller>) -> Option<TrustWays> {
    let v: serde_json::Value = serde_json::from_str(doc).ok()?;
    let statements = match v.get("Statement")? {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => return None,
    };
    let mut out = TrustWays::default();
    let mut caller_in = false;
    let mut caller_denied = false;
    for s in &statements {
        let effect = s.get("Effect").and_then(|e| e.as_str()).unwrap_or("");
        let actions = strings(s.get("Action"));
        let principal = s.get("Principal");
        let aws: Vec<String> = match principal {
            Some(serde_json::Value::String(star)) if star == "*" => vec!["*".into()],
            Some(p) => strings(p.get("AWS")),
            None => Vec::new(),
        };
        let conditioned = s
            .get("Condition")
            .is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty()));
        let names_caller = caller.is_some_and(|c| {
            aws.iter().any(|a| {
                !matches!(
                    PrincipalEntry::from_aws_value(a).matches(c),
                    PrincipalMatch::None
                )
            })
        });
        match effect {
            "Deny" => {
                out.has_deny = true;
                if names_caller && !conditioned && covers(&actions, "sts:AssumeRole") {
                    caller_denied = true;
                }
            }
            "Allow" => {
                out.conditioned |= conditioned;
                if covers(&actions, "sts:AssumeRole") {
                    for a in &aws {
                        if !out.aws.contains(a) {
                            out.aws.push(a.clone());
                        }
                    }
                    caller_in |= names_caller;
                    for svc in strings(principal.and_then(|p| p.get("Service"))) {
                        if !out.services.contains(&svc) {
                            out.services.push(svc);
                        }
                    }
                }
                let federated = strings(principal.and_then(|p| p.get("Federated")));
                if covers(&actions, "sts:AssumeRoleWithSAML") {
                    out.saml.extend(federated.iter().cloned());
                }
                if covers(&actions, "sts:AssumeRoleWithWebIdentity") {
                    out.web_identity.extend(federated.iter().cloned());
                }
            }
            _ => {}
        }
    }
    out.saml.dedup();
    out.web_identity.dedup();
    out.caller_allowed = caller.map(|_| caller_in && !caller_denied);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(arn: &str) -> Caller {
        Caller::parse(arn).unwrap()
    }

    #[test]
    fn an_account_trust_lets_its_principals_in() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;
        let me = caller("arn:aws:sts::111122223333:assumed-role/Ops/alice");
        let t = ways_in(doc, Some(&me)).unwrap();
        assert_eq!(t.aws, ["arn:aws:iam::111122223333:root"]);
        assert_eq!(t.caller_allowed, Some(true));
        let other = caller("arn:aws:sts::444455556666:assumed-role/Ops/bob");
        assert_eq!(
            ways_in(doc, Some(&other)).unwrap().caller_allowed,
            Some(false)
        );
    }

    #[test]
    fn identity_center_and_web_identity_trusts_are_federated_only() {
        let sso = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/AWSSSO_abc_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}"#;
        let t = ways_in(sso, None).unwrap();
        assert!(t.federated_only() && t.aws.is_empty());
        assert_eq!(
            t.saml,
            ["arn:aws:iam::111122223333:saml-provider/AWSSSO_abc_DO_NOT_DELETE"]
        );
        let gha = r#"{"Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}"#;
        let t = ways_in(gha, None).unwrap();
        assert!(t.federated_only());
        assert_eq!(t.web_identity.len(), 1);
    }

    #[test]
    fn a_deny_naming_the_caller_keeps_it_out() {
        let doc = r#"{"Statement":[
          {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"},
          {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/Dev"},"Action":"sts:*"}]}"#;
        let dev = caller("arn:aws:sts::111122223333:assumed-role/Dev/x");
        let t = ways_in(doc, Some(&dev)).unwrap();
        assert!(t.has_deny);
        assert_eq!(t.caller_allowed, Some(false));
        assert!(ways_in("not json", None).is_none());
    }
}
