//! The caller's layers of the request chain as AWS gave them (IAM for identity policies and
//! the permissions boundary, Organizations for SCPs and RCPs), recorded as text so that a
//! bundle keeps them and `--from` gives the same verdict offline; and their parsing into
//! [`LayerPolicies`] for the evaluator.
//!
//! A layer that could not be read is `None` ("not known") with the reason in `problems`:
//! it is reported as such and never taken to allow or deny.

use serde::{Deserialize, Serialize};

use crate::analysis::chain::{levels, LayerPolicies};
use crate::analysis::policy::{parse_document, Policy, PolicyKind};

/// One policy as read: where it came from (`inline role policy NAME`, a managed policy ARN,
/// an Organizations policy id) and its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPolicy {
    /// A short name, used in statement references (`NAME:SID`).
    pub name: String,
    /// Where it came from, in words or as an ARN / policy id.
    pub source: String,
    pub document: String,
}

/// The policies attached to one level of the organization (root, OU, account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLevel {
    pub target: String,
    pub policies: Vec<RecordedPolicy>,
}

/// The permissions boundary as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordedBoundary {
    /// The principal has no permissions boundary.
    None,
    Policy {
        policy: RecordedPolicy,
    },
}

/// What was read of the caller's layers. `None` in a field: not known (see `problems`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLayers {
    /// The IAM user or role whose policies these are (a session's role).
    pub principal: Option<String>,
    #[serde(default)]
    pub identity: Option<Vec<RecordedPolicy>>,
    #[serde(default)]
    pub boundary: Option<RecordedBoundary>,
    /// SCP levels from the organization root down to the account; `Some([])` when none
    /// bind (no organization, or the policy type is not enabled).
    #[serde(default)]
    pub scps: Option<Vec<RecordedLevel>>,
    #[serde(default)]
    pub rcps: Option<Vec<RecordedLevel>>,
    #[serde(default)]
    pub management_account: Option<String>,
    /// Why a layer is not known, one line each.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// A recorded policy that does not parse: where it is (JSON pointer below the layers), and
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerParseError {
    pub pointer: String,
    pub message: String,
}

fn parse_one(
    p: &RecordedPolicy,
    kind: PolicyKind,
    pointer: String,
) -> Result<Policy, LayerParseError> {
    parse_document(&p.document, kind, &p.name)
        .map(|d| d.policy)
        .map_err(|e| LayerParseError {
            pointer,
            message: format!(
                "the policy {} is not a policy{}: {}",
                p.source,
                e.position
                    .map(|at| format!(" (its line {}, column {})", at.line, at.column))
                    .unwrap_or_default(),
                e.message
            ),
        })
}

fn parse_levels(
    list: &[RecordedLevel],
    kind: PolicyKind,
    pointer: &str,
) -> Result<Vec<crate::analysis::chain::OrgLevel>, LayerParseError> {
    let mut attached = Vec::new();
    for (i, level) in list.iter().enumerate() {
        for (j, p) in level.policies.iter().enumerate() {
            let at = format!("{pointer}/{i}/policies/{j}/document");
            attached.push((level.target.clone(), parse_one(p, kind, at)?));
        }
    }
    let mut out = levels(attached);
    // A level with nothing attached still stands (it denies everything for SCPs).
    for level in list {
        if !out.iter().any(|l| l.target == level.target) {
            out.push(crate::analysis::chain::OrgLevel {
                target: level.target.clone(),
                policies: Vec::new(),
            });
        }
    }
    let order = |t: &str| list.iter().position(|l| l.target == t);
    out.sort_by_key(|l| order(&l.target));
    Ok(out)
}

impl RecordedLayers {
    /// The layers parsed for the evaluator. Errors point below the layers object
    /// (`/identity/2/document`); the caller adds where that object sits.
    pub fn parse(&self) -> Result<LayerPolicies, LayerParseError> {
        let identity = match &self.identity {
            None => None,
            Some(list) => Some(
                list.iter()
                    .enumerate()
                    .map(|(i, p)| {
                        parse_one(p, PolicyKind::Identity, format!("/identity/{i}/document"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let boundary = match &self.boundary {
            None => None,
            Some(RecordedBoundary::None) => Some(None),
            Some(RecordedBoundary::Policy { policy }) => Some(Some(parse_one(
                policy,
                PolicyKind::Identity,
                "/boundary/policy/document".into(),
            )?)),
        };
        let scps = self
            .scps
            .as_deref()
            .map(|l| parse_levels(l, PolicyKind::Identity, "/scps"))
            .transpose()?;
        let rcps = self
            .rcps
            .as_deref()
            .map(|l| parse_levels(l, PolicyKind::ResourceControl, "/rcps"))
            .transpose()?;
        Ok(LayerPolicies {
            identity,
            boundary,
            session: None,
            scps,
            rcps,
            management_account: self.management_account.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, doc: &str) -> RecordedPolicy {
        RecordedPolicy {
            name: name.into(),
            source: format!("inline role policy {name}"),
            document: doc.into(),
        }
    }

    #[test]
    fn recorded_layers_parse_with_their_levels_in_order() {
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let rec = RecordedLayers {
            principal: Some("arn:aws:iam::111122223333:role/Ops".into()),
            identity: Some(vec![policy("ops", allow)]),
            boundary: Some(RecordedBoundary::None),
            scps: Some(vec![
                RecordedLevel {
                    target: "r-ab12".into(),
                    policies: vec![policy("FullAWSAccess", allow)],
                },
                RecordedLevel {
                    target: "111122223333".into(),
                    policies: vec![],
                },
            ]),
            rcps: None,
            management_account: Some("999999999999".into()),
            problems: vec![],
        };
        let p = rec.parse().unwrap();
        assert_eq!(p.identity.as_ref().map(Vec::len), Some(1));
        assert!(matches!(p.boundary, Some(None)));
        let scps = p.scps.unwrap();
        let targets: Vec<&str> = scps.iter().map(|l| l.target.as_str()).collect();
        assert_eq!(targets, ["r-ab12", "111122223333"]);
        assert!(scps[1].policies.is_empty());
        assert!(p.rcps.is_none());
    }

    #[test]
    fn a_recorded_policy_that_is_not_json_names_its_place() {
        let rec = RecordedLayers {
            identity: Some(vec![
                policy(
                    "a",
                    r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                ),
                policy("b", "{not json"),
            ]),
            ..RecordedLayers::default()
        };
        let e = rec.parse().unwrap_err();
        assert_eq!(e.pointer, "/identity/1/document");
        assert!(e.message.contains("inline role policy b"), "{}", e.message);
    }
}
