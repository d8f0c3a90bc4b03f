//! How the recovery calls stand for each kind of principal of the key's account (users, role
//! sessions): the alternatives that let them in, and whether each singles someone out. The
//! verdict (`assess`), the admins (`admins`) and the causes (`causes`) all read this view.

use super::delegation::Setting;
use crate::analysis::condition_keys::anyone_can_meet;
use crate::analysis::eval::{Alternative, Decision, Evaluation, RequirementKind};
use crate::analysis::policy::Policy;
use crate::analysis::principal_class::{standing, Kind, Standing};

/// Whether an alternative could hold for any principal of the account: its requirements are
/// an IAM policy, the key's own ARN, or conditions on keys that single nobody out
/// (`condition_keys::anyone_can_meet`). A kind-agnostic view, for the causes of a lockout;
/// the verdict judges each kind of principal (`principal_class`).
pub fn generic(alt: &Alternative) -> bool {
    alt.all_of.iter().all(|r| match r.kind {
        RequirementKind::IamPolicy | RequirementKind::Resource => true,
        RequirementKind::Condition => r.key.as_deref().is_some_and(anyone_can_meet),
        RequirementKind::Session => false,
    })
}

/// The ways in of a decided recovery call: one empty alternative when allowed outright.
pub(super) fn alternatives(e: &Evaluation) -> Vec<Alternative> {
    match e.decision {
        Decision::Allowed => vec![Alternative {
            all_of: vec![],
            via: e.deciding_statements.clone(),
        }],
        Decision::Conditional => e.requirements.clone(),
        _ => vec![],
    }
}

/// How the recovery calls stand for one kind of principal (users, or role sessions).
pub(super) struct KindView {
    pub kind: Kind,
    pub account: String,
    pub put: Vec<(Alternative, Standing)>,
    pub get: Vec<(Alternative, Standing)>,
}

impl KindView {
    pub(super) fn new(policy: &Policy, setting: &Setting<'_>, kind: Kind) -> KindView {
        let judge = |action: &str| -> Vec<(Alternative, Standing)> {
            let e = setting.decide(&setting.kind_request(kind, action), policy);
            alternatives(&e)
                .into_iter()
                .map(|a| {
                    let st = standing(&a, kind, setting.partition(), setting.account);
                    (a, st)
                })
                .collect()
        };
        KindView {
            kind,
            account: setting.account.to_string(),
            put: judge("kms:PutKeyPolicy"),
            get: judge("kms:GetKeyPolicy"),
        }
    }

    pub(super) fn generic_put(&self) -> Vec<Alternative> {
        self.put
            .iter()
            .filter(|(_, s)| *s == Standing::Generic)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Any principal of the kind gets both recovery calls.
    pub(super) fn open_to_all(&self) -> bool {
        self.put.iter().any(|(_, s)| *s == Standing::Generic)
            && self.get.iter().any(|(_, s)| *s == Standing::Generic)
    }
}
