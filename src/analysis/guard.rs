//! `kmsdoctor guard`: before deleting principals, which keys would lose their last way
//! back. A key that is `ok` lets IAM grant any principal of the account again, so deleting
//! one changes nothing for it; a key that is `recoverable` only through the principals its
//! policy names loses them, and a principal deleted and re-created does not match a policy
//! that names it (IAM User Guide, "Principal": the policy holds the principal's unique id).

use serde::Serialize;

use super::scan::Standing;

/// One key, as a scan judged it (the fields of a scan's JSON `keys`, read back as they are).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct GuardKey {
    pub arn: String,
    pub region: String,
    pub standing: Standing,
    /// How many could change the policy (classes of principals included).
    pub can_recover: usize,
    /// The principals among them, as written (required in a scan file: a key read without
    /// them would look as if no principal could be lost).
    pub admins: Vec<String>,
    /// Those named only in a condition: created again under the same name, they match.
    #[serde(default)]
    pub recreatable: Vec<String>,
    /// For a key pending deletion (scans since issue 27): when it is deleted.
    #[serde(default)]
    pub deletion_date: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<super::scan::KeyStanding> for GuardKey {
    fn from(k: super::scan::KeyStanding) -> GuardKey {
        GuardKey {
            arn: k.arn,
            region: k.region,
            standing: k.standing,
            can_recover: k.can_recover,
            admins: k.admins,
            recreatable: k.recreatable,
            deletion_date: k.deletion_date,
        }
    }
}

/// What deleting the principals does to one key.
#[derive(Debug, Clone, Serialize)]
pub struct GuardRow {
    pub arn: String,
    pub region: String,
    pub standing: Standing,
    pub can_recover_before: usize,
    pub can_recover_after: usize,
    /// The key's administrators that would be deleted (and could not come back).
    pub lost: Vec<String>,
    /// Administrators that would be deleted but are named in a condition: creating them
    /// again under the same name restores access.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recreatable: Vec<String>,
    /// Nobody could change the policy afterwards.
    pub drops_to_none: bool,
    /// Fewer than `--min-admins` could.
    pub below_min: bool,
    /// The scan could not judge the key (its policy unreadable, or the verdict unknown):
    /// whether the deletion hurts it is not known.
    #[serde(skip)]
    pub unjudged: bool,
    /// The key is pending deletion: after this date it is gone whatever its administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<chrono::DateTime<chrono::Utc>>,
}

/// The root user (the account principal) cannot be deleted.
fn is_root(principal: &str) -> bool {
    matches!(
        super::principal::PrincipalEntry::from_aws_value(principal),
        super::principal::PrincipalEntry::Account { .. }
    )
}

