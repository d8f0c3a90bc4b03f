//! The key's policy history: the versions CloudTrail recorded (with the verdict each gets on
//! its own), the calls that failed, and the lockout event: the change after which the policy
//! stopped being `ok` and stayed so.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::assess::Verdict;
use super::causes::what_changed;
use super::delegation::{default_policy, Setting};
use super::key::KeyRef;
use crate::analysis::events::{Actor, EventName, PolicyEvent};
use crate::analysis::policy::{parse_policy, Policy, PolicyKind};
use crate::analysis::rules::{
    Finding, BYPASSED_CHECK, FAILED_CHANGE, ORDER_UNCERTAIN, UNREADABLE_VERSION,
};

/// One applied version of the key policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersion {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub bypass_lockout_check: bool,
    /// True when CreateKey had no policy and KMS applied its default.
    pub default_policy: bool,
    /// The verdict this version gets on its own; `unknown` when it cannot be read.
    pub verdict: Verdict,
    /// The policy as applied (empty when the record has none), and parsed when it can be.
    #[serde(skip)]
    pub policy_text: String,
    #[serde(skip)]
    pub policy: Option<Policy>,
}

/// A failed CreateKey/PutKeyPolicy: changed nothing, but tells what someone tried.
#[derive(Debug, Clone, Serialize)]
pub struct FailedChange {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    pub error_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// A change of the key's state (ScheduleKeyDeletion, CancelKeyDeletion, DisableKey,
/// EnableKey), next to the policy changes in the key's story.
#[derive(Debug, Clone, Serialize)]
pub struct StateChange {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The state the call left the key in (none when it failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ScheduleKeyDeletion: when the key is to be deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<DateTime<Utc>>,
    /// A failed call changed nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// The key's state changes among its events, oldest first.
pub(super) fn state_changes(mine: &[&PolicyEvent]) -> Vec<StateChange> {
    mine.iter()
        .filter(|e| e.name.changes_state())
        .map(|e| StateChange {
            event_id: e.event_id.clone(),
            event_name: e.name,
            time: e.time,
            actor: e.actor.clone(),
            source_ip: e.source_ip.clone(),
            state: match &e.error_code {
                Some(_) => None,
                None => e
                    .key_state
                    .clone()
                    .or_else(|| e.name.leaves_state().map(str::to_string)),
            },
            deletion_date: e.deletion_date.filter(|_| e.error_code.is_none()),
            error_code: e.error_code.clone(),
        })
        .collect()
}

/// The event after which the policy stopped being `ok` and stayed so.
#[derive(Debug, Clone, Serialize)]
pub struct LockoutEvent {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    pub principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    pub bypass_lockout_check: bool,
}

/// The key's own events, oldest first, each once. An event counts for the key only in the
/// key's region: multi-Region keys share their id, and a PutKeyPolicy on a replica is not the
/// primary's (a ReplicateKey, logged in the primary's region, is the replica's creation).
/// Events of the same second keep the order the evidence gave them.
pub(super) fn events_of<'e>(key: &KeyRef, events: &'e [PolicyEvent]) -> Vec<&'e PolicyEvent> {
    let mut mine: Vec<&PolicyEvent> = events
        .iter()
        .filter(|e| e.is_for(key))
        .filter(|e| match (&key.region, &e.applies_in) {
            (Some(k), Some(r)) => k == r,
            // Whose replica a ReplicateKey made cannot be told without the key's region.
            _ => e.name != EventName::ReplicateKey,
        })
        .collect();
    mine.sort_by_key(|e| e.time);
    let mut seen = std::collections::HashSet::new();
    mine.retain(|e| e.event_id.is_empty() || seen.insert(e.event_id.as_str()));
    mine
}

/// KL216: applied versions recorded in the same second, whose order is not certain.
pub(super) fn same_second_findings(history: &[PolicyVersion]) -> Vec<Finding> {
    history
        .windows(2)
        .filter(|w| w[0].time == w[1].time)
        .map(|w| {
            Finding::new(
                ORDER_UNCERTAIN,
                format!(
                    "events {} and {} set the policy in the same second ({}): CloudTrail times have one-second precision, so which came last is taken from the order of the evidence",
                    w[0].event_id,
                    w[1].event_id,
                    w[1].time.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            )
            .at_event(&w[1].event_id)
        })
        .collect()
}

/// The applied versions and the failed changes among the key's events. `verdict_of` judges a
/// readable version (`None` when the key's account is unknown).
pub(super) fn versions(
    mine: &[&PolicyEvent],
    account: Option<&str>,
    partition: &str,
    verdict_of: impl Fn(&Policy) -> Option<Verdict>,
    findings: &mut Vec<Finding>,
) -> (Vec<PolicyVersion>, Vec<FailedChange>) {
    let mut history = Vec::new();
    let mut failed = Vec::new();
    for e in mine.iter().filter(|e| e.name.sets_policy()) {
        if let Some(code) = &e.error_code {
            failed.push(FailedChange {
                event_id: e.event_id.clone(),
                event_name: e.name,
                time: e.time,
                actor: e.actor.clone(),
                error_code: code.clone(),
                error_message: e.error_message.clone(),
            });
            continue;
        }
        if e.name == EventName::PutKeyPolicy
            && e.policy_name.as_deref().is_some_and(|n| n != "default")
        {
            continue;
        }
        let (text, is_default) = match (&e.policy, account) {
            (Some(p), _) => (p.clone(), false),
            (None, Some(acc)) if e.name.creates() => (default_policy(partition, acc), true),
            _ => (String::new(), false),
        };
        let parsed = parse_policy(&text, PolicyKind::Key, "key-policy");
        let (verdict, policy) = match parsed {
            Ok(p) => (verdict_of(&p).unwrap_or(Verdict::Unknown), Some(p)),
            // A CreateKey without a policy, for a key whose account is not known: the default
            // policy cannot be written out, and there is nothing wrong with the record.
            Err(_) if text.is_empty() && account.is_none() => (Verdict::Unknown, None),
            Err(err) => {
                findings.push(
                    Finding::new(
                        UNREADABLE_VERSION,
                        format!(
                            "the policy recorded by event {} cannot be read: {}",
                            e.event_id, err.message
                        ),
                    )
                    .at_event(&e.event_id),
                );
                (Verdict::Unknown, None)
            }
        };
        history.push(PolicyVersion {
            event_id: e.event_id.clone(),
            event_name: e.name,
            time: e.time,
            actor: e.actor.clone(),
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
            bypass_lockout_check: e.bypass_lockout_check,
            default_policy: is_default,
            verdict,
            policy_text: text,
            policy,
        });
    }
    (history, failed)
}

/// A finding for each failed change: it changed nothing, but tells what someone tried.
pub(super) fn failed_change_findings(failed: &[FailedChange]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for f in failed {
        findings.push(
            Finding::new(
                FAILED_CHANGE,
                format!(
                    "{} tried {} at {} and failed ({}): it changed nothing",
                    f.actor.principal(),
                    f.event_name.as_str(),
                    f.time.format("%Y-%m-%dT%H:%M:%SZ"),
                    f.error_code
                ),
            )
            .at_event(&f.event_id),
        );
    }
    findings
}

/// The lockout event: the first version after which every later version, and the current
/// policy, is not ok, when the one before it was ok (or it is the first). With a current
/// policy that differs from the last version, the change came from outside the evidence
/// (older than it, or not recorded), and no event is named.
pub(super) fn lockout_event(
    history: &[PolicyVersion],
    current: Option<&str>,
    account: Option<&str>,
    partition: &str,
    findings: &mut Vec<Finding>,
) -> Option<LockoutEvent> {
    let readable: Vec<&PolicyVersion> = history
        .iter()
        .filter(|v| v.verdict != Verdict::Unknown)
        .collect();
    let mut idx = readable.len();
    while idx > 0 && readable[idx - 1].verdict != Verdict::Ok {
        idx -= 1;
    }
    let current_matches_last = match (current, readable.last()) {
        (Some(text), Some(last)) => same_policy(text, &last.policy_text),
        (None, Some(_)) => true,
        _ => false,
    };
    if idx >= readable.len() || !current_matches_last {
        return None;
    }
    let v = readable[idx];
    if v.bypass_lockout_check {
        findings.push(
            Finding::new(
                BYPASSED_CHECK,
                format!(
                    "{} applied this policy with BypassPolicyLockoutSafetyCheck: KMS did not check that the caller could still change it",
                    v.actor.principal()
                ),
            )
            .at_event(&v.event_id),
        );
    }
    if idx > 0 {
        if let (Some(acc), Some(old), Some(new)) = (account, &readable[idx - 1].policy, &v.policy) {
            findings.extend(what_changed(old, new, acc, partition, &v.event_id));
        }
    }
    Some(LockoutEvent {
        event_id: v.event_id.clone(),
        event_name: v.event_name,
        time: v.time,
        principal: v.actor.principal(),
        actor: v.actor.clone(),
        source_ip: v.source_ip.clone(),
        bypass_lockout_check: v.bypass_lockout_check,
    })
}

/// Whether two policy texts are the same policy (same JSON, whatever the spacing).
fn same_policy(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Whether the history in `events` goes back far enough to diagnose the key: the current
/// policy (when readable) is `ok`, so no lockout needs explaining; or the history holds the
/// key's creation (a successful CreateKey, or the ReplicateKey that made this replica), or
/// an applied version that was `ok` on its own (the lockout came after it). Searching older
/// history, newest first, can stop once this holds.
///
/// Each event is judged on its own, so this holds of a list exactly when it holds of some
/// part of it: a caller that adds events may ask about the new ones only.
pub fn history_settled(
    key: &KeyRef,
    account: &str,
    now: DateTime<Utc>,
    current: Option<&Policy>,
    events: &[PolicyEvent],
) -> bool {
    let setting = super::Setting::new(key, account, now, None, None);
    if current.is_some_and(|p| super::assess(p, &setting).verdict == Verdict::Ok) {
        return true;
    }
    let mine = events_of(key, events);
    if mine
        .iter()
        .any(|e| e.error_code.is_none() && e.name.creates())
    {
        return true;
    }
    let (history, _) = versions(
        &mine,
        Some(account),
        key.partition(),
        |p| Some(super::assess(p, &setting).verdict),
        &mut Vec::new(),
    );
    history.iter().any(|v| v.verdict == Verdict::Ok)
}

/// One version of the key policy in a timeline: the version, what it changed from the one
/// before (statement by statement; the first version's statements are all added), and the
/// statements that let other accounts use the key (KL223), marked when this version is the
/// one that handed that use over.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry<'a> {
    #[serde(flatten)]
    pub version: &'a PolicyVersion,
    pub changes: Vec<crate::analysis::policy::diff::StatementChange>,
    /// What each statement lets another account do with the key, as KL223 says it.
    pub other_account_use: Vec<String>,
    /// Whether this version hands a use of the key to another account that the version
    /// before it did not.
    pub hands_to_other_account: bool,
}

/// The key policy's versions, oldest first, each with its changes and what it lets other
/// accounts do (judged in `setting`, the key's account).
pub fn timeline<'a>(
    versions: &'a [PolicyVersion],
    setting: &Setting<'_>,
) -> Vec<TimelineEntry<'a>> {
    build_timeline(versions, |p| {
        super::causes::other_account_use(p, setting)
            .into_iter()
            .map(|f| f.message)
            .collect()
    })
}

/// [`timeline`] when the key's account is not known: no account to call "other".
pub fn timeline_without_account(versions: &[PolicyVersion]) -> Vec<TimelineEntry<'_>> {
    build_timeline(versions, |_| Vec::new())
}

fn build_timeline<'a>(
    versions: &'a [PolicyVersion],
    other: impl Fn(&Policy) -> Vec<String>,
) -> Vec<TimelineEntry<'a>> {
    let mut out: Vec<TimelineEntry<'a>> = Vec::with_capacity(versions.len());
    let mut before_text = "";
    let mut before_use: Vec<String> = Vec::new();
    for v in versions {
        let uses = v.policy.as_ref().map(&other).unwrap_or_default();
        let hands = uses.iter().any(|u| !before_use.contains(u));
        out.push(TimelineEntry {
            version: v,
            changes: crate::analysis::policy::diff::diff(before_text, &v.policy_text),
            other_account_use: uses.clone(),
            hands_to_other_account: hands,
        });
        before_text = &v.policy_text;
        before_use = uses;
    }
    out
}
