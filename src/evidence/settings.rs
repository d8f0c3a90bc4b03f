//! What the evidence layer is asked to read, as `config` resolves it from the flags: how to
//! reach AWS, where older CloudTrail history comes from, and which files hold the caller's
//! other layers of the request chain. Plain data: `config` builds it, the readers take it.

use std::path::PathBuf;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Where history older than event history's 90 days comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum History {
    /// Event history only; when it does not settle the history, say where the archive is.
    #[default]
    Lookup,
    /// The trail's log files in S3, read back as far as needed.
    S3,
    /// One Athena query over the user's CloudTrail table.
    Athena(AthenaSettings),
}

/// Whose credentials read the trail's archive (S3 and Athena), when not the run's own: the
/// organization trail's bucket usually lives in a log archive account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchiveAccess {
    /// A profile of ~/.aws/config for the archive reads (`--archive-profile`).
    pub profile: Option<String>,
    /// A role to assume for them (`--archive-role-arn`), from the archive profile's
    /// credentials when one is given, else the run's.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for (`--archive-external-id`).
    pub external_id: Option<String>,
}

impl ArchiveAccess {
    /// Whether the archive is read with other credentials than the run's.
    pub fn is_set(&self) -> bool {
        self.profile.is_some() || self.role_arn.is_some()
    }

    /// Whose credentials read the archive, in words.
    pub fn describe(&self) -> String {
        match (&self.role_arn, &self.profile) {
            (Some(r), Some(p)) => format!("the role {r}, assumed with the profile {p}"),
            (Some(r), None) => format!("the role {r}, assumed with the run's credentials"),
            (None, Some(p)) => format!("the profile {p}"),
            (None, None) => "the run's credentials".to_string(),
        }
    }
}

/// Where and how the query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaSettings {
    pub workgroup: String,
    pub database: String,
    pub table: String,
    /// `s3://...` for the results; `None`: the workgroup's own setting.
    pub output_location: Option<String>,
    /// The most the query may scan, in bytes.
    pub max_scan: u64,
}

/// Policy files of the request chain's layers, as the flags named them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerFiles {
    /// `None`: not known; `Some(None)`: known to have none.
    pub boundary: Option<Option<PathBuf>>,
    pub session: Vec<PathBuf>,
    /// `(target, file)` pairs, in the order given.
    pub scps: Vec<(String, PathBuf)>,
    pub rcps: Vec<(String, PathBuf)>,
    pub management_account: Option<String>,
}

impl LayerFiles {
    /// Whether any layer beyond the key and identity policies was given.
    pub fn any(&self) -> bool {
        self.boundary.is_some()
            || !self.session.is_empty()
            || !self.scps.is_empty()
            || !self.rcps.is_empty()
            || self.management_account.is_some()
    }
}
