//! CloudTrail records decoded into policy events: the KMS key-policy events (CreateKey,
//! PutKeyPolicy) found in the text of a CloudTrail file, whatever its shape:
//!
//! - `aws cloudtrail lookup-events` output, `{"Events": [{"EventId", "EventTime",
//!   "CloudTrailEvent": "<record as a JSON string>", ...}]}` (CLI v2 prints `EventTime` as
//!   ISO 8601, v1 as epoch seconds);
//! - a trail log file, `{"Records": [record, ...]}`;
//! - JSON Lines, one record per line (what Athena or `jq -c` exports give).
//!
//! Pure: bytes in, events out. A file that is not CloudTrail at all is an error naming the
//! place; a record inside a good file that cannot be read is counted and skipped.
//!
//! Speed matters here (a trail can hold gigabytes of records): records are first taken as
//! raw JSON slices without building values, and only those that can be KMS policy events (a
//! cheap substring test) are parsed in full.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::analysis::condition::parse_date;
use crate::analysis::events::{Actor, EventName, GrantCall, PolicyEvent};
use crate::analysis::locate::{json_error, position_of, Position};

/// What one file held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrailScan {
    pub events: Vec<PolicyEvent>,
    /// Records read, of any kind.
    pub records: u64,
    /// Records that could not be read (not an object, no time, a broken embedded record).
    pub unreadable: u64,
    /// The first of them (at most [`SKIPPED_SAID`]): where, which event when it can be
    /// told, and why, so that a skipped PutKeyPolicy is not lost behind a count.
    pub skipped: Vec<Skipped>,
}

/// The most skipped records described one by one (the rest are counted).
pub const SKIPPED_SAID: usize = 20;

/// A record that was skipped: its place in the file (0-based), the event's name and id
/// when the text names them, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub event: Option<String>,
    pub reason: &'static str,
}

impl Skipped {
    /// `record 3 (PutKeyPolicy 1a2b...): the policy event has no readable time`.
    pub fn words(&self) -> String {
        format!(
            "record {}{}: {}",
            self.index + 1,
            self.event
                .as_deref()
                .map(|e| format!(" ({})", crate::analysis::escape::visible(e)))
                .unwrap_or_default(),
            self.reason
        )
    }
}

impl TrailScan {
    fn skip(&mut self, index: usize, raw: &str, reason: &'static str) {
        self.unreadable += 1;
        if self.skipped.len() < SKIPPED_SAID {
            self.skipped.push(Skipped {
                index,
                event: event_named(raw),
                reason,
            });
        }
    }
}

/// The event's name and id as a record's text names them, without parsing it (it may not
/// parse): `PutKeyPolicy 0a1b2c3d-...`.
fn event_named(raw: &str) -> Option<String> {
    let value_of = |field: &str| -> Option<String> {
        let at = raw.find(field)? + field.len();
        let rest = raw[at..].trim_start_matches(['\\', '"', ':', ' ', '\t', '\n', '\r']);
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let v = &rest[..end.min(64)];
        (!v.is_empty()).then(|| v.to_string())
    };
    let name = value_of("eventName")?;
    Some(match value_of("eventID") {
        Some(id) => format!("{name} {id}"),
        None => name,
    })
}

/// A record that cannot be read (broken JSON, a policy event without a readable time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the CloudTrail record cannot be read")]
pub struct UnreadableRecord;

/// A file that is not CloudTrail evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TrailError {
    pub message: String,
    pub position: Option<Position>,
}

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(rename = "Records", borrow, default)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(rename = "Events", borrow, default)]
    events: Option<Vec<&'a RawValue>>,
}

