//! Data paths (issue 28, the key-policy part): when nobody can fix a key's policy, who can
//! still use the key, and for which of the operations that reach the data encrypted under it.
//! Judged with the same evaluator and recovery request as the administrators.

use serde::Serialize;

use super::delegation::Setting;
use crate::analysis::eval::{Alternative, Decision};
use crate::analysis::policy::Policy;
use crate::analysis::principal::Caller;
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

/// A principal that can still use the key: by the key policy, or by a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataPath {
    pub principal: String,
    /// `key_policy`, `grant`, or `related_key` (a related multi-Region key whose own policy
    /// lets it in: ciphertext of the set decrypts with any of them).
    pub via: &'static str,
    /// For `related_key`: that key's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_key: Option<String>,
    /// For a grant: its id, and its constraints (compact JSON: the encryption context a
    /// request must carry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<String>,
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
    for (_, block) in policy.allows_by_principal() {
        for (arn, _) in block
            .entries
            .iter()
            .filter_map(|e| e.named_arn(setting.partition()))
        {
            if principals.len() >= MAX_PRINCIPALS {
                break;
            }
            if !principals.contains(&arn) {
                principals.push(arn);
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
            related_key: None,
            grant_id: None,
            constraints: None,
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

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Created and not retired or revoked in the evidence, or listed by ListGrants.
    Live,
    Retired,
    Revoked,
    /// Live by the events, but ListGrants no longer lists it: ended since.
    NotListed,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Live => "live",
            GrantStatus::Retired => "retired",
            GrantStatus::Revoked => "revoked",
            GrantStatus::NotListed => "not_listed",
        }
    }
}

/// A grant of the key, as its CloudTrail events tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantView {
    pub grant_id: String,
    /// The grantee principal as CreateGrant named it (an ARN, an AWS service principal, or
    /// a principal id); `None` when the grant was ended but its creation is not in the
    /// evidence.
    pub grantee: Option<String>,
    pub operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    pub status: GrantStatus,
    /// The CreateGrant event and time, when in the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The RetireGrant or RevokeGrant event that ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by_event: Option<String>,
}

/// The key's grants from its events, oldest first: each CreateGrant that succeeded, ended
/// by a RetireGrant or RevokeGrant of the same grant id that succeeded after it; an ending
/// whose creation is not in the evidence is kept (the grant was made before it).
pub fn grants(mine: &[&crate::analysis::events::PolicyEvent]) -> Vec<GrantView> {
    use crate::analysis::events::EventName;
    let mut out: Vec<GrantView> = Vec::new();
    for e in mine
        .iter()
        .filter(|e| e.name.is_grant() && e.error_code.is_none())
    {
        let Some(g) = &e.grant else { continue };
        let Some(id) = g.grant_id.clone() else {
            continue;
        };
        match e.name {
            EventName::CreateGrant => {
                if out.iter().any(|x| x.grant_id == id) {
                    continue;
                }
                out.push(GrantView {
                    grant_id: id,
                    grantee: g.grantee.clone(),
                    operations: g.operations.clone(),
                    constraints: g.constraints.clone(),
                    retiring_principal: g.retiring.clone(),
                    status: GrantStatus::Live,
                    created_by_event: Some(e.event_id.clone()),
                    created_at: Some(e.time),
                    ended_by_event: None,
                });
            }
            _ => {
                let status = if e.name == EventName::RevokeGrant {
                    GrantStatus::Revoked
                } else {
                    GrantStatus::Retired
                };
                match out.iter_mut().find(|x| x.grant_id == id) {
                    Some(x) => {
                        x.status = status;
                        x.ended_by_event = Some(e.event_id.clone());
                    }
                    None => out.push(GrantView {
                        grant_id: id,
                        grantee: None,
                        operations: Vec::new(),
                        constraints: None,
                        retiring_principal: None,
                        status,
                        created_by_event: None,
                        created_at: None,
                        ended_by_event: Some(e.event_id.clone()),
                    }),
                }
            }
        }
    }
    out
}

