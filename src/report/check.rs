//! Output of `kmsdoctor check`: a table for people, JSON for scripts, SARIF 2.1.0 for code
//! scanning (rules listed once, results with file, line and column).
//!
//! JSON (`schema_version` 2): `files_read`, `policies_checked`, `summary` (`error`, `warning`,
//! `info` counts), `policies` (`file`, `address`, `verdict`, `safety_check`), `findings`
//! (the one shape of a finding in every command, `report::FindingJson`: `id`, `rule`,
//! `severity`, `message`, `fix`, and where they apply `cause`, `statement` (`index`, `sid`,
//! `label`), `file`, `address`, `line`, `column`, `pointer`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::json;

use super::Style;
use crate::analysis::check::{CheckResult, SafetyCheck};
use crate::analysis::locate::Position;
use crate::analysis::lockout::Verdict;
use crate::analysis::policy::DocumentKind;
use crate::analysis::rules::{rule, Severity};

/// The version of check's JSON: 2 since findings took the one shape of every command.
pub const SCHEMA_VERSION: u32 = 2;

/// One finding, placed in its file: the one shape of a finding in every output.
pub type Located = super::FindingJson;

#[derive(Debug, Clone, Serialize)]
pub struct PolicySummary {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_check: Option<SafetyCheck>,
}

#[derive(Default)]
pub struct CheckReport {
    pub files_read: usize,
    pub policies: Vec<PolicySummary>,
    pub findings: Vec<Located>,
    /// Files that are policies of other kinds (identity policies, SCPs, trust policies,
    /// RCPs, other services' resource policies), skipped, by kind.
    pub skipped: BTreeMap<DocumentKind, usize>,
    /// Files that could not be read: each with its place; the others were still checked.
    pub errors: Vec<FileError>,
}

/// A file `check` could not read, and where.
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    pub message: String,
}

impl From<&crate::evidence::InputError> for FileError {
    fn from(e: &crate::evidence::InputError) -> FileError {
        FileError {
            file: e.file.display().to_string(),
            line: e.position.map(|p| p.line),
            column: e.position.map(|p| p.column),
            pointer: e.pointer.clone(),
            message: e.message.clone(),
        }
    }
}

impl CheckReport {
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// Adds the entries of another report (one file's), after this one's.
    pub fn append(&mut self, mut other: CheckReport) {
        self.policies.append(&mut other.policies);
        self.findings.append(&mut other.findings);
        self.errors.append(&mut other.errors);
        for (k, n) in other.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
    }

    /// Builds the report entries of one policy.
    pub fn add(
        &mut self,
        file: &str,
        address: Option<&str>,
        result: CheckResult,
        position: impl Fn(&str) -> Option<crate::analysis::locate::Position>,
        span: impl Fn(&str) -> Option<(Position, Position)>,
    ) {
        for f in result.findings {
            let f = Located::from(f);
            // A finding about the policy as a whole (no statement left to point at: the
            // delegation removed) is placed at its statements.
            let pointer = f.pointer.clone().unwrap_or_else(|| "/Statement".into());
            let (p, end) = match span(&pointer) {
                Some((start, end)) => (Some(start), Some(end)),
                None => (
                    f.pointer
                        .as_deref()
                        .and_then(&position)
                        .or_else(|| position("/Statement")),
                    None,
                ),
            };
            self.findings
                .push(f.in_file(file, address, p).ending_at(end));
        }
        self.policies.push(PolicySummary {
            file: file.to_string(),
            address: address.map(str::to_string),
            verdict: result.verdict,
            safety_check: result.safety_check,
        });
    }
}

#[derive(Serialize)]
struct Summary {
    error: usize,
    warning: usize,
    info: usize,
}

/// The JSON document, serialised straight from the report (no intermediate `Value`: a
/// check of thousands of files writes tens of thousands of findings).
#[derive(Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    files_read: usize,
    policies_checked: usize,
    summary: Summary,
    policies: &'a [PolicySummary],
    findings: &'a [Located],
    /// Files of other kinds of policy, skipped, by kind.
    skipped: &'a BTreeMap<DocumentKind, usize>,
    /// Files that could not be read.
    errors: &'a [FileError],
}

pub fn render_json(out: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    let doc = CheckJson {
        schema_version: SCHEMA_VERSION,
        files_read: r.files_read,
        policies_checked: r.policies.len(),
        summary: Summary {
            error: r.count(Severity::Error),
            warning: r.count(Severity::Warning),
            info: r.count(Severity::Info),
        },
        policies: &r.policies,
        findings: &r.findings,
        skipped: &r.skipped,
        errors: &r.errors,
    };
    let mut w = io::BufWriter::new(&mut *out);
    serde_json::to_writer_pretty(&mut w, &doc)?;
    writeln!(w)?;
    w.flush()
}

use super::sarif_level as level;

