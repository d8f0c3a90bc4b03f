//! Output of `kmsdoctor why-locked`.
//!
//! JSON wire format (`schema_version` 2: findings in the one shape of every command), one
//! object on stdout; scripts depend on it:
//! - `key`: `id`, and when known `arn`, `account`, `region`; when DescribeKey answered
//!   (live, bundles) `state` (`Enabled`, `PendingDeletion`...), and for a key pending
//!   deletion `deletion_date`, `pending_window_days`, `days_left`
//! - `verdict`: `ok` | `recoverable` | `unrecoverable` | `unknown`
//! - `policy_source`: `current` (given) | `history` (last applied, from CloudTrail) | `none`
//! - `recoverable_admins`: principals that can call kms:PutKeyPolicy: `principal` (as
//!   written; a bare account id as the root ARN in the key's partition), `kind`, `can_put_key_policy`,
//!   `can_get_key_policy`, `decision`, `statements`, `requirements` (alternatives, each
//!   `{"all_of": [...], "via": [...]}`), `needs_iam_policy`, `exists`, `notes`
//! - `ok_requirements`: for `ok`, what a principal of the account needs (alternatives)
//! - `lockout_event`: `event_id`, `event_name`, `time`, `principal`, `actor`, `source_ip`,
//!   `bypass_lockout_check`; or null
//! - `findings`: each finding in the one shape of every command (`report::FindingJson`):
//!   `id`, `rule`, `severity`, `message`, `fix`, and where they apply `cause`, `statement`
//!   (`index`, `sid`, `label`), `event`, `file`, `address`, `line`, `column`, `pointer`,
//!   `embedded_at`
//! - `history`: applied versions, oldest first: `event_id`, `event_name`, `time`, `actor`,
//!   `source_ip`, `user_agent`, `bypass_lockout_check`, `default_policy`, `verdict`
//! - `state_changes` (when CloudTrail recorded any): ScheduleKeyDeletion, CancelKeyDeletion,
//!   DisableKey, EnableKey calls, oldest first: `event_id`, `event_name`, `time`, `actor`,
//!   `source_ip`, `state` (what it left), `deletion_date`, `error_code` (a failed call)
//! - `can_cancel_deletion` (an unrecoverable key pending deletion): principals that may
//!   still call CancelKeyDeletion, which stops the clock while AWS Support restores access
//! - `data_paths` (any verdict but `ok`; empty otherwise): who can still use the key:
//!   `principal`, `via` (`key_policy`), `other_account`, `operations` (`kms:Decrypt`,
//!   `kms:ReEncryptFrom`, `kms:GenerateDataKey`, `kms:Encrypt`), `decision`, `statements`,
//!   `requirements` (as for `recoverable_admins`); `data_paths_note`: what the key's state
//!   does to them (none works while it is disabled or pending deletion; deletion ends them);
//!   a grant's path has `via: grant`, `grant_id` and `constraints`
//! - `grants`: the key's grants from CreateGrant/RetireGrant/RevokeGrant events
//!   (`grant_id`, `grantee`, `operations`, `constraints`, `retiring_principal`, `status`:
//!   `live` | `retired` | `revoked`, `created_by_event`, `created_at`, `ended_by_event`);
//!   `grants_note`: what the evidence cannot say of them (grants made before it begins)
//! - `failed_changes`: CreateKey/PutKeyPolicy calls that failed (they changed nothing)
//! - `recovery_plan`: `step`, `text`, `command`, and `alternative` (`text`, `command`):
//!   another way to do the same step, pasted instead of it
//! - `caller` (live, or with `--caller`): `principal`, `can_put_key_policy`,
//!   `can_get_key_policy`, `decision`, `requirements`, `denied_by` (`rcp` | `scp` |
//!   `key_policy` | `identity` | `boundary` | `session` | null: the first layer of the
//!   request chain that denies, in AWS's order), `denied_at` (the root, OU or account of a
//!   denying SCP or RCP level), `layers` (each layer's standing, when layers beyond the key
//!   policy were given: see `explain`'s `chain.layers`), `iam_decisions` (live)
//! - `repaired_policy`: `path` and `changes` when `--write-repaired` wrote one, else null
//! - `evidence`: `policy_file`, `event_files`, `bytes`, `records`, `unreadable_records`,
//!   `events_for_key`, and with `--history s3` `archive`: `location`, `newest_day`,
//!   `oldest_day`, `days`, `list_calls`, `get_calls`, `bytes`, `records`, `events`,
//!   `settled`, `digests_checked`, `validation` (`digests`, `backfill_digests`,
//!   `signatures_verified`, `chain_links_verified`, `covered_from`, `covered_to`,
//!   `log_files_verified`), `credentials` (whose credentials read the archive)

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::analysis::key_state::date_words;