/// The data paths the live grants open: each grantee with the data operations of its grant
/// (a grant allows its operations by itself, whatever the key policy says: "Grants in AWS
/// KMS"), its id and constraints.
pub fn grant_paths(grants: &[GrantView], account: Option<&str>) -> Vec<DataPath> {
    grants
        .iter()
        .filter(|g| g.status == GrantStatus::Live)
        .filter_map(|g| {
            let grantee = g.grantee.clone()?;
            let operations: Vec<&'static str> = DATA_OPERATIONS
                .iter()
                .map(|(a, _)| *a)
                .filter(|a| {
                    let name = a.trim_start_matches("kms:");
                    g.operations.iter().any(|o| o == name)
                })
                .collect();
            if operations.is_empty() {
                return None;
            }
            let other_account = crate::analysis::aws_ids::Arn::parse(&grantee)
                .is_some_and(|arn| !arn.account.is_empty() && Some(arn.account) != account);
            Some(DataPath {
                principal: grantee,
                via: "grant",
                related_key: None,
                grant_id: Some(g.grant_id.clone()),
                constraints: g.constraints.clone(),
                other_account,
                operations,
                decision: Decision::Allowed,
                statements: Vec::new(),
                requirements: Vec::new(),
            })
        })
        .collect()
}

/// A related multi-Region key (same key id, another region), as the evidence tells its
/// policy: KMS Developer Guide, "Multi-Region keys in AWS KMS": related keys share key
/// material and key id, each has its own key policy, and ciphertext encrypted under one
/// decrypts with any of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedKey {
    pub arn: String,
    pub region: String,
    /// Its own policy's verdict: from GetKeyPolicy in its region (live), else the newest
    /// event that set it (ReplicateKey's `replicaPolicy`, a PutKeyPolicy in its region);
    /// `unknown` when GetKeyPolicy was refused and no event says.
    pub verdict: super::Verdict,
    /// The event id, or `GetKeyPolicy` (with its error when refused).
    pub from_event: String,
}

/// The related multi-Region keys of `key` (an `mrk-` id) that the events set a policy of,
/// each with its verdict and its own data paths (marked `related_key`).
pub fn related_keys(
    key: &super::KeyRef,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
    events: &[crate::analysis::events::PolicyEvent],
    live: &[crate::analysis::lockout::key::RelatedPolicy],
) -> (Vec<RelatedKey>, Vec<DataPath>) {
    let (Some(here), true) = (key.region.as_deref(), key.id.starts_with("mrk-")) else {
        return (Vec::new(), Vec::new());
    };
    let anywhere = super::KeyRef {
        region: None,
        arn: None,
        ..key.clone()
    };
    let mut newest: std::collections::BTreeMap<&str, &crate::analysis::events::PolicyEvent> =
        std::collections::BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.name.sets_policy() && e.error_code.is_none() && e.is_for(&anywhere))
    {
        let Some(region) = e.applies_in.as_deref().filter(|r| *r != here) else {
            continue;
        };
        if newest.get(region).is_none_or(|n| n.time <= e.time) {
            newest.insert(region, e);
        }
    }
    // Each region's policy: read live (GetKeyPolicy there) over the newest event's.
    let mut sources: std::collections::BTreeMap<String, (Option<String>, String)> = newest
        .into_iter()
        .map(|(region, e)| {
            let text = match &e.policy {
                Some(t) => t.clone(),
                None => super::default_policy(key.partition(), account),
            };
            (region.to_string(), (Some(text), e.event_id.clone()))
        })
        .collect();
    for r in live.iter().filter(|r| r.region != here) {
        match &r.policy {
            Some(p) => {
                sources.insert(r.region.clone(), (Some(p.clone()), "GetKeyPolicy".into()));
            }
            None => {
                sources.entry(r.region.clone()).or_insert((
                    None,
                    format!(
                        "GetKeyPolicy: {}",
                        r.error.as_deref().unwrap_or("no policy")
                    ),
                ));
            }
        }
    }
    let mut keys = Vec::new();
    let mut paths = Vec::new();
    for (region, (text, from)) in sources {
        let region = region.as_str();
        let arn = crate::analysis::aws_ids::key_arn(key.partition(), region, account, &key.id);
        let Ok(kref) = super::KeyRef::parse(&arn) else {
            continue;
        };
        let Some(text) = text else {
            keys.push(RelatedKey {
                arn,
                region: region.to_string(),
                verdict: super::Verdict::Unknown,
                from_event: from,
            });
            continue;
        };
        let Ok(policy) = crate::analysis::policy::parse_policy(
            &text,
            crate::analysis::policy::PolicyKind::Key,
            "related",
        ) else {
            continue;
        };
        let setting = Setting::new(&kref, account, now, None, None);
        let verdict = super::assess(&policy, &setting).verdict;
        for mut p in data_paths(&policy, &setting) {
            p.via = "related_key";
            p.related_key = Some(arn.clone());
            paths.push(p);
        }
        keys.push(RelatedKey {
            arn,
            region: region.to_string(),
            verdict,
            from_event: from,
        });
    }
    (keys, paths)
}

