//! Runs a parsed command line: resolve settings, gather evidence, analyse, report.

use std::io::{self, Write};
use std::path::Path;

use crate::analysis::eval::evaluate;
use crate::analysis::lockout::{
    apply_iam_facts, diagnose, note_incomplete, DiagnosisError, Evidence, Setting,
};
use crate::analysis::plan::{recovery_plan, PlanInput};
use crate::analysis::policy::PolicyKind;
use crate::analysis::repair::repair;
use crate::cli::{Cli, Command, OutputFormat};
use crate::config::{CollectConfig, ExplainConfig, FlagError, LiveConfig, Source, WhyLockedConfig};
use crate::evidence::aws::{LiveError, LookupPacing};
use crate::evidence::live::{self, Bundle};
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
    #[error(transparent)]
    Live(#[from] LiveError),
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
        Command::Collect(args) => collect(&CollectConfig::resolve(args)?, err, ui),
        Command::Check(args) => check(args, out, ui.style),
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

/// The evidence for a diagnosis, from wherever it came.
struct Gathered {
    key: crate::analysis::lockout::KeyRef,
    policy_text: Option<String>,
    events: Vec<crate::analysis::events::PolicyEvent>,
    files: EventFiles,
    bundle: Option<Bundle>,
}

impl Gathered {
    /// Evidence from a bundle (read from a file, or just collected from AWS).
    fn from_bundle(bundle: Bundle, events: Vec<crate::analysis::events::PolicyEvent>) -> Gathered {
        Gathered {
            key: bundle.key.clone(),
            policy_text: bundle.key_facts.policy.clone(),
            events,
            files: EventFiles::default(),
            bundle: Some(bundle),
        }
    }
}

fn progress_printer(show: bool) -> impl Fn(u32, usize) + Sync {
    move |pages: u32, found: usize| {
        if show {
            eprint!("\rkmsdoctor: CloudTrail LookupEvents page {pages}, {found} policy event(s) for the key ");
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AppError::Output)
}

fn live_request(
    key_input: &str,
    live: &LiveConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> live::Request {
    live::Request {
        connection: live.connection.clone(),
        key_input: key_input.to_string(),
        since: live.since,
        now,
        pacing: LookupPacing::from_env(),
    }
}

fn read_bundle(path: &Path) -> Result<Bundle, AppError> {
    let text = files::read_text(path, 64 * 1024 * 1024)?;
    let bundle: Bundle = serde_json::from_str(&text).map_err(|e| InputError {
        file: path.to_path_buf(),
        position: (e.line() > 0).then(|| crate::analysis::locate::Position {
            line: e.line(),
            column: e.column(),
        }),
        pointer: None,
        message: format!("not a kmsdoctor evidence bundle: {e}"),
    })?;
    bundle.check().map_err(|m| InputError::new(path, m))?;
    Ok(bundle)
}

fn gather(cfg: &WhyLockedConfig, err: &mut dyn Write, ui: Ui) -> Result<Gathered, AppError> {
    match &cfg.source {
        Source::Files {
            policy_file,
            events_files,
        } => {
            let policy_text = policy_file
                .as_deref()
                .map(files::load_key_policy_text)
                .transpose()?;
            let files = if events_files.is_empty() {
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
                read_all(events_files, &progress)?
            };
            let key = cfg.key.clone().ok_or_else(|| FlagError {
                flag: "KEY",
                message: "an alias needs AWS to resolve: give the key id or key ARN".into(),
            })?;
            Ok(Gathered {
                key,
                policy_text,
                events: files.events.clone(),
                files,
                bundle: None,
            })
        }
        Source::Bundle(path) => {
            let bundle = read_bundle(path)?;
            if let Some(k) = &cfg.key {
                if k.id != bundle.key.id {
                    return Err(FlagError {
                        flag: "KEY",
                        message: format!("the bundle is about key {}, not {}", bundle.key.id, k.id),
                    }
                    .into());
                }
            }
            let events = bundle
                .events()
                .map_err(|m| InputError::new(path, format!("its records cannot be read: {m}")))?;
            Ok(Gathered::from_bundle(bundle, events))
        }
        Source::Live(live) => {
            let progress = progress_printer(ui.progress);
            let (bundle, _) = runtime()?
                .block_on(live::collect(
                    &live_request(&cfg.key_input, live, cfg.now),
                    &progress,
                ))
                .map_err(AppError::Live)?;
            if ui.progress {
                eprintln!();
            }
            for p in &bundle.problems {
                writeln!(err, "kmsdoctor: warning: {p}")?;
            }
            let events = bundle.events().map_err(|m| AppError::Live(LiveError(m)))?;
            Ok(Gathered::from_bundle(bundle, events))
        }
    }
}

fn why_locked(
    cfg: &WhyLockedConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let g = gather(cfg, err, ui)?;
    if g.files.unreadable > 0 {
        writeln!(
            err,
            "kmsdoctor: warning: skipped {} unreadable CloudTrail record{}",
            g.files.unreadable,
            if g.files.unreadable == 1 { "" } else { "s" }
        )?;
    }
    let b = g.bundle.as_ref();
    let mut diagnosis = diagnose(Evidence {
        key: g.key.clone(),
        current_policy: g.policy_text.as_deref(),
        events: &g.events,
        account: cfg
            .account
            .as_deref()
            .or(b.map(|b| b.caller.account.as_str())),
        now: cfg.now,
        aliases: b.and_then(|b| b.key_facts.aliases.as_deref()),
        caller: b.map(|b| b.caller.arn.as_str()),
    })?;
    let mut problems = b.map(|b| b.problems.clone()).unwrap_or_default();
    if let Some(b) = b {
        if crate::analysis::principal::Caller::parse(&b.caller.arn).is_err() {
            problems.push(format!(
                "the caller {} is not a user, role or session ARN: whether it can get back in is not evaluated",
                b.caller.arn
            ));
        }
        apply_iam_facts(&mut diagnosis, &b.existence, b.simulation.as_deref());
        note_incomplete(
            &mut diagnosis,
            &problems,
            b.lookup.complete,
            b.key_facts.policy_error.as_deref(),
        );
    }
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
                aliases: b.and_then(|b| b.key_facts.aliases.as_deref()),
            };
            let r = repair(text, &setting).map_err(|e| AppError::Repair(e.to_string()))?;
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
    let policy_file = match &cfg.source {
        Source::Files { policy_file, .. } => policy_file.as_ref().map(|p| p.display().to_string()),
        _ => None,
    };
    let summary = EvidenceSummary {
        source: match &cfg.source {
            Source::Files { .. } => "files",
            Source::Bundle(_) => "bundle",
            Source::Live(_) => "aws",
        },
        complete: b.is_none_or(|b| b.lookup.complete),
        problems,
        lookup_calls: b.map_or(0, |b| b.lookup.calls),
        policy_file,
        event_files: g.files.files,
        bytes: g.files.bytes,
        records: g.files.records + b.map_or(0, |b| b.lookup.records),
        unreadable_records: g.files.unreadable + b.map_or(0, |b| b.lookup.unreadable),
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
    Ok(diagnosis.verdict.exit_code())
}

fn collect(cfg: &CollectConfig, err: &mut dyn Write, ui: Ui) -> Result<u8, AppError> {
    // Fail before calling AWS if the output cannot be created.
    if cfg.output.exists() {
        return Err(AppError::Repair(format!(
            "{} exists; kmsdoctor does not overwrite files: choose another path",
            cfg.output.display()
        )));
    }
    let progress = progress_printer(ui.progress);
    let (bundle, clients) = runtime()?
        .block_on(live::collect(
            &live_request(&cfg.key_input, &cfg.live, chrono::Utc::now()),
            &progress,
        ))
        .map_err(AppError::Live)?;
    if ui.progress {
        eprintln!();
    }
    let text =
        serde_json::to_string_pretty(&bundle).map_err(|e| AppError::Output(io::Error::other(e)))?;
    write_new_file(&cfg.output, &(text + "\n"))?;
    for p in &bundle.problems {
        writeln!(err, "kmsdoctor: warning: {p}")?;
    }
    writeln!(
        err,
        "kmsdoctor: wrote {}: key {}, policy {}, {} policy event(s), {} AWS call(s)",
        cfg.output.display(),
        bundle.key.arn.as_deref().unwrap_or(&bundle.key.id),
        if bundle.key_facts.policy.is_some() {
            "read"
        } else {
            "not readable"
        },
        bundle.records.len(),
        clients.calls.calls().len()
    )?;
    Ok(0)
}

fn check(args: &crate::cli::CheckArgs, out: &mut dyn Write, style: Style) -> Result<u8, AppError> {
    use crate::analysis::check::{check_policy, CheckSetting};
    use crate::analysis::rules::Severity;
    use crate::cli::{CheckFormat, FailOn};
    use crate::evidence::sources::{self, TEMPLATE_ACCOUNT};
    use crate::report::check::{render_json, render_sarif, render_table, CheckReport};

    if let Some(a) = &args.account {
        if !crate::analysis::principal::is_account_id(a) {
            return Err(FlagError {
                flag: "--account",
                message: format!("`{a}` is not a 12-digit account id"),
            }
            .into());
        }
    }
    let deployer = args
        .as_principal
        .as_deref()
        .map(crate::analysis::principal::Caller::parse)
        .transpose()
        .map_err(|e| FlagError {
            flag: "--as",
            message: e.to_string(),
        })?;
    let found = sources::read(&args.paths, args.account.as_deref())?;
    let mut report = CheckReport {
        files_read: found.files_read,
        policies: Vec::new(),
        findings: Vec::new(),
    };
    let now = chrono::Utc::now();
    for t in &found.targets {
        let account = args
            .account
            .as_deref()
            .or(t.template_account.then_some(TEMPLATE_ACCOUNT));
        let result = check_policy(
            &t.policy,
            &CheckSetting {
                account,
                deployer: deployer.as_ref(),
                now,
            },
        )
        .map_err(|e| InputError {
            file: std::path::PathBuf::from(&t.file),
            position: t.locator.position(&e.pointer.to_string()),
            pointer: Some(e.pointer.to_string()),
            message: match &t.address {
                Some(a) => format!("{a}: the key policy is not a policy: {}", e.message),
                None => e.message.clone(),
            },
        })?;
        let mut result = result;
        if t.template_account {
            // Say `${AWS::AccountId}` where the stand-in account appears.
            for f in &mut result.findings {
                f.message = f.message.replace(TEMPLATE_ACCOUNT, "${AWS::AccountId}");
            }
        }
        report.add(&t.file, t.address.as_deref(), result, |p| {
            t.locator.position(p)
        });
    }
    match args.output {
        CheckFormat::Table => render_table(out, &report, style)?,
        CheckFormat::Json => render_json(out, &report)?,
        CheckFormat::Sarif => render_sarif(out, &report)?,
    }
    out.flush()?;
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    Ok(if report.findings.iter().any(|f| f.severity >= threshold) {
        3
    } else {
        0
    })
}
