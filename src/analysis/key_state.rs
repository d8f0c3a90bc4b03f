//! Key states: what each state of a KMS key means for someone locked out of it, and the
//! state of one key as the evidence tells it (DescribeKey, or a bundle of it).
//!
//! The facts are data, from one page: KMS Developer Guide, "Key states of AWS KMS keys"
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html>), its key state
//! table, with "Cancel key deletion" and "Enable and disable keys". In that table
//! GetKeyPolicy and PutKeyPolicy succeed in every state, so a state never changes who can
//! repair the policy; it changes what the repair is worth and what must come before and
//! after it. CancelKeyDeletion succeeds only for a key pending deletion, and leaves it
//! `Disabled`; EnableKey fails for a key pending deletion, pending import or unavailable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The guide's page the table below comes from.
pub const SOURCE: &str = "https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html";

/// One state of the key state table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateFact {
    /// As DescribeKey spells it (`KeyMetadata.KeyState`).
    pub name: &'static str,
    /// Cryptographic operations (Encrypt, Decrypt, GenerateDataKey...) work.
    pub usable: bool,
    /// CancelKeyDeletion works (it does only while deletion is pending).
    pub cancel_deletion: bool,
    /// EnableKey works in this state.
    pub enable_key: bool,
    /// What the state means for the key's data and for a recovery, in words.
    pub meaning: &'static str,
}

/// Every state of the table. A state not listed here (a new one) is named as unknown and
/// never taken for `Enabled`.
pub const STATES: &[StateFact] = &[
    StateFact {
        name: "Enabled",
        usable: true,
        cancel_deletion: false,
        enable_key: true,
        meaning: "the key is enabled",
    },
    StateFact {
        name: "Disabled",
        usable: false,
        cancel_deletion: false,
        enable_key: true,
        meaning: "the key is disabled: nothing can encrypt or decrypt with it until EnableKey (which needs kms:EnableKey in the key policy, or through IAM)",
    },
    StateFact {
        name: "PendingDeletion",
        usable: false,
        cancel_deletion: true,
        enable_key: false,
        meaning: "the key is scheduled for deletion: after the deletion date the key and everything encrypted under it are lost for good; until then CancelKeyDeletion (which needs kms:CancelKeyDeletion in the key policy, or through IAM, from the key's own account) stops it and leaves the key disabled",
    },
    StateFact {
        name: "PendingImport",
        usable: false,
        cancel_deletion: false,
        enable_key: false,
        meaning: "the key has no key material (imported material not yet imported, deleted or expired): it cannot be used until the same material is imported again",
    },
    StateFact {
        name: "PendingReplicaDeletion",
        usable: false,
        cancel_deletion: false,
        enable_key: false,
        meaning: "this multi-Region primary key is scheduled for deletion and waits for its replicas to be deleted first; its own waiting period starts after the last replica's",
    },
    StateFact {
        name: "Unavailable",
        usable: false,
        cancel_deletion: false,
        enable_key: false,
        meaning: "the key is in a custom key store that is disconnected: it can be managed but not used until the key store is connected again",
    },
    StateFact {
        name: "Creating",
        usable: false,
        cancel_deletion: false,
        enable_key: false,
        meaning: "this multi-Region replica is still being created (a transient state)",
    },
    StateFact {
        name: "Updating",
        usable: true,
        cancel_deletion: false,
        enable_key: false,
        meaning: "the primary Region of this multi-Region key is being updated (a transient state)",
    },
];

/// The table's row for a state, as DescribeKey spells it.
pub fn fact(name: &str) -> Option<&'static StateFact> {
    STATES.iter().find(|s| s.name == name)
}

/// A date as the outputs say a deletion date: `2026-12-12 00:00 UTC`.
pub fn date_words(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// What the evidence says of the key's state. All optional: offline there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatus {
    /// `KeyMetadata.KeyState`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `KeyMetadata.DeletionDate`: when a key pending deletion is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<DateTime<Utc>>,
    /// `KeyMetadata.PendingDeletionWindowInDays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_window_days: Option<i32>,
    /// Whole days from the diagnosis's time to the deletion date (0 on the last day,
    /// negative once past it): set by the diagnosis, never read from evidence.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// Where the state was learnt when DescribeKey did not say it: the CloudTrail event
    /// that last changed it (set by the diagnosis, never read from evidence).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub from_event: Option<String>,
}

impl KeyStatus {
    pub fn is_known(&self) -> bool {
        self.state.is_some()
    }

