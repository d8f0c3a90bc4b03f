//! `kmsdoctor history`: the key policy's versions, oldest first, as a table or JSON.
//!
//! JSON (`schema_version` 1): `key`, `verdict` (the key's, as `why-locked` gives it),
//! `versions[]` (each: `event_id`, `event_name`, `time`, `actor`, `source_ip`, `user_agent`,
//! `bypass_lockout_check`, `default_policy`, `verdict`, `changes[]` (`statement`, `change`:
//! `added` | `removed` | `changed`, `before`, `after`: the statement as compact JSON),
//! `other_account_use[]` (what a statement lets another account do with the key),
//! `hands_to_other_account` (this version handed such a use over)), `failed_changes[]`,
//! and `evidence` (as in `why-locked`).

use std::io::{self, Write};

use serde::Serialize;

use super::why_locked::EvidenceSummary;
use super::Style;
use crate::analysis::lockout::{FailedChange, TimelineEntry, Verdict};

pub const SCHEMA_VERSION: u32 = 1;

/// What `history` shows.
pub struct HistoryReport<'a> {
    pub key: &'a str,
    pub verdict: Verdict,
    pub versions: &'a [TimelineEntry<'a>],
    pub failed_changes: &'a [FailedChange],
    pub evidence: &'a EvidenceSummary,
}

#[derive(Serialize)]
struct HistoryJson<'a> {
    schema_version: u32,
    key: &'a str,
    verdict: Verdict,
    versions: &'a [TimelineEntry<'a>],
    failed_changes: &'a [FailedChange],
    evidence: &'a EvidenceSummary,
}

pub fn render_json(out: &mut dyn Write, r: &HistoryReport<'_>) -> io::Result<()> {
    let doc = HistoryJson {
        schema_version: SCHEMA_VERSION,
        key: r.key,
        verdict: r.verdict,
        versions: r.versions,
        failed_changes: r.failed_changes,
        evidence: r.evidence,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn wrap(out: &mut dyn Write, first: &str, rest: &str, text: &str) -> io::Result<()> {
    super::write_wrapped(out, first, rest, text)
}

pub fn render_table(out: &mut dyn Write, r: &HistoryReport<'_>, style: Style) -> io::Result<()> {
    wrap(out, "", "  ", &format!("Key {}", r.key))?;
    writeln!(
        out,
        "Verdict now: {}",
        match r.verdict {
            Verdict::Ok => style.good(r.verdict.as_str()),
            _ => style.bad(r.verdict.as_str()),
        }
    )?;
    if r.versions.is_empty() {
        writeln!(
            out,
            "\nNo version of the key policy is in the evidence (no CreateKey or PutKeyPolicy record of this key)."
        )?;
    } else {
        writeln!(
            out,
            "\n{}",
            style.bold(&format!(
                "Key policy versions, oldest first ({}):",
                r.versions.len()
            ))
        )?;
    }
    for (i, e) in r.versions.iter().enumerate() {
        let v = e.version;
        writeln!(out)?;
        let head = format!(
            "{}. {} {} by {}{}",
            i + 1,
            v.time.format("%Y-%m-%dT%H:%M:%SZ"),
            v.event_name.as_str(),
            v.actor.who(),
            v.source_ip
                .as_deref()
                .map(|ip| format!(" from {ip}"))
                .unwrap_or_default(),
        );
        wrap(out, "", "   ", &head)?;
        let mut marks = vec![format!("verdict {}", v.verdict.as_str())];
        if v.bypass_lockout_check {
            marks.push("the lockout safety check was bypassed".into());
        }
        if v.default_policy {
            marks.push("KMS's default policy".into());
        }
        wrap(out, "   ", "   ", &marks.join("; "))?;
        if v.policy_text.is_empty() && !v.default_policy {
            wrap(out, "   ", "   ", "the record holds no policy text")?;
        }
        for c in &e.changes {
            let sign = match c.change {
                "added" => "+",
                "removed" => "-",
                _ => "~",
            };
            let body = c
                .after
                .as_deref()
                .or(c.before.as_deref())
                .unwrap_or_default();
            wrap(
                out,
                &format!("   {sign} "),
                "       ",
                &format!("{} {}: {body}", c.change, c.statement),
            )?;
        }
        for u in &e.other_account_use {
            let first = if e.hands_to_other_account {
                format!("   {} ", style.warn("!"))
            } else {
                "   ! ".to_string()
            };
            wrap(out, &first, "     ", u)?;
        }
        if e.hands_to_other_account {
            wrap(
                out,
                "   ",
                "   ",
                "this version hands a use of the key to another account",
            )?;
        }
    }
    if !r.failed_changes.is_empty() {
        writeln!(
            out,
            "\n{}",
            style.bold("Failed changes (they changed nothing):")
        )?;
        for f in r.failed_changes {
            wrap(
                out,
                "  ",
                "    ",
                &format!(
                    "{} {} by {}: {}",
                    f.time.format("%Y-%m-%dT%H:%M:%SZ"),
                    f.event_name.as_str(),
                    f.actor.who(),
                    f.error_code
                ),
            )?;
        }
    }
    let e = r.evidence;
    if !e.complete {
        writeln!(out)?;
        wrap(
            out,
            "Evidence incomplete: ",
            "  ",
            &if e.problems.is_empty() {
                "some of the key's history could not be read".to_string()
            } else {
                e.problems.join("; ")
            },
        )?;
    }
    Ok(())
}
