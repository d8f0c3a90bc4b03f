//! Rendering: one renderer per output format, each writing to `&mut dyn Write`. The JSON
//! renderers use serialize-only wire types defined next to them; their shape is a contract
//! (documented in docs/) and carries a `schema_version`.

pub mod check;
pub mod explain;
pub mod fix;
pub mod guard;
pub mod history;
pub mod scan;
pub mod why_locked;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::locate::Position;
use crate::analysis::policy::Policy;
use crate::analysis::rules::{Finding, Severity};

/// Terminal styling: only when stdout is a terminal and `NO_COLOR` is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn plain() -> Self {
        Style { color: false }
    }

    /// Decides from the environment, as the NO_COLOR convention asks.
    pub fn detect(stdout_is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: stdout_is_terminal && !no_color,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn good(&self, s: &str) -> String {
        self.paint("1;32", s)
    }
    pub fn bad(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint("1;33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// A finding on the wire: the one JSON shape of a finding in every command's output
/// (`why-locked`, `check`, `explain`, `scan`). Fields that do not apply are left out.
#[derive(Debug, Clone, Serialize)]
pub struct FindingJson {
    /// The rule's id (`KL201`) and name (`delegation-missing`).
    pub id: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// What to do about it (the cause's fix for an outcome reported with its cause).
    pub fix: &'static str,
    /// For an outcome reported with its cause (check's KC301): the cause's rule id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// The statement concerned (for a change, the statement of the version before it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementJson>,
    /// The CloudTrail event concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The file, its template resource, and the place in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Where what the finding is about ends (just past it), when known (JSON files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    /// JSON pointer into the policy document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// For a policy embedded in `get-key-policy` output: where its `Policy` string starts
    /// in the file (`line` and `column` are then inside the embedded document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_at: Option<Position>,
}

impl From<Finding> for FindingJson {
    /// Takes the finding's strings as they are (`check` turns tens of thousands of findings).
    fn from(f: Finding) -> FindingJson {
        let pointer = f.pointer();
        let (id, rule, severity, fix, cause) = (
            f.rule.id,
            f.rule.name,
            f.severity,
            f.fix(),
            f.cause.map(|c| c.id),
        );
        let index = f.statement_index();
        let (line, column) = (f.position.map(|p| p.line), f.position.map(|p| p.column));
        let (statement, event) = match f.subject {
            crate::analysis::rules::Subject::Statement(s) => (
                Some(StatementJson {
                    index: s.index,
                    sid: s.sid,
                    label: Some(s.label),
                }),
                None,
            ),
            crate::analysis::rules::Subject::Change {
                event_id,
                statement: s,
            } => (
                Some(StatementJson {
                    index: s.index,
                    sid: s.sid,
                    label: Some(s.label),
                }),
                Some(event_id),
            ),
            crate::analysis::rules::Subject::Event(e) => (None, Some(e)),
            crate::analysis::rules::Subject::Policy => (
                index.map(|index| StatementJson {
                    index,
                    sid: None,
                    label: None,
                }),
                None,
            ),
        };
        FindingJson {
            id,
            rule,
            severity,
            message: f.message,
            fix,
            cause,
            statement,
            event,
            file: None,
            address: None,
            line,
            column,
            end_line: None,
            end_column: None,
            pointer,
            embedded_at: None,
        }
    }
}

/// A statement on the wire: its index, and its Sid and label when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementJson {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl FindingJson {
    pub fn of(f: &Finding) -> FindingJson {
        FindingJson::from(f.clone())
    }

    /// Where it ends in its file.
    pub fn ending_at(mut self, end: Option<Position>) -> FindingJson {
        self.end_line = end.map(|p| p.line);
        self.end_column = end.map(|p| p.column);
        self
    }

    /// The same finding, placed in a file (and a template resource).
    pub fn in_file(
        mut self,
        file: &str,
        address: Option<&str>,
        position: Option<Position>,
    ) -> FindingJson {
        self.file = Some(file.to_string());
        self.address = address.map(str::to_string);
        if position.is_some() {
            self.line = position.map(|p| p.line);
            self.column = position.map(|p| p.column);
        }
        self
    }

    /// `FILE[:LINE:COL][ (ADDRESS)]`.
    pub fn place(&self) -> String {
        let mut place = self.file.clone().unwrap_or_default();
        if let (Some(l), Some(c)) = (self.line, self.column) {
            place.push_str(&format!(":{l}:{c}"));
        }
        if let Some(a) = &self.address {
            place.push_str(&format!(" ({a})"));
        }
        place
    }
}

/// A parser finding with the file it was found in.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFinding {
    pub file: PathBuf,
    pub policy: String,
    pub finding: Finding,
    /// For a policy embedded in `get-key-policy` output: where its `Policy` string starts
    /// in the file (`position` is then inside the embedded document).
    pub embedded_at: Option<Position>,
}

/// explain's `findings`: the one finding shape, with the file and the policy's name.
#[derive(Serialize)]
struct FileFindingJson<'a> {
    /// The policy's name (`key-policy`, or the identity policy's).
    policy: &'a str,
    #[serde(flatten)]
    finding: FindingJson,
}

