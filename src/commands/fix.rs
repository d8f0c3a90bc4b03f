//! `kmsdoctor fix`: apply the repaired key policy, guarded. Without `--apply` it shows what
//! would change and sends nothing. With it: the guards of `analysis::fix` must pass, the
//! person confirms (or gave `--yes`), the policy in KMS must still be the one diagnosed, the
//! policy it replaces is saved to a new file, then PutKeyPolicy (never bypassing the lockout
//! safety check), a bounded read-back, and the diagnosis again.

use std::io::{BufRead, Write};
use std::time::Duration;

use super::{investigate, lookup_progress, warn_problems, AppError, Progress, Scope, Ui};
use crate::analysis::aws_ids;
use crate::analysis::escape::visible;
use crate::analysis::fix::{self, fingerprint, FixInput};
use crate::analysis::lockout::{diagnose, Diagnosis, Evidence, Setting, Verdict};
use crate::analysis::policy::{parse_document, PolicyDocument, PolicyKind};
use crate::analysis::principal::Caller;
use crate::analysis::repair::repair;
use crate::analysis::shell::CommandLine;
use crate::cli::{FixArgs, OutputFormat};
use crate::config::FixConfig;
use crate::evidence::aws::{AwsError, LiveError, Mode};
use crate::evidence::aws_source::{self, AwsSource};
use crate::evidence::files::{self, NewFile};
use crate::evidence::source::{EvidenceSource, KeyPolicyStore};
use crate::report::fix::{self as report, Applied, FixReport};

/// How long to wait for KMS to return the new policy: attempts and the pause between them
/// (`KMSDOCTOR_READBACK_MS` shortens the pause, for emulators and tests).
const READBACK_ATTEMPTS: u32 = 10;