/// SARIF 2.1.0: one run, the rules that fired listed once, one result per finding.
pub fn render_sarif(out: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &r.findings {
        let n = rules.len();
        rules.entry(f.id).or_insert(n);
    }
    let mut ordered: Vec<(&str, usize)> = rules.iter().map(|(k, v)| (*k, *v)).collect();
    ordered.sort_by_key(|(_, i)| *i);
    let rule_objects: Vec<serde_json::Value> = ordered
        .iter()
        .filter_map(|(id, _)| rule(id).map(super::sarif_rule))
        .collect();
    let results: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            let file = f.file.as_deref().unwrap_or_default();
            let mut physical = json!({"artifactLocation": super::sarif_artifact(file)});
            if let (Some(line), Some(column)) = (f.line, f.column) {
                physical["region"] = json!({"startLine": line, "startColumn": column});
                if let (Some(l), Some(c)) = (f.end_line, f.end_column) {
                    physical["region"]["endLine"] = json!(l);
                    physical["region"]["endColumn"] = json!(c);
                }
            }
            let mut location = json!({"physicalLocation": physical});
            if let Some(a) = &f.address {
                location["logicalLocations"] = json!([{"name": a, "kind": "resource"}]);
            }
            let statement = f
                .statement
                .as_ref()
                .map(|s| s.label.clone().unwrap_or_else(|| format!("#{}", s.index)))
                .unwrap_or_default();
            json!({
                "ruleId": f.id,
                "ruleIndex": rules[f.id],
                "level": level(f.severity),
                "message": {"text": format!("{} Fix: {}.", f.message, f.fix)},
                "locations": [location],
                "partialFingerprints": {
                    "kmsdoctorFinding/v1": super::sarif_fingerprint(&[
                        f.id,
                        file,
                        f.address.as_deref().unwrap_or_default(),
                        &statement,
                        f.pointer.as_deref().unwrap_or_default(),
                    ]),
                },
            })
        })
        .collect();
    // Files that could not be read: notifications of the run, each with its place.
    let notifications: Vec<serde_json::Value> = r
        .errors
        .iter()
        .map(|e| {
            let mut physical = json!({"artifactLocation": super::sarif_artifact(&e.file)});
            if let (Some(line), Some(column)) = (e.line, e.column) {
                physical["region"] = json!({"startLine": line, "startColumn": column});
            }
            json!({
                "level": "error",
                "message": {"text": e.message},
                "locations": [{"physicalLocation": physical}],
            })
        })
        .collect();
    super::write_sarif_run(
        out,
        "kmsdoctor/check/",
        rule_objects,
        results,
        notifications,
    )
}

pub fn render_table(out: &mut dyn Write, r: &CheckReport, style: Style) -> io::Result<()> {
    for f in &r.findings {
        let place = f.place();
        let sev = match f.severity {
            Severity::Error => style.bad("error"),
            Severity::Warning => style.warn("warning"),
            Severity::Info => "info".into(),
        };
        // The place is never wrapped: editors and terminals link FILE:LINE:COL as one word.
        writeln!(out, "{sev} {} {}", f.id, f.rule)?;
        writeln!(out, "  at {}", super::esc(&place))?;
        super::write_wrapped(out, "    ", "    ", &f.message)?;
        super::write_wrapped(out, "    fix: ", "    ", f.fix)?;
    }
    for e in &r.errors {
        let mut place = e.file.clone();
        if let (Some(l), Some(c)) = (e.line, e.column) {
            place.push_str(&format!(":{l}:{c}"));
        }
        writeln!(out, "{} could not be read", style.bad("error"))?;
        writeln!(out, "  at {}", super::esc(&place))?;
        super::write_wrapped(out, "    ", "    ", &e.message)?;
    }
    if !r.findings.is_empty() || !r.errors.is_empty() {
        writeln!(out)?;
    }
    let skipped: usize = r.skipped.values().sum();
    if skipped > 0 {
        let kinds: Vec<String> = r
            .skipped
            .iter()
            .map(|(k, n)| format!("{n} {}", k.short(*n)))
            .collect();
        super::write_wrapped(
            out,
            "",
            "  ",
            &format!(
                "Skipped {skipped} file{} that {} not key policies: {}",
                if skipped == 1 { "" } else { "s" },
                if skipped == 1 { "is" } else { "are" },
                kinds.join(", ")
            ),
        )?;
    }
    if !r.errors.is_empty() {
        writeln!(
            out,
            "{} file{} could not be read: the others were checked",
            r.errors.len(),
            if r.errors.len() == 1 { "" } else { "s" }
        )?;
    }
    writeln!(
        out,
        "{} polic{} in {} file{}: {} error{}, {} warning{}, {} note{}",
        r.policies.len(),
        if r.policies.len() == 1 { "y" } else { "ies" },
        r.files_read,
        if r.files_read == 1 { "" } else { "s" },
        r.count(Severity::Error),
        if r.count(Severity::Error) == 1 {
            ""
        } else {
            "s"
        },
        r.count(Severity::Warning),
        if r.count(Severity::Warning) == 1 {
            ""
        } else {
            "s"
        },
        r.count(Severity::Info),
        if r.count(Severity::Info) == 1 {
            ""
        } else {
            "s"
        },
    )
}
