//! The lockout diagnosis: from a key policy (current, or the last one CloudTrail saw applied)
//! and the key's policy history, the verdict, who can still get back in and under what, the
//! event that locked people out, and what it changed.
//!
//! One module per concept: the key reference (`key`), the delegation and the recovery call
//! every command shares (`delegation`), judging one policy (`assess`), who can recover
//! (`admins`), why it is not ok (`causes`), the history and lockout event (`history`), and
//! folding in what AWS said about principals (`live_facts`). This file puts them together.

pub mod admins;
pub mod assess;
mod causes;
pub mod data;
pub mod delegation;
pub mod history;
pub mod key;
pub mod live_facts;
mod view;

use serde::Serialize;

pub use admins::{AdminKind, CallerAccess, Existence, RecoverableAdmin};
pub use assess::{assess, Assessment, Verdict};
pub use delegation::{default_policy, Setting, DELEGATION_SID};
pub use history::{
    history_settled, timeline, timeline_without_account, FailedChange, LockoutEvent, PolicyVersion,
    StateChange, TimelineEntry,
};
pub use key::{KeyProperties, KeyRef, KeyRefError};
pub use live_facts::{apply_iam_facts, note_incomplete};
pub use view::generic;

use chrono::{DateTime, Utc};

use crate::analysis::aws_ids::Arn;
use crate::analysis::eval::Alternative;
use crate::analysis::events::{EventName, PolicyEvent};
use crate::analysis::key_state::KeyStatus;
use crate::analysis::policy::{Effect, Policy, PolicyDocument};
use crate::analysis::principal::{Caller, PrincipalEntry};
use crate::analysis::rules::{
    Finding, KEY_NOT_USABLE, KEY_PENDING_DELETION, NEWEST_UNREADABLE, OTHER_ACCOUNTS,
};

/// Where the policy used for the verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// Given as the current policy (a file, or read from KMS).
    Current,
    /// The last version CloudTrail recorded.
    History,
    None,
}

#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub key: KeyRef,
    pub verdict: Verdict,
    pub policy_source: PolicySource,
    /// The policy the verdict is about: its text as applied, and parsed.
    pub policy: Option<PolicyDocument>,
    pub ok_requirements: Vec<Alternative>,
    pub recoverable_admins: Vec<RecoverableAdmin>,
    pub lockout_event: Option<LockoutEvent>,
    pub findings: Vec<Finding>,
    /// Findings of the policy parser on the policy the verdict is about.
    pub policy_findings: Vec<Finding>,
    pub history: Vec<PolicyVersion>,
    pub failed_changes: Vec<FailedChange>,
    /// Whether the person asking can get back in, when known who is asking.
    pub caller: Option<CallerAccess>,
    /// The key's account was known from nothing but the policy, the one account it names.
    pub account_from_policy: bool,
    /// An AWS managed key: DescribeKey's KeyManager is `AWS`, or (from a file) its policy's
    /// Id is AWS's `auto-SERVICE-N`. AWS sets that policy and nobody can change it, by design
    /// (KMS Developer Guide, "AWS managed keys"): not a lockout to recover from.
    pub aws_managed: bool,
    /// The key's state and deletion date, when the evidence says them (DescribeKey, else
    /// the last state change CloudTrail recorded).
    pub key_status: crate::analysis::key_state::KeyStatus,
    /// The key's state changes CloudTrail recorded, oldest first.
    pub state_changes: Vec<history::StateChange>,
    /// A key pending deletion whose policy nobody can change: the principals that may still
    /// call CancelKeyDeletion, which stops the clock while AWS Support restores access.
    pub can_cancel_deletion: Vec<String>,
    /// For any verdict but `ok`: who the policy still lets use the key, for which data
    /// operations (issue 28: the key policy's part; grants and related multi-Region keys
    /// are not read yet).
    pub data_paths: Vec<data::DataPath>,
    /// What the key's state does to the data paths (none works while it is disabled or
    /// pending deletion; deletion ends them all).
    pub data_paths_note: Option<String>,
    /// The key's grants, from CreateGrant, RetireGrant and RevokeGrant events.
    pub grants: Vec<data::GrantView>,
    /// Related multi-Region keys whose policy the evidence holds, with their verdicts.
    pub related_keys: Vec<data::RelatedKey>,
    /// What the evidence cannot say of the grants (those made before it begins).
    pub grants_note: Option<String>,
}

impl Diagnosis {
    /// The principals whose existence decides the verdict: the administrators other than the
    /// root user (which always exists). Evidence is asked about these.
    pub fn principals_to_look_up(&self) -> Vec<&str> {
        self.recoverable_admins
            .iter()
            .filter(|a| a.kind != AdminKind::Root)
            .map(|a| a.principal.as_str())
            .collect()
    }
}

