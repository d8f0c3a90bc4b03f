//! The repaired key policy: the last applied policy with the default delegation statement
//! ("Enable IAM User Permissions") put back, so that IAM policies count again.
//!
//! KMS rejects a policy that names a principal which no longer exists, and statements it
//! cannot parse, so those go; a Deny that would still take kms:PutKeyPolicy or
//! kms:GetKeyPolicy from the account's principals goes too. Every change is listed. The
//! result is assessed again and must be `ok`: otherwise no repair is offered.

use serde_json::{json, Map, Value};

use super::aws_ids::is_unique_id;
use super::lockout::delegation::delegation_statement;
use super::lockout::{assess, Setting, Verdict, DELEGATION_SID};
use super::policy::{parse_policy, Effect, PolicyError, PolicyKind};
use super::principal::PrincipalEntry;

#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    /// The repaired policy, pretty-printed JSON.
    pub policy: String,
    /// What was changed, in words.
    pub changes: Vec<String>,
}

fn label(stmt: &Value, index: usize) -> String {
    stmt.get("Sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("#{index}"))
}

/// Why no repaired policy can be offered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RepairError {
    #[error("the policy is not JSON: {0}")]
    NotJson(String),
    #[error("the policy is not a JSON object")]
    NotObject,
    #[error("the repaired policy cannot be read back: {0}")]
    Unreadable(PolicyError),
    #[error("the repaired policy would still be `{}`; repair it by hand", .0.as_str())]
    StillLocked(Verdict),
    #[error("the repaired policy still names deleted principals")]
    StillNamesDeleted,
}

/// Removes unique-id principals; returns false when the statement names nobody any more.
fn drop_deleted_principals(
    stmt: &mut Map<String, Value>,
    name: &str,
    changes: &mut Vec<String>,
) -> bool {
    for element in ["Principal", "NotPrincipal"] {
        let Some(Value::Object(p)) = stmt.get_mut(element) else {
            continue;
        };
        let Some(aws) = p.get_mut("AWS") else {
            continue;
        };
        let removed: Vec<String> = match aws {
            Value::String(s) if is_unique_id(s) => {
                let r = vec![s.clone()];
                p.remove("AWS");
                r
            }
            Value::Array(items) => {
                let (gone, kept): (Vec<Value>, Vec<Value>) = items
                    .drain(..)
                    .partition(|v| v.as_str().is_some_and(is_unique_id));
                *items = kept;
                if items.is_empty() {
                    p.remove("AWS");
                }
                gone.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            }
            _ => vec![],
        };
        if !removed.is_empty() {
            changes.push(format!(
                "removed deleted principal{} {} from statement {name} (KMS rejects principals that no longer exist)",
                if removed.len() == 1 { "" } else { "s" },
                removed.join(", ")
            ));
        }
        if p.is_empty() {
            return false;
        }
    }
    true
}

