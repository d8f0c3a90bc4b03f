//! `kmsdoctor why-locked`: why a key's policy locks people out, who can still get back in,
//! and how. Evidence from files, a bundle, or AWS; the verdict is the exit code.

use std::io::Write;

use super::{investigate, lookup_progress, warn_problems, AppError, Progress, Scope, Throttle, Ui};
use crate::analysis::lockout::Setting;
use crate::analysis::plan::{recovery_plan, PlanInput};
use crate::analysis::policy::PolicyKind;
use crate::analysis::repair::repair;
use crate::cli::{OutputFormat, WhyLockedArgs};
use crate::config::{FlagError, Source, WhyLockedConfig};
use crate::evidence::aws_source::{self, AwsSource};
use crate::evidence::files;
use crate::evidence::source::{BundleSource, EvidenceSource, FileSource};
use crate::report::why_locked::{self, EvidenceSummary, RepairedPolicy, WhyLockedReport};
use crate::report::FileFinding;

/// Problems AWS would reject in the layers' policy files, as warnings: the statements
/// concerned take no part in the decision.
fn warn_layer_findings(err: &mut dyn Write, findings: &[FileFinding]) -> std::io::Result<()> {
    let lines: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{}: {} {}",
                f.location(),
                f.finding.rule.id,
                f.finding.message
            )
        })
        .collect();
    warn_problems(err, &lines)
}

pub fn run(
    args: &WhyLockedArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let cfg = WhyLockedConfig::resolve(args)?;
    // Created before any work: a path that cannot be a new file would waste the run; removed
    // again if the run fails or there is nothing to write.
    let repaired_file = cfg
        .write_repaired
        .as_deref()
        .map(|p| files::NewFile::create(p, "--write-repaired"))
        .transpose()?;
    let inv = gather(&cfg, err, ui)?;
    let diagnosis = &inv.diagnosis;
    let repaired = match (repaired_file, &diagnosis.policy, &diagnosis.key.account) {
        (None, _, _) => None,
        (Some(_), None, _) | (Some(_), _, None) => {
            return Err(AppError::Repair(
                "there is no key policy to repair: give --policy-file or CloudTrail events".into(),
            ))
        }
        (Some(file), Some(doc), Some(account)) => {
            let setting = setting_of(&inv, account, cfg.now);
            let r = repair(&doc.text, &setting).map_err(|e| AppError::Repair(e.to_string()))?;
            let path = file.path().display().to_string();
            file.finish(&r.policy)?;
            Some(RepairedPolicy {
                path,
                changes: r.changes,
            })
        }
    };
    let plan = recovery_plan(&PlanInput {
        diagnosis,
        repaired_path: repaired.as_ref().map(|r| r.path.as_str()),
        rerun: &cfg.rerun,
        flags: &cfg.flags,
    });
    let summary = evidence_summary(&cfg, &inv);
    let report = WhyLockedReport {
        diagnosis,
        plan: &plan,
        repaired: repaired.as_ref(),
        evidence: &summary,
    };
    match cfg.output {
        OutputFormat::Json => why_locked::render_json(out, &report)?,
        OutputFormat::Table => why_locked::render_table(out, &report, ui.style)?,
    }
    out.flush()?;
    Ok(diagnosis.verdict.exit_code())
}

