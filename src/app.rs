//! Runs a parsed command line: resolve settings, gather evidence, analyse, report.

use std::io::{self, Write};

use crate::analysis::eval::evaluate;
use crate::analysis::policy::PolicyKind;
use crate::cli::{Cli, Command, OutputFormat};
use crate::config::{ExplainConfig, FlagError};
use crate::evidence::{files, InputError};
use crate::report::explain::{render_json, render_table, ExplainReport};
use crate::report::{FileFinding, Style};

/// Why a run failed. Every variant exits 1.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Flag(#[from] FlagError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl AppError {
    /// A reader that stopped reading (`kmsdoctor ... | head`) is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, AppError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Runs the command and returns the process exit code.
pub fn run(cli: &Cli, out: &mut dyn Write, style: Style) -> Result<u8, AppError> {
    match &cli.command {
        Command::Explain(args) => explain(&ExplainConfig::resolve(args)?, out, style),
    }
}

fn explain(cfg: &ExplainConfig, out: &mut dyn Write, style: Style) -> Result<u8, AppError> {
    let key_policy = cfg
        .policy_file
        .as_deref()
        .map(|p| files::load_policy(p, PolicyKind::Key, "key-policy"))
        .transpose()?;
    let identity = cfg
        .identity_policies
        .iter()
        .map(|p| files::load_policy(p, PolicyKind::Identity, &files::policy_name(p)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut findings = Vec::new();
    if let (Some(path), Some(policy)) = (&cfg.policy_file, &key_policy) {
        findings.extend(FileFinding::all(path, policy));
    }
    for (path, policy) in cfg.identity_policies.iter().zip(&identity) {
        findings.extend(FileFinding::all(path, policy));
    }

    let identity_arg = (!cfg.identity_policies.is_empty()).then_some(identity.as_slice());
    let evaluation = evaluate(&cfg.request, key_policy.as_ref(), identity_arg);
    let report = ExplainReport {
        request: &cfg.request,
        context: cfg.request.context(),
        key_account_assumed: cfg.key_account_assumed,
        evaluation: &evaluation,
        findings: &findings,
    };
    match cfg.output {
        OutputFormat::Json => render_json(out, &report)?,
        OutputFormat::Table => render_table(out, &report, style)?,
    }
    out.flush()?;
    Ok(0)
}
