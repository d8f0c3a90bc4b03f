//! Data paths (issue 28, the key-policy part): when nobody can fix a key's policy, who can
//! still use the key, and for which of the operations that reach the data encrypted under it.
//! Judged with the same evaluator and recovery request as the administrators.

use serde::Serialize;

use super::delegation::Setting;
use crate::analysis::eval::{Alternative, Decision};
use crate::analysis::policy::{Effect, Policy};
use crate::analysis::principal::{Caller, PrincipalEntry};
use crate::analysis::reference::{serialize_labels, StatementRef};

/// The operations that reach data encrypted under a symmetric key, or make more of it: read
/// it back (Decrypt), move it under another key (ReEncrypt, the source side, `ReEncryptFrom`),
/// and encrypt new data or data keys (Encrypt, GenerateDataKey). KMS Developer Guide, "AWS
/// KMS permissions" (each operation's permission) and "ReEncrypt" (both `kms:ReEncryptFrom`
/// on the source key and `kms:ReEncryptTo` on the destination key are needed).
pub const DATA_OPERATIONS: &[(&str, &str)] = &[
    ("kms:Decrypt", "read the data back"),
    (
        "kms:ReEncryptFrom",
        "move the data under another key (ReEncrypt)",
    ),
    ("kms:GenerateDataKey", "encrypt new data (data keys)"),
    ("kms:Encrypt", "encrypt new data"),
];

/// The most principals judged for data paths.
pub const MAX_PRINCIPALS: usize = 256;

/// A principal the key policy still lets use the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataPath {
    pub principal: String,
    /// `key_policy` (grants and related multi-Region keys are not read yet).
    pub via: &'static str,
    /// A principal of another account: its own IAM policies must also allow it.
    pub other_account: bool,
    /// The data operations it may call (`kms:Decrypt`...), allowed or under requirements.
    pub operations: Vec<&'static str>,
    /// `allowed` when Decrypt (else the first operation) is allowed as things are,
    /// `conditional` when requirements apply.
    pub decision: Decision,
    /// Statements that allow it.
    #[serde(serialize_with = "serialize_labels")]
    pub statements: Vec<StatementRef>,
    /// For Decrypt (else the first operation): alternatives, any one of which suffices.
    pub requirements: Vec<Alternative>,
}

/// Every principal an Allow of `policy` names (any account), and the key's own account
/// root, that may call a data operation on the key under `policy`.
pub fn data_paths(policy: &Policy, setting: &Setting<'_>) -> Vec<DataPath> {
    let mut principals: Vec<String> = vec![setting.root_arn()];
    for s in policy
        .statements
        .iter()
        .filter(|s| s.valid && s.effect == Effect::Allow)
    {
        let Some(block) = s.principal.as_ref().filter(|b| !b.negated) else {
            continue;
        };
        for e in &block.entries {
            let arn = match e {
                PrincipalEntry::Arn { arn, .. } => arn.to_string(),
                PrincipalEntry::Account { account, .. } => {
                    crate::analysis::aws_ids::root_arn(setting.partition(), account)
                }
                _ => continue,
            };
            if !principals.contains(&arn) {
                principals.push(arn);
            }
            if principals.len() >= MAX_PRINCIPALS {
                break;
            }
        }
    }
    let mut out = Vec::new();
    for principal in principals {
        let Ok(caller) = Caller::parse(&principal) else {
            continue;
        };
        let other_account = caller.account() != Some(setting.account);
        let mut operations = Vec::new();
        let mut first: Option<crate::analysis::eval::Evaluation> = None;
        for (action, _) in DATA_OPERATIONS {
            let e = setting.decide(&setting.recovery_request(caller.clone(), action), policy);
            if matches!(e.decision, Decision::Allowed | Decision::Conditional) {
                operations.push(*action);
                if first.is_none() {
                    first = Some(e);
                }
            }
        }
        let Some(e) = first else {
            continue;
        };
        out.push(DataPath {
            principal,
            via: "key_policy",
            other_account,
            operations,
            decision: e.decision,
            statements: e.deciding_statements,
            requirements: e.requirements,
        });
    }
    out
}

/// What the key's state does to every data path: none works in a state where cryptographic
/// operations fail (the key state table, `usable`), and a key pending deletion takes them all
/// with it. `None` for a usable key not pending deletion, or an unknown state.
pub fn state_note(status: &crate::analysis::key_state::KeyStatus) -> Option<String> {
    let state = status.state.as_deref()?;
    let fact = status.fact()?;
    let mut parts = Vec::new();
    if !fact.usable {
        let restore = match (fact.cancel_deletion, fact.enable_key) {
            (true, _) => " until CancelKeyDeletion (then EnableKey) restores it",
            (false, true) => " until EnableKey restores it",
            (false, false) => "",
        };
        parts.push(format!(
            "the key is {state}: none of these works now{restore}"
        ));
    }
    if status.deletion_pending() {
        parts.push(format!(
            "every path ends when the key is deleted, {}: data still encrypted under it is then lost",
            status.when_deleted()
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