/// `deleted`: principal ARNs to be deleted. `min_admins`: the fewest who should be able to
/// change each key's policy afterwards. Rows for the keys at risk first.
pub fn guard(keys: &[GuardKey], deleted: &[String], min_admins: usize) -> Vec<GuardRow> {
    let mut rows: Vec<GuardRow> = keys
        .iter()
        .map(|k| {
            let (recreatable, lost): (Vec<String>, Vec<String>) = k
                .admins
                .iter()
                .filter(|a| !is_root(a) && deleted.iter().any(|d| d == *a))
                .cloned()
                .partition(|a| k.recreatable.contains(a));
            // An ok key: IAM can grant any principal of the account again, so deleting one
            // takes nothing from it and none is counted.
            let (lost, recreatable) = if k.standing == Standing::Ok {
                (Vec::new(), Vec::new())
            } else {
                (lost, recreatable)
            };
            let after = k.can_recover.saturating_sub(lost.len());
            let judged = matches!(k.standing, Standing::Recoverable);
            GuardRow {
                arn: k.arn.clone(),
                region: k.region.clone(),
                standing: k.standing,
                can_recover_before: k.can_recover,
                can_recover_after: after,
                drops_to_none: judged && !lost.is_empty() && after == 0,
                below_min: judged && !lost.is_empty() && after < min_admins,
                unjudged: matches!(k.standing, Standing::Unreadable | Standing::Unknown),
                lost,
                recreatable,
                deletion_date: k.deletion_date,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (
            !a.drops_to_none,
            !a.below_min,
            a.lost.is_empty(),
            &a.region,
            &a.arn,
        )
            .cmp(&(
                !b.drops_to_none,
                !b.below_min,
                b.lost.is_empty(),
                &b.region,
                &b.arn,
            ))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(arn: &str, standing: Standing, admins: &[&str]) -> GuardKey {
        GuardKey {
            arn: arn.into(),
            region: "us-east-1".into(),
            standing,
            can_recover: admins.len(),
            admins: admins.iter().map(|s| s.to_string()).collect(),
            recreatable: Vec::new(),
            deletion_date: None,
        }
    }

    #[test]
    fn deleting_the_last_admin_of_a_recoverable_key_is_caught() {
        let glass = "arn:aws:iam::111122223333:role/BreakGlass";
        let ops = "arn:aws:iam::111122223333:role/Ops";
        let keys = [
            key("k-ok", Standing::Ok, &["arn:aws:iam::111122223333:root"]),
            key("k-one", Standing::Recoverable, &[glass]),
            key("k-two", Standing::Recoverable, &[glass, ops]),
            key(
                "k-root",
                Standing::Recoverable,
                &["arn:aws:iam::111122223333:root"],
            ),
        ];
        let rows = guard(
            &keys,
            &[glass.to_string(), "arn:aws:iam::111122223333:root".into()],
            2,
        );
        assert_eq!(rows[0].arn, "k-one");
        assert!(rows[0].drops_to_none && rows[0].below_min);
        let two = rows.iter().find(|r| r.arn == "k-two").unwrap();
        assert!(!two.drops_to_none && two.below_min);
        assert_eq!((two.can_recover_before, two.can_recover_after), (2, 1));
        let root = rows.iter().find(|r| r.arn == "k-root").unwrap();
        assert!(
            root.lost.is_empty() && !root.drops_to_none,
            "the root user cannot be deleted"
        );
        let ok = rows.iter().find(|r| r.arn == "k-ok").unwrap();
        assert!(!ok.drops_to_none && !ok.below_min);
    }

    /// An `ok` key loses nothing (IAM can grant anyone of the account again: no admin is
    /// counted), and a key the scan could not judge is said as such.
    #[test]
    fn ok_keys_count_no_admins_and_unreadable_keys_are_unjudged() {
        let ops = "arn:aws:iam::111122223333:role/Ops";
        let keys = [
            key(
                "k-ok",
                Standing::Ok,
                &[ops, "arn:aws:iam::111122223333:role/Dev"],
            ),
            key("k-unreadable", Standing::Unreadable, &[]),
        ];
        let rows = guard(&keys, &[ops.to_string()], 1);
        let ok = rows.iter().find(|r| r.arn == "k-ok").unwrap();
        assert!(ok.lost.is_empty(), "{ok:?}");
        assert_eq!(ok.can_recover_after, ok.can_recover_before);
        assert!(!ok.unjudged);
        assert!(
            rows.iter()
                .find(|r| r.arn == "k-unreadable")
                .unwrap()
                .unjudged
        );
    }

    /// A class of principals ("any role whose ARN matches...") is counted but never one
    /// principal deleted; a principal named only in a condition comes back when re-created.
    #[test]
    fn classes_and_condition_named_admins_survive_a_deletion() {
        let named = "arn:aws:iam::111122223333:role/Ops";
        let class = GuardKey {
            arn: "k-class".into(),
            region: "us-east-1".into(),
            standing: Standing::Recoverable,
            can_recover: 2,
            admins: vec![named.into()],
            recreatable: Vec::new(),
            deletion_date: None,
        };
        let by_condition = GuardKey {
            arn: "k-cond".into(),
            region: "us-east-1".into(),
            standing: Standing::Recoverable,
            can_recover: 1,
            admins: vec![named.into()],
            recreatable: vec![named.into()],
            deletion_date: None,
        };
        let rows = guard(&[class, by_condition], &[named.to_string()], 1);
        let c = rows.iter().find(|r| r.arn == "k-class").unwrap();
        assert!(!c.drops_to_none && !c.below_min, "the class survives");
        assert_eq!(c.can_recover_after, 1);
        let k = rows.iter().find(|r| r.arn == "k-cond").unwrap();
        assert!(
            k.lost.is_empty() && !k.drops_to_none,
            "re-created by name, it matches"
        );
        assert_eq!(k.recreatable, [named]);
    }
}