/// Everything the diagnosis works from.
pub struct Evidence<'a> {
    pub key: KeyRef,
    /// The current key policy, when it could be read (parsed by the evidence layer).
    pub current_policy: Option<&'a PolicyDocument>,
    /// Policy events of any key: those of other keys are left out here.
    pub events: &'a [PolicyEvent],
    /// The key's account when known from elsewhere (flag, caller identity).
    pub account: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// The key's aliases, when known (live).
    pub aliases: Option<&'a [String]>,
    /// The key's properties, when known (live: DescribeKey).
    pub properties: Option<&'a KeyProperties>,
    /// Who is asking (live): the diagnosis then says whether this caller can get in.
    pub caller: Option<&'a str>,
}

/// Diagnoses the key from its evidence. Pure, and total: the evidence layer has parsed the
/// current policy, and a recorded version that cannot be read is a finding.
pub fn diagnose(ev: Evidence<'_>) -> Diagnosis {
    let mut key = ev.key.clone();
    let mine = history::events_of(&key, ev.events);

    // Account and region from the evidence, when the key was given by id.
    let from_events_account = mine.iter().find_map(|e| {
        e.key_refs
            .iter()
            .find_map(|r| {
                Arn::parse(r)
                    .filter(|a| a.service == "kms")
                    .map(|a| a.account.to_string())
            })
            .or_else(|| e.account.clone())
    });
    let from_events_region = mine.iter().find_map(|e| e.region.clone());
    key.complete(
        ev.account.or(from_events_account.as_deref()),
        from_events_region.as_deref(),
    );
    // Last, the policy itself: when it names exactly one account, that is the key's.
    let mut account_from_policy = false;
    if key.account.is_none() {
        if let Some(a) = ev.current_policy.and_then(|d| only_account(&d.policy)) {
            key.complete(Some(&a), None);
            account_from_policy = true;
        }
    }
    let account = key.account.clone();
    let setting = account
        .as_deref()
        .map(|acc| Setting::new(&key, acc, ev.now, ev.aliases, ev.properties));

    let mut findings = Vec::new();
    let (history, failed) = history::versions(
        &mine,
        account.as_deref(),
        key.partition(),
        |p| setting.as_ref().map(|s| assess(p, s).verdict),
        &mut findings,
    );

    findings.extend(history::same_second_findings(&history));

    // The policy the verdict is about: the current one, else the newest version. When the
    // newest cannot be read, the verdict is unknown: an older one may no longer apply.
    let newest_unreadable = history
        .last()
        .filter(|v| v.policy.is_none() && account.is_some());
    let (policy, source) = match ev.current_policy {
        Some(doc) => (Some(doc.clone()), PolicySource::Current),
        None if newest_unreadable.is_some() => {
            if let Some(v) = newest_unreadable {
                findings.push(
                    Finding::new(
                        NEWEST_UNREADABLE,
                        format!(
                            "the newest recorded policy (event {}) cannot be read: the verdict cannot rest on an older version",
                            v.event_id
                        ),
                    )
                    .at_event(&v.event_id),
                );
            }
            (None, PolicySource::None)
        }
        None => match history.iter().rev().find(|v| v.verdict != Verdict::Unknown) {
            Some(v) => (
                v.policy.clone().map(|policy| PolicyDocument {
                    text: v.policy_text.clone(),
                    policy,
                }),
                PolicySource::History,
            ),
            None => (None, PolicySource::None),
        },
    };

    let state_changes = history::state_changes(&mine);
    let mut grants = data::grants(&mine);
    let listed = ev.properties.and_then(|p| p.listed_grants.as_deref());
    if let Some(l) = listed {
        data::merge_listed(&mut grants, l);
    }
    let grants_note = if let Some(l) = listed {
        Some(format!(
            "ListGrants listed {} grant(s) of the key: the full list",
            l.len()
        ))
    } else if mine
        .iter()
        .any(|e| e.name.creates() && e.error_code.is_none())
    {
        Some("grants come from the CreateGrant, RetireGrant and RevokeGrant events read (event history, files, the trail's S3 logs as far as they were read; not Athena): ListGrants gives the full list, for a principal the key policy lets call it".to_string())
    } else {
        Some(match mine.first() {
            Some(e) => format!(
                "the evidence does not reach the key's creation: grants made before {} are not known (ListGrants lists them, for a principal the key policy lets call it)",
                e.time.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            None => "the evidence holds none of the key's events: its grants are not known (ListGrants lists them, for a principal the key policy lets call it)".to_string(),
        })
    };
    let mut key_status = ev.properties.map(|p| p.status.clone()).unwrap_or_default();
    if key_status.state.is_none() {
        // DescribeKey did not say (denied, or files): the last state change recorded.
        if let Some(c) = state_changes.iter().rev().find(|c| c.state.is_some()) {
            key_status.state = c.state.clone();
            key_status.deletion_date = c.deletion_date;
            key_status.from_event = Some(c.event_id.clone());
        }
    }
    let key_status = key_status.at(ev.now);
    let mut verdict = Verdict::Unknown;
    let mut can_cancel_deletion = Vec::new();
    let mut data_paths = Vec::new();
    let mut ok_requirements = Vec::new();
    let mut admins = Vec::new();
    let mut policy_findings = Vec::new();
    let mut caller_access = None;
    if let (Some(PolicyDocument { policy, .. }), Some(s)) = (&policy, &setting) {
        let a = assess(policy, s);
        verdict = a.verdict;
        ok_requirements = a.ok_requirements;
        admins = a.recoverable_admins;
        admins::answer_for_state(&mut admins, policy, s, &key_status);
        if verdict == Verdict::Unrecoverable
            && key_status.state.as_deref() == Some("PendingDeletion")
        {
            can_cancel_deletion = admins::can_cancel_deletion(policy, s);
        }
        if verdict != Verdict::Ok {
            data_paths = data::data_paths(policy, s);
        }
        findings.extend(a.findings);
        policy_findings = policy.findings.clone();
        if let Some(Ok(c)) = ev.caller.map(Caller::parse) {
            caller_access = Some(admins::caller_access(
                policy,
                s,
                &c,
                &crate::analysis::chain::Layers::default(),
            ));
        }
    }

    let lockout = if verdict != Verdict::Ok && verdict != Verdict::Unknown {
        history::lockout_event(
            &history,
            ev.current_policy.map(|d| d.text.as_str()),
            account.as_deref(),
            key.partition(),
            &mut findings,
        )
    } else {
        None
    };
    findings.extend(history::failed_change_findings(&failed));
    let aws_managed = ev
        .properties
        .and_then(|p| p.key_manager.as_deref())
        .map(|m| m == "AWS")
        .unwrap_or_else(|| {
            verdict != Verdict::Ok
                && policy.as_ref().is_some_and(|d| {
                    serde_json::from_str::<serde_json::Value>(&d.text)
                        .ok()
                        .and_then(|v| v.get("Id")?.as_str().map(|id| id.starts_with("auto-")))
                        .unwrap_or(false)
                })
        });
    if verdict == Verdict::Unrecoverable {
        findings.extend(other_accounts(
            policy.as_ref().map(|d| &d.policy),
            account.as_deref(),
            key.partition(),
        ));
    }

    // The state comes first: a key pending deletion is an emergency whatever the verdict.
    let scheduled = state_changes
        .iter()
        .rev()
        .find(|c| c.event_name == EventName::ScheduleKeyDeletion && c.state.is_some());
    if let Some(f) = state_finding(&key_status, verdict, lockout.as_ref(), scheduled) {
        findings.insert(0, f);
    }

    let mut related_keys = Vec::new();
    if verdict != Verdict::Ok {
        data_paths.extend(data::grant_paths(&grants, account.as_deref()));
        if let Some(acc) = account.as_deref() {
            let live = ev.properties.map(|p| p.related.as_slice()).unwrap_or(&[]);
            let (keys, paths) = data::related_keys(&key, acc, ev.now, ev.events, live);
            related_keys = keys;
            data_paths.extend(paths);
        }
    }
    let data_paths_note = (!data_paths.is_empty())
        .then(|| data::state_note(&key_status))
        .flatten();
    Diagnosis {
        key,
        verdict,
        policy_source: source,
        policy,
        ok_requirements,
        recoverable_admins: admins,
        lockout_event: lockout,
        findings,
        policy_findings,
        history,
        failed_changes: failed,
        caller: caller_access,
        account_from_policy,
        aws_managed,
        key_status,
        state_changes,
        can_cancel_deletion,
        data_paths_note,
        data_paths,
        grants,
        grants_note,
        related_keys,
    }
}

/// KL220 for a key pending deletion, KL221 for any other state that keeps the key from use
/// (or one the key state table does not have: never taken for `Enabled`).
fn state_finding(
    status: &KeyStatus,
    verdict: Verdict,
    lockout: Option<&LockoutEvent>,
    scheduled: Option<&history::StateChange>,
) -> Option<Finding> {
    let state = status.state.as_deref()?;
    // A bundle may say anything: a state is a word, or it is not repeated.
    let state = if !state.is_empty()
        && state.len() <= 40
        && state.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        state
    } else {
        "(not a state name)"
    };
    let fact = crate::analysis::key_state::fact(state);
    if status.deletion_pending() {
        let when = status.when_deleted();
        let locked = match (verdict, fact.is_some_and(|f| f.cancel_deletion)) {
            (Verdict::Ok, _) => "",
            (_, true) => " and its policy locks out the account: the deletion must be cancelled before that date, or the data encrypted under the key is lost for good",
            // The key state table has no CancelKeyDeletion for this state.
            (_, false) => " and its policy locks out the account: repair it while there is time, or the data encrypted under the key is lost for good when the deletion goes on",
        };
        // The pattern of a destructive attack: the lockout, then the deletion scheduled.
        let story = match (lockout, scheduled) {
            (Some(l), Some(s)) if s.time >= l.time => format!(
                ". The policy locked the account out with {} {} by {} at {}, and {} {} by {} at {}{} scheduled the deletion",
                l.event_name.as_str(),
                l.event_id,
                l.actor.who(),
                l.time.format("%Y-%m-%dT%H:%M:%SZ"),
                s.event_name.as_str(),
                s.event_id,
                s.actor.who(),
                s.time.format("%Y-%m-%dT%H:%M:%SZ"),
                s.source_ip
                    .as_deref()
                    .map(|ip| format!(" from {ip}"))
                    .unwrap_or_default(),
            ),
            (_, Some(s)) => format!(
                ". {} {} by {} at {} scheduled it",
                s.event_name.as_str(),
                s.event_id,
                s.actor.who(),
                s.time.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            _ => String::new(),
        };
        let mut f = Finding::new(
            KEY_PENDING_DELETION,
            format!(
                "the key is {state}, to be deleted {when}{locked}{story}; {}",
                fact.map(|f| f.meaning).unwrap_or_default()
            ),
        );
        if let Some(s) = scheduled {
            f = f.at_event(&s.event_id);
        }
        return Some(f);
    }
    match fact {
        Some(f) if f.usable => None,
        Some(f) => Some(Finding::new(
            KEY_NOT_USABLE,
            format!("the key is {state}: {}", f.meaning),
        )),
        None => Some(Finding::new(
            KEY_NOT_USABLE,
            format!(
                "the key is in state {state}, which the key state table ({}) does not list: it is not taken for Enabled",
                crate::analysis::key_state::SOURCE
            ),
        )),
    }
}

/// The accounts a policy names: in its principals (account principals and principal ARNs,
/// in Allow and Deny alike) and in key ARNs of its `Resource`.
pub fn named_accounts(policy: &Policy) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for s in &policy.statements {
        if let Some(p) = &s.principal {
            for e in &p.entries {
                match e {
                    PrincipalEntry::Arn { account, .. }
                    | PrincipalEntry::Account { account, .. } => {
                        out.insert(account.to_string());
                    }
                    _ => {}
                }
            }
        }
        for r in s.resources.iter().flat_map(|r| r.patterns.iter()) {
            if let Some(a) = Arn::parse(r).filter(|a| a.service == "kms" && !a.account.is_empty()) {
                if a.account.bytes().all(|b| b.is_ascii_digit()) {
                    out.insert(a.account.to_string());
                }
            }
        }
    }
    out
}

/// The one account a policy names, if it names exactly one.
pub fn only_account(policy: &Policy) -> Option<String> {
    let mut all = named_accounts(policy).into_iter();
    match (all.next(), all.next()) {
        (Some(a), None) => Some(a),
        _ => None,
    }
}

/// KL211: principals of other accounts are named, but none of them can change the policy.
fn other_accounts(
    policy: Option<&Policy>,
    account: Option<&str>,
    partition: &str,
) -> Option<Finding> {
    let others: Vec<String> = policy?
        .statements
        .iter()
        .filter(|s| s.valid && s.effect == Effect::Allow)
        .flat_map(|s| s.principal.iter().flat_map(|p| p.entries.iter()))
        .filter_map(|e| match e.named_arn(partition) {
            Some((arn, a)) if Some(a) != account => Some(arn),
            _ => None,
        })
        .collect();
    (!others.is_empty()).then(|| {
        Finding::new(
            OTHER_ACCOUNTS,
            format!(
                "{} of other accounts {} named, but kms:PutKeyPolicy never works across accounts",
                others.join(", "),
                if others.len() == 1 { "is" } else { "are" }
            ),
        )
    })
}