/// Parses one CloudTrail file's text.
pub fn scan(text: &str) -> Result<TrailScan, TrailError> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(TrailError {
            message: "the file is empty: expected CloudTrail records".into(),
            position: None,
        });
    }
    if !trimmed.starts_with('{') {
        return Err(TrailError {
            message: "expected CloudTrail evidence: a JSON object (`{\"Records\": ...}`, lookup-events output, or JSON Lines of records)".into(),
            position: Some(position_of(text, text.len() - trimmed.len())),
        });
    }
    let mut out = TrailScan::default();
    match serde_json::from_str::<Document>(text) {
        Ok(Document {
            records: Some(records),
            ..
        }) => {
            for (i, raw) in records.iter().enumerate() {
                out.records += 1;
                read_record(raw.get(), i, &mut out);
            }
            Ok(out)
        }
        Ok(Document {
            events: Some(events),
            ..
        }) => {
            for (i, raw) in events.iter().enumerate() {
                out.records += 1;
                read_lookup_event(raw.get(), i, &mut out);
            }
            Ok(out)
        }
        // One object that is neither: a single record (JSON Lines of one line) or not
        // CloudTrail at all.
        Ok(Document { .. }) => {
            if looks_like_record(trimmed) {
                out.records += 1;
                read_record(trimmed, 0, &mut out);
                Ok(out)
            } else {
                // A policy given where events belong: say where it goes.
                let policy = serde_json::from_str::<serde_json::Value>(trimmed)
                    .ok()
                    .is_some_and(|v| v.get("Statement").is_some() || v.get("Policy").is_some());
                Err(TrailError {
                    message: if policy {
                        "this is a policy document (it has `Statement` or `Policy`), not CloudTrail evidence: give a key policy with --policy-file".into()
                    } else {
                        "no `Records` or `Events` array and not a CloudTrail record: this is not CloudTrail evidence".into()
                    },
                    position: Some(position_of(text, text.len() - trimmed.len())),
                })
            }
        }
        Err(e)
            if e.classify() == serde_json::error::Category::Syntax
                && e.to_string().starts_with("trailing characters") =>
        {
            scan_lines(text)
        }
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            let (message, position) = json_error(&e);
            Err(TrailError {
                message: format!(
                    "`Records` and `Events` must be arrays of CloudTrail records ({message})"
                ),
                position,
            })
        }
        Err(e) => {
            let (message, position) = json_error(&e);
            Err(TrailError {
                message: format!("invalid JSON: {message}"),
                position,
            })
        }
    }
}

fn looks_like_record(text: &str) -> bool {
    text.contains("\"eventName\"") && text.contains("\"eventTime\"")
}

/// JSON Lines: every non-blank line one record. A line that cannot be read is counted.
fn scan_lines(text: &str) -> Result<TrailScan, TrailError> {
    let mut out = TrailScan::default();
    let mut offset = 0;
    for (i, line) in text.split('\n').enumerate() {
        let start = offset;
        offset += line.len() + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.records += 1;
        if serde_json::from_str::<&RawValue>(line).is_err() || !line.starts_with('{') {
            if out.records == 1 {
                // The first line decides whether this is JSON Lines at all.
                return Err(TrailError {
                    message: "neither a JSON document nor JSON Lines of CloudTrail records".into(),
                    position: Some(position_of(text, start)),
                });
            }
            out.skip(i, line, "not a JSON object");
            continue;
        }
        read_record(line, i, &mut out);
    }
    Ok(out)
}

/// A cheap test that a record can be a KMS policy event, before parsing it.
fn may_be_policy_event(raw: &str) -> bool {
    raw.contains("kms.amazonaws.com") && names_an_event_read(raw)
}

/// Whether an `eventName` in the text (a record, or a LookupEvents answer whose record is an
/// escaped string: `\"eventName\":\"PutKeyPolicy\"`) names one of the events read. One
/// pass over the text, not one per event name; the full parse decides.
pub(crate) fn names_an_event_read(raw: &str) -> bool {
    raw.match_indices("eventName").any(|(at, m)| {
        let rest = raw[at + m.len()..].trim_start_matches(['\\', '"', ':', ' ', '\t', '\n', '\r']);
        let name = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest, |end| &rest[..end]);
        EventName::parse(name).is_some()
    })
}