impl Serialize for FileFinding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut finding = FindingJson::of(&self.finding).in_file(
            &self.file.display().to_string(),
            None,
            self.finding.position,
        );
        finding.embedded_at = self.embedded_at;
        FileFindingJson {
            policy: &self.policy,
            finding,
        }
        .serialize(s)
    }
}

/// The word for a severity in tables, coloured when the style says so.
pub(crate) fn severity_word(s: Severity, style: Style) -> String {
    match s {
        Severity::Error => style.bad("error"),
        Severity::Warning => style.warn("warning"),
        Severity::Info => "info".into(),
    }
}

impl FileFinding {
    pub fn all(file: &Path, policy: &Policy) -> Vec<FileFinding> {
        policy
            .findings
            .iter()
            .map(|f| FileFinding {
                file: file.to_path_buf(),
                policy: policy.name.clone(),
                finding: f.clone(),
                embedded_at: policy.embedded_at,
            })
            .collect()
    }

    /// `FILE:LINE:COL`, pointing into the file (for an embedded policy, at its `Policy`
    /// string, with the place inside it in words).
    pub fn location(&self) -> String {
        let mut s = self.file.display().to_string();
        match (self.embedded_at, self.finding.position) {
            (Some(at), inner) => {
                s.push_str(&format!(":{}:{}", at.line, at.column));
                if let Some(p) = inner {
                    s.push_str(&format!(" (embedded policy {}:{})", p.line, p.column));
                }
            }
            (None, Some(p)) => s.push_str(&format!(":{}:{}", p.line, p.column)),
            (None, None) => {}
        }
        s
    }
}

/// Text from input, safe for a terminal (`analysis::escape`).
pub(crate) fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    crate::analysis::escape::visible(s)
}

/// A severity as SARIF names its levels.
pub(crate) fn sarif_level(s: crate::analysis::rules::Severity) -> &'static str {
    use crate::analysis::rules::Severity;
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A SARIF 2.1.0 log of one kmsdoctor run: its rules and results.
pub(crate) fn write_sarif(
    out: &mut dyn std::io::Write,
    rules: Vec<serde_json::Value>,
    results: Vec<serde_json::Value>,
) -> std::io::Result<()> {
    write_sarif_with(out, rules, results, Vec::new())
}

/// [`write_sarif`], with the run's notifications (inputs that could not be read).
pub(crate) fn write_sarif_with(
    out: &mut dyn std::io::Write,
    rules: Vec<serde_json::Value>,
    results: Vec<serde_json::Value>,
    notifications: Vec<serde_json::Value>,
) -> std::io::Result<()> {
    write_sarif_run(out, "kmsdoctor/scan/", rules, results, notifications)
}

/// A SARIF rule from the registry, as GitHub code scanning reads it: `fullDescription` and
/// `help` (text and markdown) from the rule's meaning and fix, and `security-severity`
/// (every kmsdoctor rule is about access to a key: errors high, warnings medium, notes low).
pub(crate) fn sarif_rule(r: &crate::analysis::rules::Rule) -> serde_json::Value {
    let severity = match r.severity {
        Severity::Error => "8.0",
        Severity::Warning => "5.0",
        Severity::Info => "2.0",
    };
    serde_json::json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.name.replace('-', " ")},
        "fullDescription": {"text": r.summary},
        "help": {
            "text": format!("{}. Fix: {}.", r.summary, r.fix),
            "markdown": format!("**{} {}**: {}.\n\nFix: {}.", r.id, r.name, r.summary, r.fix),
        },
        "defaultConfiguration": {"level": sarif_level(r.severity)},
        "properties": {
            "tags": ["security"],
            "security-severity": severity,
        },
    })
}

