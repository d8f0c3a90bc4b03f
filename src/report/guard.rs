//! Output of `kmsdoctor guard`.
//!
//! JSON wire format (`schema_version` 1), one object on stdout, for pre-delete hooks:
//! - `deleted`, `min_admins`, `source` (the scan file, or the caller of a scan made now)
//! - `safe`: true when no key drops to no one or below `min_admins`
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
}

#[derive(Serialize)]
struct GuardJson<'a> {
    schema_version: u32,
    deleted: &'a [String],
    min_admins: usize,
    source: &'a str,
    safe: bool,
    at_risk: Vec<&'a GuardRow>,
    affected: Vec<&'a GuardRow>,
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
        safe: risky.is_empty(),
        affected: r
            .rows
            .iter()
            .filter(|x| !at_risk(x) && !x.lost.is_empty())
            .collect(),
        at_risk: risky,
        keys_judged: r.rows.len(),
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
    let risky: Vec<&GuardRow> = r.rows.iter().filter(|x| at_risk(x)).collect();
    if risky.is_empty() {
        writeln!(
            out,
            "\n{} no key drops below {} administrator(s)",
            style.good("Safe:"),
            r.min_admins
        )?;
    } else {
        writeln!(
            out,
            "\n{}",
            style.bad("Do not delete: these keys would be left with too few administrators")
        )?;
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
