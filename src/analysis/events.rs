//! The key events kmsdoctor reasons about (those that set the policy, those that change the
//! key's state), in its own
//! types: who, when, from where, and the policy applied. Decoding them from CloudTrail's
//! shapes is the evidence layer's work (`evidence::cloudtrail_records`).

use chrono::{DateTime, Utc};

/// The CloudTrail events of a key that kmsdoctor reads: those that set its policy, and
/// those that change its state (KMS Developer Guide, "Logging AWS KMS API calls with AWS
/// CloudTrail": ScheduleKeyDeletion, CancelKeyDeletion, DisableKey, EnableKey; "Key states
/// of AWS KMS keys" for the state each leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EventName {
    CreateKey,
    PutKeyPolicy,
    /// Creates a multi-Region replica, in the primary's region: the replica's first policy.
    ReplicateKey,
    /// Leaves the key `PendingDeletion` (a primary with replicas `PendingReplicaDeletion`).
    ScheduleKeyDeletion,
    /// Leaves the key `Disabled`.
    CancelKeyDeletion,
    DisableKey,
    EnableKey,
    /// A grant: who may use the key for which operations, until retired or revoked (KMS
    /// Developer Guide, "Grants in AWS KMS").
    CreateGrant,
    RetireGrant,
    RevokeGrant,
}

impl EventName {
    /// Every event read, in one list: the CloudTrail lookups, the log-file filter and the
    /// Athena query all ask for these names.
    pub const ALL: [EventName; 10] = [
        EventName::CreateKey,
        EventName::PutKeyPolicy,
        EventName::ReplicateKey,
        EventName::ScheduleKeyDeletion,
        EventName::CancelKeyDeletion,
        EventName::DisableKey,
        EventName::EnableKey,
        EventName::CreateGrant,
        EventName::RetireGrant,
        EventName::RevokeGrant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::CreateKey => "CreateKey",
            EventName::PutKeyPolicy => "PutKeyPolicy",
            EventName::ReplicateKey => "ReplicateKey",
            EventName::ScheduleKeyDeletion => "ScheduleKeyDeletion",
            EventName::CancelKeyDeletion => "CancelKeyDeletion",
            EventName::DisableKey => "DisableKey",
            EventName::EnableKey => "EnableKey",
            EventName::CreateGrant => "CreateGrant",
            EventName::RetireGrant => "RetireGrant",
            EventName::RevokeGrant => "RevokeGrant",
        }
    }

    pub fn parse(name: &str) -> Option<EventName> {
        EventName::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Whether the event creates the key (its first policy).
    pub fn creates(self) -> bool {
        matches!(self, EventName::CreateKey | EventName::ReplicateKey)
    }

    /// Whether the event sets the key policy (else it changes the key's state).
    pub fn sets_policy(self) -> bool {
        matches!(
            self,
            EventName::CreateKey | EventName::PutKeyPolicy | EventName::ReplicateKey
        )
    }

    /// Whether the event creates or ends a grant.
    pub fn is_grant(self) -> bool {
        matches!(
            self,
            EventName::CreateGrant | EventName::RetireGrant | EventName::RevokeGrant
        )
    }

    /// Whether the event changes the key's state (deletion, enabling, disabling).
    pub fn changes_state(self) -> bool {
        self.leaves_state().is_some()
    }

    /// The state a successful call leaves the key in; `None` for policy and grant events.
    pub fn leaves_state(self) -> Option<&'static str> {
        match self {
            EventName::ScheduleKeyDeletion => Some("PendingDeletion"),
            EventName::CancelKeyDeletion | EventName::DisableKey => Some("Disabled"),
            EventName::EnableKey => Some("Enabled"),
            _ => None,
        }
    }
}

/// Who made a call, as CloudTrail's `userIdentity` says.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Actor {
    /// `userIdentity.type`: `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `AWSService`...
    #[serde(rename = "type")]
    pub kind: String,
    /// `userIdentity.arn`: for a role, the session ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// For role sessions, the role behind the session (`sessionContext.sessionIssuer.arn`
    /// when the issuer is a role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// For an AWS STS federated user session, the IAM user that called GetFederationToken
    /// (`sessionContext.sessionIssuer.arn` when the issuer is a user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_user_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `invokedBy`, for calls an AWS service made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