    /// The table's row, when the state is one the table has.
    pub fn fact(&self) -> Option<&'static StateFact> {
        self.state.as_deref().and_then(fact)
    }

    /// Deletion is pending, for this key or (a primary) after its replicas.
    pub fn deletion_pending(&self) -> bool {
        matches!(
            self.state.as_deref(),
            Some("PendingDeletion" | "PendingReplicaDeletion")
        )
    }

    /// The same status, its days left counted from `now`.
    pub fn at(&self, now: DateTime<Utc>) -> KeyStatus {
        KeyStatus {
            days_left: self.deletion_date.map(|d| (d - now).num_days()),
            ..self.clone()
        }
    }

    /// The days left in words: `6 days left`, `the date has passed`.
    pub fn left_words(&self) -> Option<String> {
        Some(match self.days_left? {
            n if n < 0 => "the date has passed".to_string(),
            0 => "less than a day left".to_string(),
            1 => "1 day left".to_string(),
            n => format!("{n} days left"),
        })
    }

    /// The deletion date and the days left, as every output says them:
    /// `2026-12-12 00:00 UTC (6 days left)`.
    pub fn deadline_words(&self) -> Option<String> {
        let date = date_words(self.deletion_date?);
        Some(match self.left_words() {
            Some(left) => format!("{date} ({left})"),
            None => date,
        })
    }

    /// When the key is deleted, in words: `on 2026-12-12 00:00 UTC (6 days left)`; for a
    /// primary waiting for its replicas (no date yet, API reference, `KeyMetadata`
    /// `PendingDeletionWindowInDays`), `30 days after its last replica is deleted`.
    pub fn when_deleted(&self) -> String {
        if let Some(w) = self.deadline_words() {
            return format!("on {w}");
        }
        match (self.state.as_deref(), self.pending_window_days) {
            (Some("PendingReplicaDeletion"), Some(n)) => {
                format!("{n} days after its last replica is deleted (no date until then)")
            }
            (Some("PendingReplicaDeletion"), None) => {
                "at the end of its waiting period, which starts when its last replica is deleted"
                    .to_string()
            }
            _ => "at the end of its waiting period (the date is not known)".to_string(),
        }
    }

    /// The state in words for a first line: `PendingDeletion: deleted on 2026-12-12 ...`.
    pub fn headline(&self) -> Option<String> {
        let state = self.state.as_deref()?;
        if state == "Enabled" {
            return None;
        }
        let mut s = state.to_string();
        if let Some(when) = self.deadline_words() {
            s.push_str(&format!(": deleted on {when}"));
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_of_the_api_is_in_the_table() {
        // KeyState's values in the KMS API reference (KeyMetadata).
        for s in [
            "Creating",
            "Enabled",
            "Disabled",
            "PendingDeletion",
            "PendingImport",
            "PendingReplicaDeletion",
            "Unavailable",
            "Updating",
        ] {
            assert!(fact(s).is_some(), "{s}");
        }
        assert!(fact("Frozen").is_none());
        // Only a key pending deletion can have its deletion cancelled; EnableKey does not
        // work on it (KMSInvalidStateException in the table).
        assert!(fact("PendingDeletion").unwrap().cancel_deletion);
        assert!(!fact("PendingDeletion").unwrap().enable_key);
        assert_eq!(STATES.iter().filter(|s| s.cancel_deletion).count(), 1);
        assert!(fact("Disabled").unwrap().enable_key);
    }

    #[test]
    fn the_headline_counts_the_days_left() {
        let now: DateTime<Utc> = "2026-12-05T12:00:00Z".parse().unwrap();
        let st = KeyStatus {
            state: Some("PendingDeletion".into()),
            deletion_date: Some("2026-12-12T00:00:00Z".parse().unwrap()),
            pending_window_days: Some(7),
            ..KeyStatus::default()
        }
        .at(now);
        assert_eq!(st.days_left, Some(6));
        assert_eq!(
            st.headline().unwrap(),
            "PendingDeletion: deleted on 2026-12-12 00:00 UTC (6 days left)"
        );
        assert!(st.deletion_pending());
        let past: DateTime<Utc> = "2026-12-13T00:00:00Z".parse().unwrap();
        assert!(st
            .at(past)
            .headline()
            .unwrap()
            .ends_with("(the date has passed)"));
        let enabled = KeyStatus {
            state: Some("Enabled".into()),
            ..KeyStatus::default()
        };
        assert_eq!(enabled.at(now).headline(), None);
        assert_eq!(st.when_deleted(), "on 2026-12-12 00:00 UTC (6 days left)");
        // A primary waiting for its replicas has a window and no date.
        let waiting = KeyStatus {
            state: Some("PendingReplicaDeletion".into()),
            pending_window_days: Some(30),
            ..KeyStatus::default()
        };
        assert_eq!(
            waiting.when_deleted(),
            "30 days after its last replica is deleted (no date until then)"
        );
        assert!(waiting.deletion_pending());
        assert_eq!(KeyStatus::default().headline(), None);
    }
}