use super::{FindingJson, Style};
use crate::analysis::lockout::{Diagnosis, Verdict};
use crate::analysis::plan::Step;

pub const SCHEMA_VERSION: u32 = 2;

/// What the evidence amounted to.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSummary {
    /// `files`, `aws` or `bundle`.
    pub source: &'static str,
    /// False when a CloudTrail lookup stopped early.
    pub complete: bool,
    pub problems: Vec<String>,
    pub lookup_calls: u32,
    pub policy_file: Option<String>,
    pub event_files: usize,
    pub bytes: u64,
    pub records: u64,
    pub unreadable_records: u64,
    pub events_for_key: usize,
    /// What reading the trail's S3 logs amounted to (`--history s3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<crate::analysis::events::ArchiveSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairedPolicy {
    pub path: String,
    pub changes: Vec<String>,
}

pub struct WhyLockedReport<'a> {
    pub diagnosis: &'a Diagnosis,
    pub plan: &'a [Step],
    pub repaired: Option<&'a RepairedPolicy>,
    pub evidence: &'a EvidenceSummary,
}

/// The key: how it is named, then its state and deletion date when known.
#[derive(Serialize)]
struct KeyJson<'a> {
    #[serde(flatten)]
    key: &'a crate::analysis::lockout::KeyRef,
    #[serde(flatten)]
    status: &'a crate::analysis::key_state::KeyStatus,
}

#[derive(Serialize)]
struct WhyLockedJson<'a> {
    schema_version: u32,
    key: KeyJson<'a>,
    verdict: Verdict,
    policy_source: crate::analysis::lockout::PolicySource,
    recoverable_admins: &'a [crate::analysis::lockout::RecoverableAdmin],
    ok_requirements: &'a [crate::analysis::eval::Alternative],
    lockout_event: Option<&'a crate::analysis::lockout::LockoutEvent>,
    caller: Option<&'a crate::analysis::lockout::CallerAccess>,
    findings: Vec<FindingJson>,
    history: &'a [crate::analysis::lockout::PolicyVersion],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    state_changes: &'a [crate::analysis::lockout::StateChange],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    can_cancel_deletion: &'a [String],
    data_paths: &'a [crate::analysis::lockout::data::DataPath],
    #[serde(skip_serializing_if = "Option::is_none")]
    data_paths_note: Option<&'a str>,
    grants: &'a [crate::analysis::lockout::data::GrantView],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    related_keys: &'a [crate::analysis::lockout::data::RelatedKey],
    #[serde(skip_serializing_if = "Option::is_none")]
    grants_note: Option<&'a str>,
    failed_changes: &'a [crate::analysis::lockout::FailedChange],
    recovery_plan: &'a [Step],
    repaired_policy: Option<&'a RepairedPolicy>,
    evidence: &'a EvidenceSummary,
}

fn findings(d: &Diagnosis) -> Vec<FindingJson> {
    d.findings
        .iter()
        .chain(&d.policy_findings)
        .map(FindingJson::of)
        .collect()
}