fn read_lookup_event(raw: &str, index: usize, out: &mut TrailScan) {
    if !may_be_policy_event(raw) {
        return;
    }
    let Ok(Value::Object(ev)) = serde_json::from_str::<Value>(raw) else {
        out.skip(index, raw, "the lookup event is not a JSON object");
        return;
    };
    let Some(Value::String(record)) = ev.get("CloudTrailEvent") else {
        out.skip(index, raw, "the lookup event has no CloudTrailEvent");
        return;
    };
    // CLI v2 prints EventTime as ISO 8601, v1 as epoch seconds.
    let time = match ev.get("EventTime") {
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|f| DateTime::from_timestamp(f as i64, 0)),
        Some(Value::String(s)) => parse_date(s),
        _ => None,
    };
    let id = ev.get("EventId").and_then(Value::as_str);
    match lookup_event(id, time, record, index) {
        Ok(Some(e)) => out.events.push(e),
        Ok(None) => {}
        Err(UnreadableRecord) => out.skip(
            index,
            record,
            "the policy event cannot be read (no readable time, or a broken record)",
        ),
    }
}

/// One event of a `LookupEvents` reply: its id and time as the lookup gives them, and the
/// record (`CloudTrailEvent`) as a JSON string. `Ok(None)` for an event of another kind,
/// `Err` for a record that cannot be read.
pub fn lookup_event(
    event_id: Option<&str>,
    event_time: Option<DateTime<Utc>>,
    record: &str,
    index: usize,
) -> Result<Option<PolicyEvent>, UnreadableRecord> {
    let Ok(Value::Object(mut rec)) = serde_json::from_str::<Value>(record) else {
        return Err(UnreadableRecord);
    };
    // The record's own time is exact; fall back to the lookup's.
    if !rec.contains_key("eventTime") {
        if let Some(t) = event_time {
            rec.insert("eventTime".into(), Value::String(t.to_rfc3339()));
        }
    }
    if let Some(id) = event_id {
        rec.entry("eventID")
            .or_insert_with(|| Value::String(id.to_string()));
    }
    policy_event(&Value::Object(rec), index)
}

