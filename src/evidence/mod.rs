//! The evidence layer: the only place that reads files and talks to AWS. It turns outside
//! input into kmsdoctor's own types, and every failure into an [`InputError`] that names the
//! file and the place in it. The seam the commands ask through is [`source::EvidenceSource`];
//! the input decoders (CloudTrail records, CloudFormation, Terraform plans in `sources`) live
//! here too.

pub mod archive;
pub mod athena;
pub mod aws;
pub mod aws_source;
pub mod bundle;
pub mod cloudformation;
pub mod cloudtrail_records;
pub mod digest;
pub mod fake;
pub mod files;
pub mod inputs;
pub mod layers;
pub mod scan_file;
pub mod settings;
pub mod shape;
pub mod source;
pub mod trail_files;

use std::path::{Path, PathBuf};

use crate::analysis::locate::Position;

/// The `kind` of the evidence bundle `collect` writes (read by `--from`, and recognised when
/// given where a policy is expected).
pub const BUNDLE_KIND: &str = "kmsdoctor-evidence-bundle";

/// A value kmsdoctor cannot use, in words: what a reader of one field or one document says
/// (its caller adds which file or call the value came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Input that cannot be used: which file, where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct InputError {
    pub file: PathBuf,
    pub position: Option<Position>,
    /// JSON pointer of the offending value, when there is one.
    pub pointer: Option<String>,
    pub message: String,
}

impl InputError {
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_path_buf(),
            position: None,
            pointer: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for InputError {
    /// `FILE:LINE:COL: MESSAGE (at /json/pointer)`, the shape editors and CI logs link.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        write!(f, ": {}", self.message)?;
        match self.pointer.as_deref() {
            Some(ptr) if ptr != "/" => write!(f, " (at {ptr})"),
            _ => Ok(()),
        }
    }
}