pub fn render_json(out: &mut dyn Write, r: &WhyLockedReport<'_>) -> io::Result<()> {
    let d = r.diagnosis;
    let doc = WhyLockedJson {
        schema_version: SCHEMA_VERSION,
        key: KeyJson {
            key: &d.key,
            status: &d.key_status,
        },
        verdict: d.verdict,
        policy_source: d.policy_source,
        recoverable_admins: &d.recoverable_admins,
        ok_requirements: &d.ok_requirements,
        lockout_event: d.lockout_event.as_ref(),
        caller: d.caller.as_ref(),
        findings: findings(d),
        history: &d.history,
        state_changes: &d.state_changes,
        can_cancel_deletion: &d.can_cancel_deletion,
        data_paths: &d.data_paths,
        data_paths_note: d.data_paths_note.as_deref(),
        grants: &d.grants,
        related_keys: &d.related_keys,
        grants_note: d.grants_note.as_deref(),
        failed_changes: &d.failed_changes,
        recovery_plan: r.plan,
        repaired_policy: r.repaired,
        evidence: r.evidence,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn wrap(out: &mut dyn Write, first: &str, rest: &str, text: &str) -> io::Result<()> {
    super::write_wrapped(out, first, rest, text)
}

pub fn render_table(out: &mut dyn Write, r: &WhyLockedReport<'_>, style: Style) -> io::Result<()> {
    let d = r.diagnosis;
    let esc = super::esc;
    // A key ARN in a long partition and region (aws-us-gov) is over 76 columns: it then
    // stands on a line of its own.
    wrap(
        out,
        "",
        "  ",
        &format!("Key {}", esc(d.key.arn.as_deref().unwrap_or(&d.key.id))),
    )?;
    let word = d.verdict.as_str();
    let painted = match d.verdict {
        Verdict::Ok => style.good(word),
        Verdict::Recoverable | Verdict::Unknown => style.warn(word),
        Verdict::Unrecoverable => style.bad(word),
    };
    let source = match d.policy_source {
        crate::analysis::lockout::PolicySource::Current => "the current policy".to_string(),
        crate::analysis::lockout::PolicySource::History => match d.history.last() {
            Some(v) => format!("the last applied policy ({})", v.event_id),
            None => "CloudTrail history".into(),
        },
        crate::analysis::lockout::PolicySource::None => "no key policy found".into(),
    };
    // The key's state before the verdict: a deletion date is the one fact that cannot wait.
    if let Some(line) = d.key_status.headline() {
        let line = esc(&line);
        let painted = if d.key_status.deletion_pending() {
            style.bad(&line)
        } else {
            style.warn(&line)
        };
        writeln!(out, "{} {painted}", style.bold("State:"))?;
        if let Some(e) = &d.key_status.from_event {
            wrap(
                out,
                "       ",
                "       ",
                &format!("(from CloudTrail event {e}: DescribeKey did not say)"),
            )?;
        }
    }
    // In 80 columns whatever the event id (CloudTrail's are 36 characters): the source on
    // a line of its own when it does not fit beside the verdict.
    if "Verdict: ".len() + word.len() + "  (from )".len() + source.chars().count() <= 80 {
        writeln!(
            out,
            "{} {painted}  (from {})",
            style.bold("Verdict:"),
            esc(&source)
        )?;
    } else {
        writeln!(out, "{} {painted}", style.bold("Verdict:"))?;
        wrap(out, "  (from ", "   ", &format!("{source})"))?;
    }
    if let Some(c) = &d.caller {
        let can = match (c.can_put_key_policy, c.can_get_key_policy) {
            (true, _) => "can change the key policy",
            (false, true) => "can read the key policy but not change it",
            (false, false) => "can neither read nor change the key policy",
        };
        let denied = match c.denied_by {
            Some(layer) => format!(
                "; denied by the {}{}, which {} can change",
                layer.title(),
                c.denied_at
                    .as_deref()
                    .map(|t| format!(" attached to {t}"))
                    .unwrap_or_default(),
                layer.who_changes()
            ),
            None => String::new(),
        };
        wrap(
            out,
            "You: ",
            "     ",
            &format!("{} {can}{denied}", c.principal),
        )?;
        if !c.layers.is_empty() {
            writeln!(out, "Your request chain (kms:PutKeyPolicy):")?;
            super::explain::write_layers(out, &c.layers, c.denied_by, c.denied_at.as_deref())?;
        }
    }

    // The diagnosis's findings, then the parser's (placed by JSON pointer); one severity
    // column for both.
    if !d.findings.is_empty() || !d.policy_findings.is_empty() {
        writeln!(out, "\n{}", style.bold("Findings:"))?;
        for f in &d.findings {
            let sev = super::severity_word(f.severity, style);
            wrap(out, &format!("  {sev} {} ", f.rule.id), "    ", &f.message)?;
        }
        for f in &d.policy_findings {
            let sev = super::severity_word(f.severity, style);
            wrap(
                out,
                &format!("  {sev} {} ", f.rule.id),
                "    ",
                &format!("{} (at {})", f.message, f.pointer.as_deref().unwrap_or("/")),
            )?;
        }
    }

    if let Some(e) = &d.lockout_event {
        writeln!(out, "\n{}", style.bold("Lockout event:"))?;
        let what = format!(
            "{} {:?} at {} by {}{}{}",
            e.event_id,
            e.event_name,
            e.time.format("%Y-%m-%dT%H:%M:%SZ"),
            e.actor.who(),
            e.source_ip
                .as_deref()
                .map(|ip| format!(" from {ip}"))
                .unwrap_or_default(),
            if e.bypass_lockout_check {
                ", bypassing the lockout safety check"
            } else {
                ""
            }
        );
        wrap(out, "  ", "  ", &what)?;
    }

    // What the account's principals need besides an IAM policy, per alternative. When one
    // alternative needs nothing more, there is nothing to list (KL210 says so).
    let alternatives: Vec<Vec<&str>> = d
        .ok_requirements
        .iter()
        .map(|alt| {
            alt.all_of
                .iter()
                .filter(|r| r.kind != crate::analysis::eval::RequirementKind::IamPolicy)
                .map(|r| r.text.as_str())
                .collect()
        })
        .collect();
    if !alternatives.is_empty() && alternatives.iter().all(|texts| !texts.is_empty()) {
        writeln!(
            out,
            "\n{}",
            style.bold("Any principal of the account, given an IAM policy, gets in if:")
        )?;
        for (i, texts) in alternatives.iter().enumerate() {
            wrap(
                out,
                &format!("  {}. ", i + 1),
                "     ",
                &texts.join(" and "),
            )?;
        }
    }

    if !d.recoverable_admins.is_empty() && d.verdict != Verdict::Unknown {
        writeln!(
            out,
            "\n{}",
            style.bold("Who can still change the key policy:")
        )?;
        for (i, a) in d.recoverable_admins.iter().enumerate() {
            if a.class.is_some() {
                // A class's description is a sentence: wrapped like one.
                wrap(out, &format!("  {}. ", i + 1), "     ", &a.principal)?;
            } else {
                writeln!(out, "  {}. {}", i + 1, esc(&a.principal))?;
            }
            let can = match (a.can_put_key_policy, a.can_get_key_policy) {
                (true, true) => "can call PutKeyPolicy and GetKeyPolicy",
                (true, false) => "can call PutKeyPolicy (not GetKeyPolicy)",
                _ => "can call GetKeyPolicy only",
            };
            let mut needs: Vec<String> = crate::analysis::eval::Alternative::words(&a.requirements);
            if needs.len() > 1 {
                needs = vec![format!("either {}", needs.join(", or "))];
            }
            if a.needs_iam_policy {
                needs.push("an IAM policy that allows it".into());
            }
            let line = if needs.is_empty() {
                can.to_string()
            } else {
                format!("{can}; needs {}", needs.join("; "))
            };
            wrap(out, "     ", "     ", &line)?;
            for n in &a.notes {
                wrap(out, "     - ", "       ", n)?;
            }
        }
    } else if d.verdict == Verdict::Unrecoverable {
        writeln!(out, "\nNobody that can exist may change the key policy.")?;
    }

    if !d.data_paths.is_empty() {
        writeln!(out, "\n{}", style.bold("Who can still use the key's data:"))?;
        for (i, p) in d.data_paths.iter().enumerate() {
            let statements: Vec<&str> = p.statements.iter().map(|s| s.label.as_str()).collect();
            wrap(
                out,
                &format!("  {}. ", i + 1),
                "     ",
                &format!(
                    "{}: {}{}",
                    p.principal,
                    p.operations.join(", "),
                    match (&p.grant_id, statements.is_empty()) {
                        _ if p.related_key.is_some() => format!(
                            " (through the related multi-Region key {}, by its own policy)",
                            p.related_key.as_deref().unwrap_or_default()
                        ),
                        (Some(id), _) => format!(
                            " (grant {id}{})",
                            p.constraints
                                .as_deref()
                                .map(|c| format!(
                                    ", only for requests with the encryption context {c}"
                                ))
                                .unwrap_or_default()
                        ),
                        (None, true) => String::new(),
                        (None, false) => format!(" (statement {})", statements.join(", ")),
                    }
                ),
            )?;
            let needs: Vec<String> = crate::analysis::eval::Alternative::words(&p.requirements);
            if !needs.is_empty() {
                wrap(
                    out,
                    "     ",
                    "     ",
                    &format!("needs {}", needs.join(", or ")),
                )?;
            }
            if p.other_account {
                wrap(
                    out,
                    "     ",
                    "     ",
                    if p.grant_id.is_some() {
                        "another account: it must name the key by its key ARN"
                    } else {
                        "another account: its own IAM policies must allow it too"
                    },
                )?;
            }
        }
    }

    if let Some(n) = &d.data_paths_note {
        wrap(out, "  ", "  ", &format!("But {n}."))?;
    }
    if d.verdict != Verdict::Ok {
        let ended: Vec<String> = d
            .grants
            .iter()
            .filter(|g| g.status != crate::analysis::lockout::data::GrantStatus::Live)
            .map(|g| format!("{} ({})", g.grant_id, g.status.as_str()))
            .collect();
        if !ended.is_empty() {
            wrap(
                out,
                "  ",
                "  ",
                &format!("Grants ended, no longer a way in: {}.", ended.join(", ")),
            )?;
        }
        // Where nobody can fix the policy, what the grants may still hold matters most.
        if let (Some(n), false, false) = (
            &d.grants_note,
            d.data_paths.is_empty(),
            d.verdict == Verdict::Recoverable,
        ) {
            wrap(out, "  ", "  ", &format!("Grants: {n}."))?;
        }
    }

    writeln!(out, "\n{}", style.bold("Recovery plan:"))?;
    for s in r.plan {
        wrap(out, &format!("  {}. ", s.step), "     ", &s.text)?;
        if let Some(c) = &s.command {
            writeln!(out, "     $ {}", esc(c))?;
        }
        if let Some(alt) = &s.alternative {
            wrap(out, "     ", "     ", &alt.text)?;
            if let Some(c) = &alt.command {
                writeln!(out, "     $ {}", esc(c))?;
            }
        }
    }
    if let Some(rep) = r.repaired {
        writeln!(
            out,
            "\n{} {}",
            style.bold("Repaired policy written to"),
            esc(&rep.path)
        )?;
        for c in &rep.changes {
            wrap(out, "  - ", "    ", c)?;
        }
    }

    if !d.history.is_empty() {
        writeln!(out, "\n{}", style.bold("Policy history (oldest first):"))?;
        for v in &d.history {
            let line = format!(
                "{} {:?} {} by {}{}{}",
                v.time.format("%Y-%m-%dT%H:%M:%SZ"),
                v.event_name,
                v.verdict.as_str(),
                v.actor.who(),
                if v.default_policy {
                    " (default policy)"
                } else {
                    ""
                },
                if v.bypass_lockout_check {
                    " (bypassed safety check)"
                } else {
                    ""
                }
            );
            wrap(out, "  ", "    ", &line)?;
        }
    }
    if !d.state_changes.is_empty() {
        writeln!(out, "\n{}", style.bold("Key state changes (oldest first):"))?;
        for c in &d.state_changes {
            let result = match (&c.state, &c.error_code) {
                (_, Some(code)) => format!("failed ({code})"),
                (Some(st), None) => match c.deletion_date {
                    Some(date) => {
                        format!("{st}, deletion on {}", date_words(date))
                    }
                    None => st.clone(),
                },
                (None, None) => String::new(),
            };
            let line = format!(
                "{} {} {} by {}{}",
                c.time.format("%Y-%m-%dT%H:%M:%SZ"),
                c.event_name.as_str(),
                result,
                c.actor.who(),
                c.source_ip
                    .as_deref()
                    .map(|ip| format!(" from {ip}"))
                    .unwrap_or_default()
            );
            wrap(out, "  ", "    ", &line)?;
        }
    }
    for f in &d.failed_changes {
        wrap(
            out,
            "  failed: ",
            "    ",
            &format!(
                "{} {:?} by {}: {}",
                f.time.format("%Y-%m-%dT%H:%M:%SZ"),
                f.event_name,
                f.actor.who(),
                f.error_code
            ),
        )?;
    }
    let e = r.evidence;
    let mut summary = Vec::new();
    if let Some(p) = &e.policy_file {
        summary.push(format!("policy {}", Path::new(p).display()));
    }
    if e.event_files > 0 {
        summary.push(format!(
            "{} event file{}, {} record{}{}, {} policy event{} for this key",
            e.event_files,
            if e.event_files == 1 { "" } else { "s" },
            e.records,
            if e.records == 1 { "" } else { "s" },
            if e.unreadable_records > 0 {
                format!(" ({} unreadable, skipped)", e.unreadable_records)
            } else {
                String::new()
            },
            e.events_for_key,
            if e.events_for_key == 1 { "" } else { "s" }
        ));
    }
    if let Some(a) = e.archive.as_ref().filter(|a| a.method == "athena") {
        let gb = crate::analysis::text::size_words;
        summary.push(format!(
            "Athena query {} over {}{}: {} to {}, estimated {}, scanned {}{}, {} policy event(s) for this key{}",
            a.query_id.as_deref().unwrap_or("?"),
            a.location,
            read_with(a),
            a.oldest_day.as_deref().unwrap_or("?"),
            a.newest_day.as_deref().unwrap_or("?"),
            a.estimated_bytes.map(gb).unwrap_or_else(|| "?".into()),
            a.scanned_bytes.map(gb).unwrap_or_else(|| "?".into()),
            a.query_millis
                .map(|m| format!(" in {:.1} s", m as f64 / 1000.0))
                .unwrap_or_default(),
            a.events,
            if a.settled {
                ""
            } else {
                "; the key's creation was not reached"
            }
        ));
    } else if let Some(a) = &e.archive {
        summary.push(format!(
            "the trail's logs in {}{}: {} day(s) read{}, {} file(s) ({} of JSON), {} policy event(s) for this key, {} checked against digests{}{}",
            a.location,
            read_with(a),
            a.days,
            match (&a.newest_day, &a.oldest_day) {
                (Some(n), Some(o)) if n != o => format!(" ({n} back to {o})"),
                (Some(n), _) => format!(" ({n})"),
                _ => String::new(),
            },
            a.get_calls,
            crate::analysis::text::size_words(a.bytes),
            a.events,
            a.digests_checked,
            a.validation
                .as_ref()
                .map(|v| format!(
                    " ({} digest file(s), {} signature(s) verified, {} chain link(s) whole{})",
                    v.digests,
                    v.signatures_verified,
                    v.chain_links_verified,
                    match (&v.covered_from, &v.covered_to) {
                        (Some(f), Some(t)) => format!(", {f} to {t}"),
                        _ => String::new(),
                    }
                ))
                .unwrap_or_default(),
            if a.settled {
                ""
            } else {
                "; the key's creation was not reached"
            }
        ));
    }
    if !summary.is_empty() {
        writeln!(out)?;
        wrap(out, "Evidence: ", "  ", &summary.join("; "))?;
    }
    Ok(())
}

/// ", read with ..." when the archive was read with other credentials than the run's.
fn read_with(a: &crate::analysis::events::ArchiveSummary) -> String {
    if a.credentials.is_empty() || a.credentials == "the run's credentials" {
        String::new()
    } else {
        format!(", read with {}", a.credentials)
    }
}