fn read_record(raw: &str, index: usize, out: &mut TrailScan) {
    if !raw.trim_start().starts_with('{') {
        out.skip(index, raw, "not a JSON object");
        return;
    }
    if !may_be_policy_event(raw) {
        return;
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(rec @ Value::Object(_)) => match policy_event(&rec, index) {
            Ok(Some(e)) => out.events.push(e),
            Ok(None) => {}
            Err(UnreadableRecord) => out.skip(
                index,
                raw,
                "the policy event cannot be read (no readable time, or a broken record)",
            ),
        },
        _ => out.skip(index, raw, "not valid JSON"),
    }
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Builds the event from a parsed record: `Ok(None)` for a record of another kind,
/// `Err` for a policy event that cannot be read.
fn policy_event(r: &Value, index: usize) -> Result<Option<PolicyEvent>, UnreadableRecord> {
    if str_at(r, &["eventSource"]) != Some("kms.amazonaws.com") {
        return Ok(None);
    }
    let Some(name) = str_at(r, &["eventName"]).and_then(EventName::parse) else {
        return Ok(None);
    };
    let time = str_at(r, &["eventTime"])
        .and_then(parse_date)
        .ok_or(UnreadableRecord)?;
    let event_id = str_at(r, &["eventID"]).unwrap_or_default().to_string();
    let ui = r.get("userIdentity");
    // The session's issuer: a role (a role session) or an IAM user (a federated user
    // session, GetFederationToken). By its type, else by its ARN.
    let issuer = |kind: &str| {
        let i = ui.and_then(|u| u.pointer("/sessionContext/sessionIssuer"))?;
        let arn = i.get("arn").and_then(Value::as_str)?;
        let is = match i.get("type").and_then(Value::as_str) {
            Some(t) => t == kind,
            None => arn.contains(if kind == "Role" { ":role/" } else { ":user/" }),
        };
        is.then(|| arn.to_string())
    };
    let actor = Actor {
        kind: ui
            .and_then(|u| u.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .to_string(),
        arn: ui
            .and_then(|u| u.get("arn"))
            .and_then(Value::as_str)
            .map(str::to_string),
        role_arn: issuer("Role"),
        issuer_user_arn: issuer("IAMUser"),
        account_id: ui
            .and_then(|u| u.get("accountId"))
            .and_then(Value::as_str)
            .map(str::to_string),
        invoked_by: ui
            .and_then(|u| u.get("invokedBy"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let params = r.get("requestParameters").filter(|p| p.is_object());
    let mut key_refs = Vec::new();
    if let Some(k) = params.and_then(|p| p.get("keyId")).and_then(Value::as_str) {
        key_refs.push(k.to_string());
    }
    if let Some(Value::Array(res)) = r.get("resources") {
        for item in res {
            if let Some(a) = item.get("ARN").and_then(Value::as_str) {
                key_refs.push(a.to_string());
            }
        }
    }
    for p in [
        "/responseElements/keyMetadata/keyId",
        "/responseElements/keyMetadata/arn",
        "/responseElements/replicaKeyMetadata/keyId",
        "/responseElements/replicaKeyMetadata/arn",
    ] {
        if let Some(k) = r.pointer(p).and_then(Value::as_str) {
            key_refs.push(k.to_string());
        }
    }
    key_refs.dedup();
    // The replica's policy as KMS applied it, else as requested (else the default).
    let replica_policy = (name == EventName::ReplicateKey)
        .then(|| r.pointer("/responseElements/replicaPolicy"))
        .flatten()
        .filter(|v| v.is_string());
    let policy = match replica_policy.or_else(|| params.and_then(|p| p.get("policy"))) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        // Some exports store the policy as an object rather than a string.
        Some(other @ Value::Object(_)) => Some(other.to_string()),
        Some(_) => return Err(UnreadableRecord),
    };
    let bypass = match params.and_then(|p| p.get("bypassPolicyLockoutSafetyCheck")) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    // ScheduleKeyDeletion's date: the record's `deletionDate` is not always ISO 8601 (the
    // guide's sample says "Apr 12, 2021 18:58:30 PM"); it is the call's time plus the
    // waiting period, which the request holds (7–30 days, 30 when not given: API reference).
    let (deletion_date, key_state) = if name == EventName::ScheduleKeyDeletion {
        let window = params
            .and_then(|p| p.get("pendingWindowInDays"))
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .filter(|d| (1..=365).contains(d))
            .unwrap_or(30);
        let date = str_at(r, &["responseElements", "deletionDate"])
            .and_then(parse_date)
            .unwrap_or(time + chrono::Duration::days(window));
        let state = str_at(r, &["responseElements", "keyState"])
            .filter(|s| crate::analysis::key_state::fact(s).is_some())
            .map(str::to_string);
        (Some(date), state)
    } else {
        (None, None)
    };
    if let Some(k) = r.pointer("/responseElements/keyId").and_then(Value::as_str) {
        if !key_refs.iter().any(|x| x == k) {
            key_refs.push(k.to_string());
        }
    }
    let grant = name.is_grant().then(|| {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        GrantCall {
            grant_id: text(r.pointer("/responseElements/grantId"))
                .or_else(|| text(params.and_then(|p| p.get("grantId"))))
                .or_else(|| text(r.pointer("/additionalEventData/grantId"))),
            grantee: text(params.and_then(|p| p.get("granteePrincipal"))),
            retiring: text(params.and_then(|p| p.get("retiringPrincipal"))),
            operations: params
                .and_then(|p| p.get("operations"))
                .and_then(Value::as_array)
                .map(|ops| {
                    ops.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            constraints: params
                .and_then(|p| p.get("constraints"))
                .filter(|c| c.is_object())
                .map(Value::to_string),
        }
    });
    Ok(Some(PolicyEvent {
        grant,
        deletion_date,
        key_state,
        event_id,
        name,
        time,
        actor,
        source_ip: str_at(r, &["sourceIPAddress"]).map(str::to_string),
        user_agent: str_at(r, &["userAgent"]).map(str::to_string),
        region: str_at(r, &["awsRegion"]).map(str::to_string),
        applies_in: match name {
            EventName::ReplicateKey => params
                .and_then(|p| p.get("replicaRegion"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => str_at(r, &["awsRegion"]).map(str::to_string),
        },
        account: str_at(r, &["recipientAccountId"]).map(str::to_string),
        key_refs,
        policy,
        policy_name: params
            .and_then(|p| p.get("policyName"))
            .and_then(Value::as_str)
            .map(str::to_string),
        bypass_lockout_check: bypass,
        error_code: str_at(r, &["errorCode"]).map(str::to_string),
        error_message: str_at(r, &["errorMessage"]).map(str::to_string),
        record_index: index,
        raw: Some(r.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_record(id: &str, time: &str, extra: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin"}}}}}},"eventTime":"{time}","eventSource":"kms.amazonaws.com","eventName":"PutKeyPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"aws-cli/2.15.0","requestParameters":{{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","policyName":"default","policy":"{{\"Statement\":[]}}","bypassPolicyLockoutSafetyCheck":false}},"responseElements":null,"eventID":"{id}","resources":[{{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}],"recipientAccountId":"111122223333"{extra}}}"#
        )
    }

    /// Issue 25: a federated user's issuer is an IAM user, not a role.
    #[test]
    fn a_federated_users_issuer_is_an_iam_user() {
        let rec = put_record("f", "2026-01-01T00:00:00Z", "").replace(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin"}}}"#,
            r#"{"type":"FederatedUser","arn":"arn:aws:sts::111122223333:federated-user/bob","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/federator"}}}"#,
        );
        let e = scan(&rec).unwrap().events.remove(0);
        assert_eq!(e.actor.role_arn, None);
        assert_eq!(
            e.actor.issuer_user_arn.as_deref(),
            Some("arn:aws:iam::111122223333:user/federator")
        );
        assert_eq!(
            e.actor.who(),
            "arn:aws:sts::111122223333:federated-user/bob (issued by IAM user arn:aws:iam::111122223333:user/federator)"
        );
    }

    /// Issue 25: a record that names the key by a bare id belongs to the key of the account
    /// it was delivered to; another account's key of the same id is not this one.
    #[test]
    fn a_bare_key_id_of_another_account_is_not_this_key() {
        use crate::analysis::lockout::KeyRef;
        let here = KeyRef::parse(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        let read = |text: &str| scan(text).unwrap().events.remove(0);
        // Delivered here, with the key's ARN: this key.
        assert!(read(&put_record("a", "2026-01-01T00:00:00Z", "")).is_for(&here));
        // The same record from another account: its ARN and recipient say so.
        let other =
            put_record("b", "2026-01-01T00:00:00Z", "").replace("111122223333", "444455556666");
        assert!(!read(&other).is_for(&here));
        // A bare id only, delivered to another account: not this key either.
        let bare = other.replace(
            r#""resources":[{"accountId":"444455556666","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"}],"#,
            "",
        );
        assert!(!bare.contains("resources"), "{bare}");
        assert!(!read(&bare).is_for(&here));
        // A bare id and no account said: taken for this key, as before.
        let unknown = bare.replace(r#","recipientAccountId":"444455556666""#, "");
        assert!(read(&unknown).is_for(&here));
    }

    #[test]
    fn the_prefilter_reads_the_event_name_in_a_record_and_in_a_lookup_answer() {
        assert!(names_an_event_read(
            r#"{"eventName": "ScheduleKeyDeletion"}"#
        ));
        assert!(names_an_event_read(
            r#"{"CloudTrailEvent":"{\"eventName\":\"EnableKey\"}"}"#
        ));
        assert!(!names_an_event_read(
            r#"{"eventName":"Decrypt","x":"CreateKey"}"#
        ));
        assert!(!names_an_event_read(r#"{"eventName":"EnableKeyRotation"}"#));
        assert!(!names_an_event_read(r#"{"x":"PutKeyPolicy"}"#));
    }

    /// A ScheduleKeyDeletion whose date is not ISO 8601 (the guide's sample) or whose window
    /// is missing or nonsense: the date is the call's time plus the window, else 30 days.
    #[test]
    fn a_schedule_key_deletion_gets_its_date_whatever_the_record_says() {
        let rec = |window: &str, date: &str| {
            serde_json::json!({
                "eventSource": "kms.amazonaws.com", "eventName": "ScheduleKeyDeletion",
                "eventTime": "2026-11-20T01:10:00Z", "eventID": "ev",
                "requestParameters": {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                    "pendingWindowInDays": serde_json::from_str::<Value>(window).unwrap()},
                "responseElements": {"deletionDate": date, "keyState": "Frozen\u{1b}"}
            })
        };
        let date = |window: &str, d: &str| {
            policy_event(&rec(window, d), 0)
                .unwrap()
                .unwrap()
                .deletion_date
                .unwrap()
                .to_rfc3339()
        };
        assert_eq!(
            date("7", "Nov 27, 2026 01:10:00 AM"),
            "2026-11-27T01:10:00+00:00"
        );
        assert_eq!(date("\"7\"", "?"), "2026-11-27T01:10:00+00:00");
        assert_eq!(date("\"abc\"", "?"), "2026-12-20T01:10:00+00:00");
        assert_eq!(date("-3", "?"), "2026-12-20T01:10:00+00:00");
        assert_eq!(
            date("7", "2026-11-28T00:00:00Z"),
            "2026-11-28T00:00:00+00:00"
        );
        // A state the table does not have is not taken from the record.
        let e = policy_event(&rec("7", "?"), 0).unwrap().unwrap();
        assert_eq!(e.key_state, None);
    }

    #[test]
    fn reads_a_trail_log_file() {
        let noise = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-01-01T00:00:00Z"}"#;
        let text = format!(
            r#"{{"Records":[{},{noise},{}]}}"#,
            put_record("e1", "2026-01-02T03:04:05Z", ""),
            put_record(
                "e2",
                "2026-01-03T00:00:00Z",
                r#","errorCode":"AccessDenied""#
            )
        );
        let scan = scan(&text).unwrap();
        assert_eq!(scan.records, 3);
        assert_eq!(scan.events.len(), 2);
        let e = &scan.events[0];
        assert_eq!(e.name, EventName::PutKeyPolicy);
        assert_eq!(
            e.actor.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        assert_eq!(e.policy.as_deref(), Some("{\"Statement\":[]}"));
        assert_eq!(e.key_refs.len(), 2);
        assert_eq!(scan.events[1].error_code.as_deref(), Some("AccessDenied"));
    }

    #[test]
    fn reads_lookup_events_output_v1_and_v2() {
        let rec = put_record("e1", "2026-01-02T03:04:05Z", "");
        let v2 = serde_json::json!({"Events": [{"EventId": "e1", "EventName": "PutKeyPolicy", "EventTime": "2026-01-02T03:04:05+00:00", "CloudTrailEvent": rec}]}).to_string();
        assert_eq!(scan(&v2).unwrap().events.len(), 1);
        // v1 prints epoch seconds; a record without eventTime takes it from there.
        let rec_no_time = rec.replace(r#""eventTime":"2026-01-02T03:04:05Z","#, "");
        let v1 = serde_json::json!({"Events": [{"EventId": "e1", "EventTime": 1767323045.0, "CloudTrailEvent": rec_no_time}]}).to_string();
        let s = scan(&v1).unwrap();
        assert_eq!(s.events[0].time.to_rfc3339(), "2026-01-02T03:04:05+00:00");
    }

    #[test]
    fn reads_json_lines_and_counts_broken_lines() {
        let text = format!(
            "{}\n{{broken\n\n{}\n",
            put_record("e1", "2026-01-02T03:04:05Z", ""),
            put_record("e2", "2026-01-02T04:00:00Z", "")
        );
        let s = scan(&text).unwrap();
        assert_eq!((s.records, s.unreadable, s.events.len()), (3, 1, 2));
    }

    #[test]
    fn unreadable_policy_records_are_counted() {
        let bad_time = put_record("e1", "yesterday", "");
        let s = scan(&format!(r#"{{"Records":[{bad_time}, 5]}}"#)).unwrap();
        assert_eq!((s.records, s.unreadable, s.events.len()), (2, 2, 0));
    }

    #[test]
    fn rejects_what_is_not_cloudtrail() {
        for (text, needle) in [
            ("", "empty"),
            ("[1,2]", "expected CloudTrail evidence"),
            ("{\"Records\": 5}", "must be arrays"),
            ("{\"foo\": 1}", "not CloudTrail evidence"),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": []}",
                "give a key policy with --policy-file",
            ),
            (
                "{\"Policy\": \"{}\"}",
                "give a key policy with --policy-file",
            ),
            ("{\"Records\": [", "invalid JSON"),
            ("not json", "expected CloudTrail evidence"),
        ] {
            let e = scan(text).unwrap_err();
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }
}