impl Actor {
    /// The principal to show: the role behind a session, else the ARN, else the type.
    pub fn principal(&self) -> String {
        self.role_arn
            .clone()
            .or_else(|| self.arn.clone())
            .or_else(|| self.invoked_by.clone())
            .unwrap_or_else(|| self.kind.clone())
    }

    /// The session name of a role session (`assumed-role/ROLE/SESSION`): who acted, often a
    /// person's name or e-mail.
    pub fn session_name(&self) -> Option<&str> {
        let arn = self.arn.as_deref()?;
        let (_, resource) = arn.split_once(":assumed-role/")?;
        let (_, session) = resource.split_once('/')?;
        (!session.is_empty()).then_some(session)
    }

    /// The principal and, for a role session, its session name: `ROLE (session NAME)`.
    pub fn who(&self) -> String {
        match (self.session_name(), &self.issuer_user_arn) {
            (Some(s), _) => format!("{} (session {s})", self.principal()),
            (None, Some(u)) => format!("{} (issued by IAM user {u})", self.principal()),
            (None, None) => self.principal(),
        }
    }
}

/// A CreateKey or PutKeyPolicy call, from one CloudTrail record.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyEvent {
    pub event_id: String,
    pub name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    /// The region of the key the event sets the policy of: the event's own region, but for
    /// ReplicateKey the replica's (`requestParameters.replicaRegion`). Related multi-Region
    /// keys share their key id, and each has its own policy (KMS guide, "Multi-Region keys").
    pub applies_in: Option<String>,
    /// The account the event was recorded in (`recipientAccountId`).
    pub account: Option<String>,
    /// Every way the record names the key: `requestParameters.keyId` (id, ARN or alias as
    /// given), `resources[].ARN`, `responseElements.keyMetadata.keyId/arn`.
    pub key_refs: Vec<String>,
    /// `requestParameters.policy`; `None` for a CreateKey without one (the default policy).
    pub policy: Option<String>,
    pub policy_name: Option<String>,
    pub bypass_lockout_check: bool,
    /// ScheduleKeyDeletion: when the key is deleted (`responseElements.deletionDate`, else
    /// the event's time plus `requestParameters.pendingWindowInDays`).
    pub deletion_date: Option<DateTime<Utc>>,
    /// ScheduleKeyDeletion: `responseElements.keyState` (`PendingReplicaDeletion` for a
    /// primary with replicas), when the record says it.
    pub key_state: Option<String>,
    /// `errorCode` of a failed call: it changed nothing.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Where the record came from: index of the record in its file.
    pub record_index: usize,
    /// The record itself, as JSON text (kept for policy events only, to save them again).
    pub raw: Option<String>,
    /// CreateGrant, RetireGrant, RevokeGrant: the grant it made or ended.
    pub grant: Option<GrantCall>,
}

/// What a grant event says of its grant (CloudTrail entries "CreateGrant", "RetireGrant",
/// "RevokeGrant" of the KMS Developer Guide).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantCall {
    /// `responseElements.grantId` (CreateGrant), `requestParameters.grantId` (RevokeGrant,
    /// RetireGrant by key and id), `additionalEventData.grantId` (RetireGrant).
    pub grant_id: Option<String>,
    /// CreateGrant: `granteePrincipal` (an ARN, an AWS service principal, or a principal id).
    pub grantee: Option<String>,
    /// CreateGrant: `retiringPrincipal`.
    pub retiring: Option<String>,
    /// CreateGrant: the operations, as the request names them (`Decrypt`, `Encrypt`...).
    pub operations: Vec<String>,
    /// CreateGrant: `constraints`, as compact JSON (`encryptionContextSubset` or
    /// `encryptionContextEquals`): the grant works only for requests with that context.
    pub constraints: Option<String>,
}