/// The evidence read and the key diagnosed, as `why-locked` and `history` share them: the
/// source the flags chose, the layers' files, the investigation, and the warnings on stderr.
pub(crate) fn gather(
    cfg: &WhyLockedConfig,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<super::Investigation, AppError> {
    let mode = ui.progress;
    let throttle = Throttle::new();
    let file_progress = move |done: usize, total: usize| match mode {
        Progress::Terminal => {
            if done == total || done.is_multiple_of(16) {
                say_part!("\rkmsdoctor: reading CloudTrail files {done}/{total}");
                if done == total {
                    say!();
                }
            }
        }
        // Lines: only for a long read (a line every few seconds; none for a quick one).
        Progress::Lines => {
            if done < total && throttle.due() {
                say!("kmsdoctor: reading CloudTrail files {done}/{total}");
            }
        }
    };
    let lookups = lookup_progress(ui.progress);
    let mut source: Box<dyn EvidenceSource> = match &cfg.source {
        Source::Files {
            policy_file,
            events_files,
        } => Box::new(FileSource {
            key: cfg.key.clone(),
            policy_file: policy_file.clone(),
            events_files: events_files.clone(),
            progress: &file_progress,
        }),
        Source::Bundle(path) => Box::new(BundleSource::open(path)?),
        Source::Live(live) => Box::new(AwsSource::connect(
            aws_source::Request::new(&live.connection, &cfg.key_input, live.since, cfg.now)
                .with_history(live.history.clone())
                .with_archive(live.archive.clone()),
            &lookups,
        )?),
    };
    let mut findings = Vec::new();
    let identity = cfg
        .identity_policies
        .iter()
        .map(|p| {
            let policy = files::load_policy(p, PolicyKind::Identity, &files::policy_name(p))?;
            findings.extend(FileFinding::all(p, &policy));
            Ok(policy)
        })
        .collect::<Result<Vec<_>, crate::evidence::InputError>>()?;
    let layer_policies = files::load_layers(&cfg.layers, &mut |path, policy| {
        findings.extend(FileFinding::all(path, policy))
    })?;
    let identity = (!cfg.identity_policies.is_empty()).then_some(identity.as_slice());
    let inv = investigate(
        source.as_mut(),
        &Scope {
            key: cfg.key.as_ref(),
            account: cfg.account.as_deref(),
            now: cfg.now,
            caller: cfg.caller.as_deref(),
            layers: cfg.has_layers().then_some((&layer_policies, identity)),
        },
    )?;
    warn_layer_findings(err, &findings)?;
    if matches!(cfg.source, Source::Live(_)) {
        if ui.progress == Progress::Terminal {
            say!();
        }
        warn_problems(err, &inv.source_problems)?;
    }
    if inv.events.event_files > 0 && inv.events.unreadable > 0 {
        writeln!(
            err,
            "kmsdoctor: warning: skipped {} unreadable CloudTrail record{}{}",
            inv.events.unreadable,
            if inv.events.unreadable == 1 { "" } else { "s" },
            if inv.events.skipped.is_empty() {
                ""
            } else {
                ":"
            }
        )?;
        for s in &inv.events.skipped {
            writeln!(err, "  {s}")?;
        }
        let said = inv.events.skipped.len() as u64;
        if inv.events.unreadable > said && said > 0 {
            writeln!(err, "  and {} more", inv.events.unreadable - said)?;
        }
    }
    let mut inv = inv;
    if inv.diagnosis.account_from_policy {
        let note = format!(
            "the key's account {} is taken from the policy, the only account it names: if the key is in another account, give the key ARN or --account",
            inv.diagnosis.key.account.as_deref().unwrap_or("?")
        );
        warn_problems(err, std::slice::from_ref(&note))?;
        inv.problems.push(note);
    }
    let diagnosis = &inv.diagnosis;
    if diagnosis.key.account.is_none() {
        if let Some(doc) = &diagnosis.policy {
            let named: Vec<String> = crate::analysis::lockout::named_accounts(&doc.policy)
                .into_iter()
                .collect();
            let which = match named.len() {
                0 => "the policy names no account".to_string(),
                _ => format!("the policy names several ({})", named.join(", ")),
            };
            return Err(FlagError {
                flag: "--account",
                message: format!("the key's account is not known from the key id or the evidence, and {which}: give the key ARN or --account"),
            }
            .into());
        }
    }
    Ok(inv)
}

/// What the evidence amounted to, for the report.
fn evidence_summary(cfg: &WhyLockedConfig, inv: &super::Investigation) -> EvidenceSummary {
    let policy_file = match &cfg.source {
        Source::Files { policy_file, .. } => policy_file.as_ref().map(|p| p.display().to_string()),
        _ => None,
    };
    let e = &inv.events;
    let diagnosis = &inv.diagnosis;
    EvidenceSummary {
        source: match &cfg.source {
            Source::Files { .. } => "files",
            Source::Bundle(_) => "bundle",
            Source::Live(_) => "aws",
        },
        complete: e.complete,
        problems: inv.problems.clone(),
        lookup_calls: e.lookup_calls,
        policy_file,
        event_files: e.event_files,
        bytes: e.bytes,
        records: e.records,
        unreadable_records: e.unreadable,
        events_for_key: diagnosis.history.len() + diagnosis.failed_changes.len(),
        archive: e.archive.clone(),
    }
}

/// `kmsdoctor history`: every version of the key policy from the same evidence as
/// `why-locked`, each with who made it, from where, its verdict and what it changed.
pub fn run_history(
    args: &WhyLockedArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let cfg = WhyLockedConfig::resolve(args)?;
    if cfg.write_repaired.is_some() {
        return Err(FlagError {
            flag: "--write-repaired",
            message: "history writes no policy: use why-locked for a repaired one".into(),
        }
        .into());
    }
    let inv = gather(&cfg, err, ui)?;
    let d = &inv.diagnosis;
    let timeline = match &d.key.account {
        Some(account) => {
            let setting = setting_of(&inv, account, cfg.now);
            crate::analysis::lockout::timeline(&d.history, &setting)
        }
        None => crate::analysis::lockout::timeline_without_account(&d.history),
    };
    let summary = evidence_summary(&cfg, &inv);
    let report = crate::report::history::HistoryReport {
        key: d.key.arn.as_deref().unwrap_or(d.key.id.as_str()),
        verdict: d.verdict,
        versions: &timeline,
        failed_changes: &d.failed_changes,
        evidence: &summary,
    };
    match cfg.output {
        OutputFormat::Json => crate::report::history::render_json(out, &report)?,
        OutputFormat::Table => crate::report::history::render_table(out, &report, ui.style)?,
    }
    out.flush()?;
    Ok(0)
}

/// The setting the key is judged in: its account, the time, and what the evidence says of
/// it (aliases, DescribeKey).
fn setting_of<'a>(
    inv: &'a super::Investigation,
    account: &'a str,
    now: chrono::DateTime<chrono::Utc>,
) -> Setting<'a> {
    Setting::new(
        &inv.diagnosis.key,
        account,
        now,
        inv.key_evidence.aliases.as_deref(),
        inv.key_evidence.properties.as_ref(),
    )
}