pub fn repair(policy_text: &str, setting: &Setting<'_>) -> Result<Repair, RepairError> {
    let mut doc: Value =
        serde_json::from_str(policy_text).map_err(|e| RepairError::NotJson(e.to_string()))?;
    let Some(obj) = doc.as_object_mut() else {
        return Err(RepairError::NotObject);
    };
    let mut statements: Vec<Value> = match obj.remove("Statement") {
        Some(Value::Array(a)) => a,
        Some(v @ Value::Object(_)) => vec![v],
        _ => vec![],
    };
    let mut changes = Vec::new();

    // Deleted principals out; statements left naming nobody out.
    let mut kept = Vec::with_capacity(statements.len());
    for (i, mut s) in statements.drain(..).enumerate() {
        let name = label(&s, i);
        let keep = match s.as_object_mut() {
            Some(m) => drop_deleted_principals(m, &name, &mut changes),
            None => false,
        };
        if keep {
            kept.push(s);
        } else {
            changes.push(format!(
                "removed statement {name}: it named only deleted principals"
            ));
        }
    }
    statements = kept;

    // Statements KMS would reject, or that have no effect (no Action or no Resource: the
    // CreateKey and PutKeyPolicy API references say the request succeeds and the statement
    // is ineffective).
    let probe = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    if let Ok(parsed) = parse_policy(&probe, PolicyKind::Key, "key-policy") {
        let invalid: Vec<usize> = parsed
            .statements
            .iter()
            .filter(|s| !s.valid)
            .map(|s| s.index)
            .collect();
        for &i in invalid.iter().rev() {
            changes.push(format!(
                "removed statement {}: as written, KMS rejects it or it has no effect",
                label(&statements[i], i)
            ));
            statements.remove(i);
        }
    }

    // The delegation back.
    match statements
        .iter()
        .position(|s| s.get("Sid").and_then(Value::as_str) == Some(DELEGATION_SID))
    {
        Some(i) if statements[i] == delegation_statement(setting.partition(), setting.account) => {}
        Some(i) => {
            statements[i] = delegation_statement(setting.partition(), setting.account);
            changes.push(format!(
                "restored statement `{DELEGATION_SID}` to the default: the account principal {}, kms:*, no conditions",
                setting.root_arn()
            ));
        }
        None => {
            statements.insert(
                0,
                delegation_statement(setting.partition(), setting.account),
            );
            changes.push(format!(
                "added statement `{DELEGATION_SID}` (the default): the account principal {}, kms:*",
                setting.root_arn()
            ));
        }
    }

    // Denies that still lock the account's principals out: a Deny is in the way when, next
    // to the delegation alone, it leaves the key short of `ok`. One that does not block the
    // recommended recovery call (a guard on BypassPolicyLockoutSafetyCheck or on tags, a
    // Deny for the root user) stays.
    let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    let policy =
        parse_policy(&text, PolicyKind::Key, "key-policy").map_err(RepairError::Unreadable)?;
    if assess(&policy, setting).verdict != Verdict::Ok {
        let mut culprits: Vec<usize> = Vec::new();
        for st in policy
            .statements
            .iter()
            .filter(|st| st.valid && st.effect == Effect::Deny)
        {
            let alone = json!({
                "Version": "2012-10-17",
                "Statement": [delegation_statement(setting.partition(), setting.account), statements[st.index].clone()]
            })
            .to_string();
            let blocks = parse_policy(&alone, PolicyKind::Key, "key-policy")
                .map(|p| assess(&p, setting).verdict != Verdict::Ok)
                .unwrap_or(false);
            if blocks {
                culprits.push(st.index);
            }
        }
        for &i in &culprits {
            changes.push(format!(
                "removed Deny statement {}: it takes kms:PutKeyPolicy or kms:GetKeyPolicy from the account's principals",
                label(&statements[i], i)
            ));
        }
        for &i in culprits.iter().rev() {
            statements.remove(i);
        }
    }

    obj.insert("Statement".into(), Value::Array(statements));
    if !obj.contains_key("Version") {
        obj.insert("Version".into(), json!("2012-10-17"));
    }
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| RepairError::NotJson(e.to_string()))?;
    let policy =
        parse_policy(&text, PolicyKind::Key, "key-policy").map_err(RepairError::Unreadable)?;
    let check = assess(&policy, setting);
    if check.verdict != Verdict::Ok {
        return Err(RepairError::StillLocked(check.verdict));
    }
    if policy
        .statements
        .iter()
        .flat_map(|s| s.principal.iter().flat_map(|p| p.entries.iter()))
        .any(|e| matches!(e, PrincipalEntry::UniqueId(_)))
    {
        return Err(RepairError::StillNamesDeleted);
    }
    Ok(Repair {
        policy: text + "\n",
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::lockout::delegation::fixture;

    fn fix(policy: &str) -> Result<Repair, RepairError> {
        let key = fixture::key();
        repair(policy, &fixture::setting(&key))
    }

    #[test]
    fn puts_back_a_removed_delegation_and_keeps_the_rest() {
        let r = fix(r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}]}"#).unwrap();
        assert!(r.policy.contains(DELEGATION_SID));
        assert!(r.policy.contains("KeyAdmin"));
        assert!(
            r.policy.find("\"Id\"") < r.policy.find("\"Statement\""),
            "key order kept"
        );
        assert_eq!(r.changes.len(), 1);
    }

    #[test]
    fn restores_an_altered_delegation_drops_deleted_principals_and_blocking_denies() {
        let r = fix(r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Gone","Effect":"Allow","Principal":{"AWS":["AROAEXAMPLEEXAMPLE01","arn:aws:iam::111122223333:role/Ops"]},"Action":"kms:Decrypt","Resource":"*"},
            {"Sid":"OnlyGone","Effect":"Allow","Principal":{"AWS":"AIDAEXAMPLEEXAMPLE02"},"Action":"kms:*","Resource":"*"},
            {"Sid":"DenyUnlessRoot","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalType":"Account"}}},
            {"Sid":"DenyDelete","Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}
        ]}"#).unwrap();
        assert!(!r.policy.contains("AROA") && !r.policy.contains("AIDA"));
        assert!(r.policy.contains("role/Ops"));
        assert!(!r.policy.contains("DenyUnlessRoot"));
        assert!(r.policy.contains("DenyDelete"), "unrelated Denies stay");
        assert!(!r.policy.contains("OnlyGone"));
        assert_eq!(r.changes.len(), 5, "{:#?}", r.changes);
    }

    /// Two statements share a Sid: the blocking Deny is removed, not the Allow before it.
    #[test]
    fn removes_the_blocking_statement_not_its_namesake() {
        let r = fix(r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Same","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Ops"},"Action":"kms:Decrypt","Resource":"*"},
            {"Sid":"Same","Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*"},
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#)
        .unwrap();
        assert!(r.policy.contains("role/Ops"), "{}", r.policy);
        assert!(!r.policy.contains("\"Deny\""), "{}", r.policy);
        assert_eq!(r.changes.len(), 1, "{:#?}", r.changes);
    }

    /// Guards that do not block the recovery call stay (KMS guide, "Key policy lockout safety
    /// check": the Deny on kms:BypassPolicyLockoutSafetyCheck it recommends).
    #[test]
    fn keeps_guards_that_do_not_block_the_recovery_call() {
        let r = fix(r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"},
            {"Sid":"NoBypass","Effect":"Deny","Principal":"*","Action":["kms:PutKeyPolicy","kms:CreateKey"],"Resource":"*","Condition":{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}},
            {"Sid":"NoTagging","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}},
            {"Sid":"NoRoot","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"Account"}}}
        ]}"#)
        .unwrap();
        for sid in ["NoBypass", "NoTagging", "NoRoot"] {
            assert!(r.policy.contains(sid), "{sid} removed: {:#?}", r.changes);
        }
        assert_eq!(r.changes.len(), 1, "{:#?}", r.changes);
    }
}
