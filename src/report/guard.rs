//! Output of `kmsdoctor guard`.
//!
//! JSON wire format (`schema_version` 1), one object on stdout, for pre-delete hooks:
//! - `deleted`, `min_admins`, `source` (the scan file, or the caller of a scan made now)
//! - `answer`: `safe` (no key drops to no one or below `min_admins`, and every key was
//!   judged), `at_risk` (exit 3), or `unknown` (exit 5: some keys could not be judged, or
//!   part of the account was not scanned; `unjudged` names them, `problems` says what)
//! - `safe`: true only when `answer` is `safe`
//! - `at_risk`: the keys that would (`arn`, `region`, `standing`, `can_recover_before`,
//!   `can_recover_after`, `lost`, `drops_to_none`, `below_min`, and for a key pending deletion
//!   `deletion_date`)
//! - `affected`: keys that lose an administrator but keep enough (`recreatable`: deleted
//!   administrators named in a condition, which a re-created principal of that name matches)
//! - `keys_judged`

use std::io::{self, Write};

use serde::Serialize;

use super::Style;
use crate::analysis::guard::GuardRow;

pub const SCHEMA_VERSION: u32 = 1;

pub struct GuardReport<'a> {
    pub deleted: &'a [String],
    pub min_admins: usize,
    pub source: &'a str,
    pub rows: &'a [GuardRow],
    /// What the scan could not reach (regions, accounts): keys there are not judged.
    pub problems: &'a [String],
}

/// The answer for a pre-delete hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Safe,
    AtRisk,
    Unknown,
}

impl Answer {
    pub fn exit_code(self) -> u8 {
        match self {
            Answer::Safe => 0,
            Answer::AtRisk => 3,
            Answer::Unknown => 5,
        }
    }
}

impl GuardReport<'_> {
    /// At risk wins (a key known to lose its last way back); then unknown.
    pub fn answer(&self) -> Answer {
        if self.rows.iter().any(at_risk) {
            Answer::AtRisk
        } else if self.rows.iter().any(|r| r.unjudged) || !self.problems.is_empty() {
            Answer::Unknown
        } else {
            Answer::Safe
        }
    }
}

#[derive(Serialize)]
struct GuardJson<'a> {
    schema_version: u32,
    deleted: &'a [String],
    min_admins: usize,
    source: &'a str,
    answer: Answer,
    safe: bool,
    at_risk: Vec<&'a GuardRow>,
    affected: Vec<&'a GuardRow>,
    unjudged: Vec<&'a GuardRow>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    problems: &'a [String],
    keys_judged: usize,
}

fn at_risk(r: &GuardRow) -> bool {
    r.drops_to_none || r.below_min
}

pub fn render_json(out: &mut dyn Write, r: &GuardReport<'_>) -> io::Result<()> {
    let risky: Vec<&GuardRow> = r.rows.iter().filter(|x| at_risk(x)).collect();
    let doc = GuardJson {
        schema_version: SCHEMA_VERSION,
        deleted: r.deleted,
        min_admins: r.min_admins,
        source: r.source,
        answer: r.answer(),
        safe: r.answer() == Answer::Safe,
        affected: r
            .rows
            .iter()
            .filter(|x| !at_risk(x) && !x.lost.is_empty())
            .collect(),
        at_risk: risky,
        unjudged: r.rows.iter().filter(|x| x.unjudged).collect(),
        problems: r.problems,
        keys_judged: r.rows.iter().filter(|x| !x.unjudged).count(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

pub fn render_table(out: &mut dyn Write, r: &GuardReport<'_>, style: Style) -> io::Result<()> {
    let wrap = super::write_wrapped;
    wrap(
        out,
        "",
        "  ",
        &format!(
            "Deleting {} ({} key(s) judged, from {})",
            r.deleted.join(", "),
            r.rows.len(),
            r.source
        ),
    )?;
    match r.answer() {
        Answer::Safe => writeln!(
            out,
            "\n{} no key drops below {} administrator(s)",
            style.good("Safe:"),
            r.min_admins
        )?,
        Answer::AtRisk => writeln!(
            out,
            "\n{}",
            style.bad("Do not delete: these keys would be left with too few administrators")
        )?,
        Answer::Unknown => writeln!(
            out,
            "\n{} no key judged drops below {} administrator(s), but these could not be judged:",
            style.warn("Unknown:"),
            r.min_admins
        )?,
    }
    for x in r.rows.iter().filter(|x| x.unjudged) {
        wrap(
            out,
            "  ",
            "    ",
            &format!(
                "{} {}: {} (its policy could not be judged: read it, or run guard as a principal that can)",
                x.region,
                x.arn,
                x.standing.as_str()
            ),
        )?;
    }
    for p in r.problems {
        wrap(out, "  not scanned: ", "    ", p)?;
    }
    for x in r.rows.iter().filter(|x| !x.lost.is_empty()) {
        let what = if x.drops_to_none {
            "no one left"
        } else if x.below_min {
            "below the minimum"
        } else {
            "still enough"
        };
        wrap(
            out,
            "  ",
            "    ",
            &format!(
                "{} {}: {} -> {} administrator(s), {what}",
                x.region, x.arn, x.can_recover_before, x.can_recover_after
            ),
        )?;
        wrap(out, "    loses ", "      ", &x.lost.join(", "))?;
        if let Some(d) = x.deletion_date {
            wrap(
                out,
                "    ",
                "      ",
                &format!(
                    "and the key is pending deletion: it is deleted on {} whatever its administrators, unless someone cancels the deletion",
                    crate::analysis::key_state::date_words(d)
                ),
            )?;
        }
    }
    for x in r.rows.iter().filter(|x| !x.recreatable.is_empty()) {
        wrap(
            out,
            "  ",
            "    ",
            &format!(
                "{} {}: names {} in a condition: created again under the same name, it gets in again",
                x.region,
                x.arn,
                x.recreatable.join(", ")
            ),
        )?;
    }
    Ok(())
}