fn readback_pause() -> Duration {
    std::env::var("KMSDOCTOR_READBACK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(1))
}

/// A failed PutKeyPolicy, with what it means.
fn live_err(e: AwsError) -> AppError {
    let hint = if e.code.is("MalformedPolicyDocumentException") {
        Some("KMS rejected the policy; its lockout safety check rejects a policy that would not let you change it again")
    } else if e.is_access_denied() {
        Some("this principal may not; the why-locked plan names one that may")
    } else {
        None
    };
    AppError::Live(match hint {
        Some(h) => LiveError::call(e, h),
        None => LiveError::from(e),
    })
}

pub fn run(
    args: &FixArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let cfg = FixConfig::resolve(args)?;
    // The files given are read before any AWS call: a bad one wastes no run.
    let given = match (&cfg.rollback, &cfg.policy_file) {
        (Some(p), _) => Some((files::load_key_policy(p)?, "--rollback")),
        (None, Some(p)) => Some((files::load_key_policy(p)?, "--policy-file")),
        (None, None) => None,
    };
    // The backup file, when named, is created before any AWS call too.
    let named_backup = match (&cfg.backup, cfg.apply) {
        (Some(p), true) => Some(NewFile::create(p, "--backup")?),
        _ => None,
    };
    if cfg.apply && !cfg.yes && !ui.interactive {
        return Err(AppError::Refused(
            "--apply: not on a terminal, so kmsdoctor cannot ask for confirmation: add --yes to apply without asking".into(),
        ));
    }
    let now = chrono::Utc::now();
    let lookups = lookup_progress(ui.progress);
    let mode = if cfg.apply {
        Mode::FixApply
    } else {
        Mode::ReadOnly
    };
    let mut source = AwsSource::connect_in(
        aws_source::Request::new(&cfg.live.connection, &cfg.key_input, cfg.live.since, now)
            .with_history(cfg.live.history.clone())
            .with_archive(cfg.live.archive.clone()),
        &lookups,
        mode,
    )?;
    execute(
        &cfg,
        Given {
            policy: given,
            backup: named_backup,
        },
        &mut source,
        now,
        out,
        err,
        ui,
    )
}

/// What `fix` read from the files it was given, before any AWS call.
pub struct Given {
    /// The policy to apply (`--policy-file` or `--rollback`), and the flag that gave it.
    pub policy: Option<(PolicyDocument, &'static str)>,
    /// The backup file `--backup` named, created already.
    pub backup: Option<NewFile>,
}

/// `fix` against any source of the key's evidence and policy (AWS, or the in-memory account
/// of the tests).
#[allow(clippy::too_many_arguments)]
pub fn execute<S: EvidenceSource + KeyPolicyStore>(
    cfg: &FixConfig,
    given: Given,
    source: &mut S,
    now: chrono::DateTime<chrono::Utc>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let Given {
        policy: given,
        backup: named_backup,
    } = given;
    let inv = investigate(
        source,
        &Scope {
            key: None,
            account: None,
            now,
            caller: None,
            layers: None,
        },
    )?;
    if ui.progress == Progress::Terminal {
        say!();
    }
    warn_problems(err, &inv.source_problems)?;
    let d = &inv.diagnosis;
    let (Some(key_arn), Some(account)) = (d.key.arn.clone(), d.key.account.clone()) else {
        return Err(AppError::Live(LiveError::Setup(
            "the key's ARN is not known (DescribeKey and ListAliases were denied): give the key ARN".into(),
        )));
    };
    let setting = Setting::new(
        &d.key,
        &account,
        now,
        inv.key_evidence.aliases.as_deref(),
        inv.key_evidence.properties.as_ref(),
    );
    let (after, source_of_after) = match given {
        Some((doc, flag)) => (doc, flag),
        None => {
            let Some(doc) = &d.policy else {
                return Err(AppError::Refused(
                    "no key policy was found to repair (GetKeyPolicy denied and no CloudTrail history): give the policy to apply with --policy-file".into(),
                ));
            };
            let r = repair(&doc.text, &setting).map_err(|e| AppError::Refused(e.to_string()))?;
            let parsed = parse_document(&r.policy, PolicyKind::Key, "key-policy")
                .map_err(|e| AppError::Refused(e.message))?;
            (parsed, "repaired")
        }
    };
    // The caller that sends PutKeyPolicy: its session ARN, for KMS's safety check.
    let caller = inv
        .key_evidence
        .caller
        .as_ref()
        .and_then(|c| Caller::parse(&c.arn).ok());
    let mut plan = fix::plan(&FixInput {
        setting: &setting,
        before: d.policy.as_ref(),
        admins_before: &d.recoverable_admins,
        after: &after,
        caller: caller.as_ref(),
    });
    let expected = cfg.expect_fingerprint.clone().or(plan.replaces.clone());
    if let (Some(e), Some(r)) = (&cfg.expect_fingerprint, &plan.replaces) {
        if e != r {
            plan.refusals.push(format!(
                "the diagnosed policy ({r}) is not the one --expect-policy-sha256 names: it changed since"
            ));
        }
    }
    // Where else the policy lives (a CloudFormation stack's tags), for the reminder.
    let tags = source.tags(&key_arn).unwrap_or_default();
    let sources = fix::source_forms(&d.key.id, &after.text, &tags);
    let still_to_do = state_steps(cfg, d, &key_arn);
    let mut report = FixReport {
        key_state: &d.key_status,
        still_to_do,
        sources: &sources,
        key: &d.key,
        verdict_before: d.verdict,
        source_of_after: source_of_after.to_string(),
        plan: &plan,
        applied: None,
        policy_after: &after.text,
        preview: false,
        after_preview: false,
    };
    if !cfg.apply || !plan.refusals.is_empty() {
        render(out, &report, cfg.output, ui)?;
        return Ok(if plan.refusals.is_empty() { 0 } else { 3 });
    }

    // --apply. The person confirms what the dry run shows (once: after the apply only what
    // it did is added).
    if !cfg.yes {
        report.preview = true;
        report::render_table(&mut *err, &report, ui.style)?;
        report.preview = false;
        report.after_preview = cfg.output == OutputFormat::Table;
        write!(
            err,
            "Apply this policy to {}? Type yes to apply, anything else to stop: ",
            visible(&key_arn)
        )?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            return Err(AppError::Refused(
                "not applied: the answer was not yes".into(),
            ));
        }
    }
    // The policy in KMS right now must be the one diagnosed: PutKeyPolicy has no version
    // to guard with, and a colleague may have changed it a minute ago.
    let current = source
        .read_policy(&key_arn)
        .map_err(|e| AppError::Refused(format!(
            "{e}: kmsdoctor cannot tell whether the policy changed since the diagnosis, so it applies nothing; apply it by hand with the plan's aws kms put-key-policy command"
        )))?;
    if let Some(why) = fix::changed_since(&current, expected.as_deref()) {
        return Err(AppError::Refused(why));
    }
    let backup_file = match named_backup {
        Some(f) => f,
        None => {
            let name = format!(
                "kms-policy-backup-{}-{}.json",
                d.key.id,
                now.format("%Y%m%dT%H%M%SZ")
            );
            NewFile::create(std::path::Path::new(&name), "--backup")?
        }
    };
    let backup_path = backup_file.path().display().to_string();
    backup_file.finish(&current)?;
    // The way back, as a command safe to paste (the key checked, the file name quoted, the
    // run's flags): only where kmsdoctor's guards would let it through. The policy of a
    // key that was not `ok` is refused by the same guards: it is kept for the record.
    let rollback = if d.verdict == Verdict::Ok {
        CommandLine::new(&cfg.flags, &["kmsdoctor", "fix"])
            .value("the key", "key ARN", &key_arn, aws_ids::is_key_arn)
            .in_region(d.key.region.as_deref())
            .word("--rollback")
            .path("the backup's file", &backup_path)
            .word("--apply")
            .word("--yes")
            .render()
            .map(|c| format!("put it back with: {c}"))
            .unwrap_or_else(|why| format!("no command printed: {why}"))
    } else {
        format!(
            "kept for the record: it was {}, so kmsdoctor's guards would refuse to put it back",
            d.verdict.as_str()
        )
    };
    writeln!(
        err,
        "kmsdoctor: saved the policy in force to {} ({rollback})",
        visible(&backup_path)
    )?;
    source
        .write_policy(&key_arn, &after.text)
        .map_err(live_err)?;

    // Read back until KMS returns the new policy (bounded).
    let want = fingerprint(&after.text);
    let (read_back, attempts) = wait_for_policy(
        || source.read_policy(&key_arn),
        want.as_deref(),
        READBACK_ATTEMPTS,
        readback_pause(),
    );
    // The diagnosis again, on the policy KMS returns now (or the one sent, said so).
    let (doc, confirmed) = match &read_back {
        Some(text) => (
            parse_document(text, PolicyKind::Key, "key-policy").unwrap_or_else(|_| after.clone()),
            true,
        ),
        None => (after.clone(), false),
    };
    let again = diagnose_current(&inv, &doc, now, &account);
    report.applied = Some(Applied {
        backup: backup_path,
        read_back_attempts: attempts,
        read_back_confirmed: confirmed,
        verdict_now: again,
    });
    render(out, &report, cfg.output, ui)?;
    Ok(applied_exit_code(
        confirmed,
        again,
        report.still_to_do.is_empty(),
    ))
}

/// The exit code once the policy was sent: 0 only when KMS returned the new policy and it
/// is `ok` with nothing left to do; 5 when KMS never returned it (the change is not known
/// to have landed); 3 when it did but the key is not done with (a verdict other than `ok`,
/// a key still pending deletion or disabled).
fn applied_exit_code(confirmed: bool, verdict: Verdict, nothing_left: bool) -> u8 {
    match (confirmed, verdict == Verdict::Ok && nothing_left) {
        (false, _) => 5,
        (true, true) => 0,
        (true, false) => 3,
    }
}

/// What the key's state needs besides the policy (key state table): a key pending deletion
/// must have it cancelled before its date (it is then Disabled), and a disabled one enabled.
fn state_steps(cfg: &FixConfig, d: &Diagnosis, key_arn: &str) -> Vec<(String, String)> {
    let st = &d.key_status;
    let pending = st.state.as_deref() == Some("PendingDeletion");
    let disabled = st.state.as_deref() == Some("Disabled");
    let command = |verb: &str| {
        CommandLine::new(&cfg.flags, &["aws", "kms", verb])
            .word("--key-id")
            .value("the key", "key ARN", key_arn, aws_ids::is_key_arn)
            .in_region(d.key.region.as_deref())
            .render()
            .unwrap_or_else(|why| format!("(no command printed: {why})"))
    };
    let mut out = Vec::new();
    if pending {
        let when = match st.deadline_words() {
            Some(w) => format!("before {w}"),
            None => "before its deletion date".to_string(),
        };
        out.push((
            format!("cancel the key's deletion {when}: after that date the data encrypted under it is lost for good (it needs kms:CancelKeyDeletion)"),
            command("cancel-key-deletion"),
        ));
    }
    if pending || disabled {
        out.push((
            "enable the key (it needs kms:EnableKey; a cancelled deletion leaves the key Disabled)"
                .to_string(),
            command("enable-key"),
        ));
    }
    out
}

/// Reads the policy until its fingerprint is `want`, at most `attempts` times with `pause`
/// between reads (KMS is eventually consistent: a read right after a put may return the old
/// policy). The policy once it matches, and the reads made.
fn wait_for_policy<E>(
    mut read: impl FnMut() -> Result<String, E>,
    want: Option<&str>,
    attempts: u32,
    pause: Duration,
) -> (Option<String>, u32) {
    for n in 1..=attempts {
        if let Ok(text) = read() {
            if fingerprint(&text).as_deref() == want {
                return (Some(text), n);
            }
        }
        if n < attempts {
            std::thread::sleep(pause);
        }
    }
    (None, attempts)
}

fn diagnose_current(
    inv: &super::Investigation,
    doc: &PolicyDocument,
    now: chrono::DateTime<chrono::Utc>,
    account: &str,
) -> Verdict {
    diagnose(Evidence {
        key: inv.diagnosis.key.clone(),
        current_policy: Some(doc),
        events: &[],
        account: Some(account),
        now,
        aliases: inv.key_evidence.aliases.as_deref(),
        properties: inv.key_evidence.properties.as_ref(),
        caller: None,
    })
    .verdict
}

fn render(
    out: &mut dyn Write,
    r: &FixReport<'_>,
    format: OutputFormat,
    ui: Ui,
) -> Result<(), AppError> {
    match format {
        OutputFormat::Json => report::render_json(out, r)?,
        OutputFormat::Table => report::render_table(out, r, ui.style)?,
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KMS may return the old policy for a moment after the put: the read-back waits for
    /// the new one, and gives up after the attempts allowed.
    #[test]
    fn the_read_back_waits_for_the_new_policy_within_a_bound() {
        let new = r#"{"Statement": [{"Sid": "new"}]}"#;
        let want = fingerprint(new);
        let mut replies = vec![
            Ok::<_, ()>(r#"{"Statement": []}"#.to_string()),
            Err(()),
            Ok(new.replace(' ', "")),
        ]
        .into_iter();
        let (got, n) = wait_for_policy(
            || replies.next().unwrap_or(Err(())),
            want.as_deref(),
            10,
            Duration::ZERO,
        );
        assert_eq!(n, 3);
        assert!(got.is_some());
        let (got, n) = wait_for_policy(
            || Ok::<_, ()>("{}".to_string()),
            want.as_deref(),
            4,
            Duration::ZERO,
        );
        assert_eq!((got, n), (None, 4));
    }

    /// A script doing `fix --apply --yes && ...` is told the key is fixed only when it is.
    #[test]
    fn the_exit_code_after_applying_says_whether_it_landed_and_is_ok() {
        assert_eq!(applied_exit_code(true, Verdict::Ok, true), 0);
        assert_eq!(applied_exit_code(false, Verdict::Ok, true), 5);
        assert_eq!(applied_exit_code(true, Verdict::Recoverable, true), 3);
        assert_eq!(applied_exit_code(true, Verdict::Ok, false), 3);
        assert_eq!(applied_exit_code(false, Verdict::Recoverable, false), 5);
    }

    #[test]
    fn a_rejected_policy_is_said_plainly() {
        let e = live_err(AwsError {
            service: "kms",
            operation: "PutKeyPolicy",
            subject: None,
            code: crate::evidence::aws::AwsCode::of(Some("MalformedPolicyDocumentException")),
            message: "MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future.".into(),
        });
        let text = e.to_string();
        assert!(text.starts_with("kms PutKeyPolicy failed: MalformedPolicyDocumentException: The new key policy will not allow you"), "{text}");
        assert!(text.contains("lockout safety check"), "{text}");
    }
}