/// Where a file is, as SARIF names it: relative to the folder kmsdoctor ran in (the
/// repository, in CI) under `%SRCROOT%`, percent-encoded; a file elsewhere by its `file:` URI.
pub(crate) fn sarif_artifact(file: &str) -> serde_json::Value {
    let encode = |p: &str| -> String {
        let mut out = String::with_capacity(p.len());
        for c in p.replace('\\', "/").chars() {
            match c {
                'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(c),
                c => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
            }
        }
        out
    };
    let path = std::path::Path::new(file);
    let cwd = std::env::current_dir().ok();
    let relative = if path.is_absolute() {
        cwd.as_deref().and_then(|c| path.strip_prefix(c).ok())
    } else {
        Some(path)
    };
    match relative {
        Some(rel) => {
            let rel = rel.to_string_lossy();
            serde_json::json!({
                "uri": encode(rel.trim_start_matches("./")),
                "uriBaseId": "%SRCROOT%",
            })
        }
        None => serde_json::json!({"uri": format!("file://{}", encode(file))}),
    }
}

/// A finding's fingerprint across runs: what it is about, not the line it is on (a line
/// moves when the file above it changes).
pub(crate) fn sarif_fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A SARIF 2.1.0 log of one run: `automation` tells the runs of `check` and `scan` apart
/// (`automationDetails.id`), so that uploads for one commit do not replace each other.
pub(crate) fn write_sarif_run(
    out: &mut dyn std::io::Write,
    automation: &str,
    rules: Vec<serde_json::Value>,
    results: Vec<serde_json::Value>,
    notifications: Vec<serde_json::Value>,
) -> std::io::Result<()> {
    let root = std::env::current_dir()
        .map(|d| {
            let d = d.to_string_lossy().replace('\\', "/");
            let d = if d.ends_with('/') { d } else { format!("{d}/") };
            format!(
                "file://{}",
                if d.starts_with('/') {
                    d
                } else {
                    format!("/{d}")
                }
            )
        })
        .unwrap_or_else(|_| "file:///".into());
    let mut doc = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kmsdoctor",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "automationDetails": {"id": automation},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
            "results": results,
        }],
    });
    if !notifications.is_empty() {
        doc["runs"][0]["invocations"] = serde_json::json!([{
            "executionSuccessful": false,
            "toolExecutionNotifications": notifications,
        }]);
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// Writes `text` word-wrapped to 80 columns: `first` before the first line, `rest` before
/// the others. A word longer than a line (an ARN) gets a line of its own. `text` is made safe
/// for a terminal; `first` and `rest` are kmsdoctor's own (they may hold colours).
pub(crate) fn write_wrapped(
    out: &mut dyn std::io::Write,
    first: &str,
    rest: &str,
    text: &str,
) -> std::io::Result<()> {
    let text = esc(text);
    let text = text.as_ref();
    const WIDTH: usize = 80;
    let visible = |s: &str| {
        // ANSI colour codes take no columns.
        let mut n = 0;
        let mut in_escape = false;
        for c in s.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                _ => n += 1,
            }
        }
        n
    };
    let mut line = String::from(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && visible(&line) + 1 + word.chars().count() > WIDTH {
            writeln!(out, "{line}")?;
            line = String::from(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        // A word longer than a line (an ARN after an indent) stands whole on its own line:
        // broken, it would no longer copy as one ARN.
        line.push_str(word);
        empty = false;
    }
    writeln!(out, "{line}")
}

#[cfg(test)]
mod tests {
    /// Words wrap at 80 columns; a word longer than a line (an ARN after an indent) stands
    /// whole on its own line, so that it copies as one ARN.
    #[test]
    fn wrapping_keeps_long_words_whole() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab.";
        let text = format!("open a case with AWS Support from account 111122223333, naming the key {arn} Only AWS can restore access");
        let mut out = Vec::new();
        super::write_wrapped(&mut out, "  1. ", "     ", &text).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&format!("     {arn}").as_str()), "{out}");
        for l in &lines {
            assert!(l.chars().count() <= 80 || !l.trim().contains(' '), "{l}");
        }
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            format!("1. {text}").split_whitespace().collect::<Vec<_>>()
        );
    }
}
