//! Runs a parsed command line: resolve settings, gather evidence, analyse, report.

use std::io::{self, Write};
use std::path::Path;

use crate::analysis::diagnose::{diagnose, DiagnosisError, Evidence, Setting, Verdict};
use crate::analysis::eval::evaluate;
use crate::analysis::plan::{recovery_plan, PlanInput};
use crate::analysis::policy::PolicyKind;
use crate::analysis::repair::repair;
use crate::cli::{Cli, Command, OutputFormat};
use crate::config::{ExplainConfig, FlagError, WhyLockedConfig};
use crate::evidence::trail_files::{read_all, EventFiles};
use crate::evidence::{files, InputError};
use crate::report::explain::{render_json, render_table, ExplainReport};
use crate::report::why_locked::{self, EvidenceSummary, RepairedPolicy, WhyLockedReport};
use crate::report::{FileFinding, Style};

/// Why a run failed. Every variant exits 1.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Flag(#[from] FlagError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Diagnosis(#[from] DiagnosisError),
    #[error("--write-repaired: {0}")]
    Repair(String),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl AppError {
    /// A reader that stopped reading (`kmsdoctor ... | head`) is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, AppError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// How to talk to the person: colours on stdout, progress on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub style: Style,
    /// Show progress on stderr (only when stderr is a terminal).
    pub progress: bool,
}

/// Runs the command and returns the process exit code. Results go to `out`; warnings and
/// progress to `err`.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write, ui: Ui) -> Result<u8, AppError> {
    match &cli.command {
        Command::Explain(args) => explain(&ExplainConfig::resolve(args)?, out, ui.style),
        Command::WhyLocked(args) => why_locked(&WhyLockedConfig::resolve(args)?, out, err, ui),
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

/// Creates `path` and writes `text` into it; never replaces an existing file.
fn write_new_file(path: &Path, text: &str) -> Result<(), AppError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            AppError::Repair(if e.kind() == io::ErrorKind::AlreadyExists {
                format!(
                    "{} exists; kmsdoctor does not overwrite files: choose another path",
                    path.display()
                )
            } else {
                format!("cannot create {}: {e}", path.display())
            })
        })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| AppError::Repair(format!("cannot write {}: {e}", path.display())))
}

fn why_locked(
    cfg: &WhyLockedConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let policy_text = cfg
        .policy_file
        .as_deref()
        .map(files::load_key_policy_text)
        .transpose()?;
    let events = if cfg.events_files.is_empty() {
        EventFiles::default()
    } else {
        let show = ui.progress;
        let progress = move |done: usize, total: usize| {
            if show && (done == total || done % 16 == 0) {
                eprint!("\rkmsdoctor: reading CloudTrail files {done}/{total}");
                if done == total {
                    eprintln!();
                }
            }
        };
        read_all(&cfg.events_files, &progress)?
    };
    if events.unreadable > 0 {
        writeln!(
            err,
            "kmsdoctor: warning: skipped {} unreadable CloudTrail record{}",
            events.unreadable,
            if events.unreadable == 1 { "" } else { "s" }
        )?;
    }
    let diagnosis = diagnose(Evidence {
        key: cfg.key.clone(),
        current_policy: policy_text.as_deref(),
        events: &events.events,
        account: cfg.account.as_deref(),
        now: cfg.now,
    })?;
    if diagnosis.key.account.is_none() && diagnosis.policy_text.is_some() {
        return Err(FlagError {
            flag: "--account",
            message: "the key's account is not known from the key id or the evidence: give the key ARN or --account".into(),
        }
        .into());
    }

    let repaired = match (
        &cfg.write_repaired,
        &diagnosis.policy_text,
        &diagnosis.key.account,
    ) {
        (None, _, _) => None,
        (Some(_), None, _) | (Some(_), _, None) => {
            return Err(AppError::Repair(
                "there is no key policy to repair: give --policy-file or CloudTrail events".into(),
            ))
        }
        (Some(path), Some(text), Some(account)) => {
            let setting = Setting {
                key: &diagnosis.key,
                account,
                now: cfg.now,
            };
            let r = repair(text, &setting).map_err(AppError::Repair)?;
            write_new_file(path, &r.policy)?;
            Some(RepairedPolicy {
                path: path.display().to_string(),
                changes: r.changes,
            })
        }
    };
    let plan = recovery_plan(&PlanInput {
        diagnosis: &diagnosis,
        repaired_path: repaired.as_ref().map(|r| r.path.as_str()),
        rerun: &cfg.rerun,
    });
    let summary = EvidenceSummary {
        policy_file: cfg.policy_file.as_ref().map(|p| p.display().to_string()),
        event_files: events.files,
        bytes: events.bytes,
        records: events.records,
        unreadable_records: events.unreadable,
        events_for_key: diagnosis.history.len() + diagnosis.failed_changes.len(),
    };
    let report = WhyLockedReport {
        diagnosis: &diagnosis,
        plan: &plan,
        repaired: repaired.as_ref(),
        evidence: &summary,
    };
    match cfg.output {
        OutputFormat::Json => why_locked::render_json(out, &report)?,
        OutputFormat::Table => why_locked::render_table(out, &report, ui.style)?,
    }
    out.flush()?;
    Ok(if diagnosis.verdict == Verdict::Unknown {
        5
    } else {
        diagnosis.verdict.exit_code()
    })
}