/// The grants as ListGrants listed them, over those the events tell: a listed grant is live
/// (added when its creation is not in the evidence); a grant the events left live that the
/// list does not hold has ended since (`not_listed`). ListGrants is the key's full list.
pub fn merge_listed(
    grants: &mut Vec<GrantView>,
    listed: &[crate::analysis::lockout::key::ListedGrant],
) {
    for g in grants.iter_mut() {
        if g.status == GrantStatus::Live && !listed.iter().any(|l| l.grant_id == g.grant_id) {
            g.status = GrantStatus::NotListed;
        }
    }
    for l in listed {
        match grants.iter_mut().find(|g| g.grant_id == l.grant_id) {
            Some(g) => {
                g.status = GrantStatus::Live;
                g.grantee = g.grantee.clone().or_else(|| l.grantee.clone());
                if g.operations.is_empty() {
                    g.operations = l.operations.clone();
                }
                g.constraints = g.constraints.clone().or_else(|| l.constraints.clone());
            }
            None => grants.push(GrantView {
                grant_id: l.grant_id.clone(),
                grantee: l.grantee.clone(),
                operations: l.operations.clone(),
                constraints: l.constraints.clone(),
                retiring_principal: l.retiring.clone(),
                status: GrantStatus::Live,
                created_by_event: None,
                created_at: None,
                ended_by_event: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::lockout::key::ListedGrant;

    fn view(id: &str, status: GrantStatus) -> GrantView {
        GrantView {
            grant_id: id.into(),
            grantee: Some("arn:aws:iam::111122223333:role/App".into()),
            operations: vec!["Decrypt".into()],
            constraints: None,
            retiring_principal: None,
            status,
            created_by_event: Some(format!("ev-{id}")),
            created_at: None,
            ended_by_event: None,
        }
    }

    /// ListGrants is the full list: a grant the events left live but that is not listed
    /// ended since; a listed one whose creation the events miss is live.
    #[test]
    fn listed_grants_decide_which_are_live() {
        let mut grants = vec![
            view("a", GrantStatus::Live),
            view("b", GrantStatus::Live),
            view("c", GrantStatus::Revoked),
        ];
        let listed = [
            ListedGrant {
                grant_id: "a".into(),
                ..ListedGrant::default()
            },
            ListedGrant {
                grant_id: "d".into(),
                grantee: Some("arn:aws:iam::444455556666:role/X".into()),
                operations: vec!["Encrypt".into()],
                ..ListedGrant::default()
            },
        ];
        merge_listed(&mut grants, &listed);
        let status: Vec<(&str, &str)> = grants
            .iter()
            .map(|g| (g.grant_id.as_str(), g.status.as_str()))
            .collect();
        assert_eq!(
            status,
            [
                ("a", "live"),
                ("b", "not_listed"),
                ("c", "revoked"),
                ("d", "live")
            ]
        );
        let paths = grant_paths(&grants, Some("111122223333"));
        let who: Vec<(&str, bool)> = paths
            .iter()
            .map(|p| (p.principal.as_str(), p.other_account))
            .collect();
        assert_eq!(
            who,
            [
                ("arn:aws:iam::111122223333:role/App", false),
                ("arn:aws:iam::444455556666:role/X", true)
            ]
        );
        assert_eq!(paths[1].operations, ["kms:Encrypt"]);
    }
}
