//! Rendering: one renderer per output format, each writing to `&mut dyn Write`. The JSON
//! renderers use serialize-only wire types defined next to them; their shape is a contract
//! (documented in the README) and carries a `schema_version`.

pub mod explain;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::locate::Position;
use crate::analysis::policy::{Finding, Policy};

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

/// A parser finding with the file it was found in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileFinding {
    pub file: PathBuf,
    pub policy: String,
    #[serde(flatten)]
    pub finding: Finding,
    /// For a policy embedded in `get-key-policy` output: where its `Policy` string starts
    /// in the file (`position` is then inside the embedded document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_at: Option<Position>,
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