impl PolicyEvent {
    /// Whether the record is about `key`. A key ARN in it names the key outright; a bare key
    /// id names a key of the account the record was delivered to (`recipientAccountId`), so
    /// another account's key of the same id, or a record whose own ARNs name another
    /// account, is not this key (key ids are unique only within an account and region).
    pub fn is_for(&self, key: &crate::analysis::lockout::KeyRef) -> bool {
        use crate::analysis::aws_ids::Arn;
        // Most records of a trail are about other keys: the cheap test first.
        if !self.key_refs.iter().any(|r| key.matches(r)) {
            return false;
        }
        if self
            .key_refs
            .iter()
            .any(|r| r.starts_with("arn:") && key.matches(r))
        {
            return true;
        }
        let arns: Vec<Arn<'_>> = self
            .key_refs
            .iter()
            .filter_map(|r| Arn::parse(r).filter(|a| a.service == "kms"))
            .collect();
        let Some(account) = key.account.as_deref() else {
            return true;
        };
        let others = arns
            .iter()
            .any(|a| !a.account.is_empty() && a.account != account);
        let delivered_elsewhere = self.account.as_deref().is_some_and(|a| a != account);
        !others && !delivered_elsewhere
    }
}

/// What reading the trail's log files in S3 amounted to.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ArchiveSummary {
    /// Where the logs are: `s3://BUCKET/.../CloudTrail/REGION/ (trail ARN)`.
    pub location: String,
    /// The days read, newest first: the first and the last (`YYYY-MM-DD`).
    pub newest_day: Option<String>,
    pub oldest_day: Option<String>,
    pub days: u32,
    pub list_calls: u32,
    pub get_calls: u32,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
    pub records: u64,
    /// Policy events of the key found there.
    pub events: u32,
    /// Whether the history reached the key's creation or a version that was `ok`.
    pub settled: bool,
    /// Log files that gave records, checked against the trail's digest files.
    pub digests_checked: u32,
    /// What the digest files themselves were found to be: their signatures and chain
    /// (`--history s3` with log file validation on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<DigestValidation>,
    /// Whose credentials read the archive: "the run's credentials", or the role and
    /// profile `--archive-role-arn` and `--archive-profile` named.
    #[serde(default)]
    pub credentials: String,
    /// `s3` (the trail's files read by kmsdoctor) or `athena` (one query).
    #[serde(default)]
    pub method: String,
    /// Athena: the query's id, what kmsdoctor estimated it would scan (the sizes of the
    /// account's, region's and days' files), what Athena says it scanned, and how long it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_millis: Option<u64>,
}

/// How far the trail's digest files were validated, as CloudTrail defines it (each digest's
/// RSA signature with CloudTrail's public key of its period, the chain of digests through
/// `previousDigestSignature`, each log file's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DigestValidation {
    /// Digest files read, hourly and backfill.
    pub digests: u32,
    /// Of those, backfill digests (files an hourly digest missed, delivered later).
    pub backfill_digests: u32,
    /// Digests whose signature verified.
    pub signatures_verified: u32,
    /// Links of the chain checked and found whole: a digest's record of the digest before
    /// it (signature and SHA-256), both read.
    pub chain_links_verified: u32,
    /// The hours the verified digests cover: the first one's start and the last one's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_to: Option<String>,
    /// Log files that gave records whose SHA-256 a verified digest lists.
    pub log_files_verified: u32,
}

#[cfg(test)]
mod tests {
    use super::Actor;

    fn actor(arn: &str, role: Option<&str>) -> Actor {
        Actor {
            kind: "AssumedRole".into(),
            arn: Some(arn.into()),
            role_arn: role.map(str::to_string),
            issuer_user_arn: None,
            account_id: None,
            invoked_by: None,
        }
    }

    #[test]
    fn who_names_the_session_of_a_role() {
        let a = actor(
            "arn:aws:sts::111122223333:assumed-role/Admin/jane@example.com",
            Some("arn:aws:iam::111122223333:role/Admin"),
        );
        assert_eq!(a.session_name(), Some("jane@example.com"));
        assert_eq!(
            a.who(),
            "arn:aws:iam::111122223333:role/Admin (session jane@example.com)"
        );
        let u = Actor {
            kind: "IAMUser".into(),
            ..actor("arn:aws:iam::111122223333:user/ops", None)
        };
        assert_eq!(u.session_name(), None);
        assert_eq!(u.who(), "arn:aws:iam::111122223333:user/ops");
        // A role path: the session is the last part.
        let p = actor("arn:aws:sts::111122223333:assumed-role/Admin/", None);
        assert_eq!(p.session_name(), None);
    }
}
