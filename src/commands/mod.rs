//! One module per command. Each resolves its own settings (`config`), asks the evidence
//! seam, runs the analysis once and renders; each returns its exit code. What two commands
//! share (the errors, the UI, the investigation of one key) is here.

pub mod athena_ddl;
pub mod check;
pub mod collect;
pub mod docs;
pub mod explain;
pub mod fix;
pub mod guard;
pub mod scan;
pub mod why_locked;

use std::io::{self, Write};

use crate::analysis::chain::LayerPolicies;
use crate::analysis::lockout::admins::caller_access;
use crate::analysis::lockout::{
    apply_iam_facts, diagnose, note_incomplete, Diagnosis, Evidence, KeyRef, Setting, Verdict,
};
use crate::analysis::policy::Policy;
use crate::analysis::principal::Caller;
use crate::config::FlagError;
use crate::evidence::aws::{LiveError, LookupProgress};
use crate::evidence::files::WriteError;
use crate::evidence::source::{
    EventsQuery, EventsSummary, EvidenceError, EvidenceSource, KeyEvidence,
};
use crate::evidence::InputError;
use crate::report::Style;

/// Why a run failed. Every variant exits 1; each names what it is about (a flag, a file).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Flag(#[from] FlagError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Live(#[from] LiveError),
    /// An output file the user named (`--write-repaired`, `collect -o`) cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("--write-repaired: {0}")]
    Repair(String),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
    /// `fix`: a guard refused to apply the policy (exit 3: nothing was sent).
    #[error("not applied: {0}")]
    Refused(String),
}

impl From<EvidenceError> for AppError {
    fn from(e: EvidenceError) -> Self {
        match e {
            EvidenceError::Input(e) => AppError::Input(e),
            EvidenceError::Live(e) => AppError::Live(e),
        }
    }
}

/// How to talk to the person: colours on stdout, progress on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub style: Style,
    /// How progress is shown on stderr.
    pub progress: Progress,
    /// Whether a person can answer a question (stdin and stderr are terminals).
    pub interactive: bool,
}

/// Progress on stderr, for waits longer than a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A terminal: one line, redrawn in place.
    Terminal,
    /// A log or a pipe: a line when a wait starts, at most one every few seconds while it
    /// goes on, and one for each retry.
    Lines,
}

/// When stderr is not a terminal: no line for a wait shorter than this...
const QUIET_FOR: std::time::Duration = std::time::Duration::from_secs(2);
/// ...and then a line at most this often.
const LINE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Throttles the lines written when stderr is not a terminal.
pub(crate) struct Throttle {
    start: std::time::Instant,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Throttle {
    pub(crate) fn new() -> Throttle {
        Throttle {
            start: std::time::Instant::now(),
            last: std::sync::Mutex::new(None),
        }
    }

    /// Whether a line is due: none in the first [`QUIET_FOR`], then one every
    /// [`LINE_EVERY`].
    pub(crate) fn due(&self) -> bool {
        if self.start.elapsed() < QUIET_FOR {
            return false;
        }
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        match *last {
            Some(t) if t.elapsed() < LINE_EVERY => false,
            _ => {
                *last = Some(std::time::Instant::now());
                true
            }
        }
    }
}

/// Progress of CloudTrail lookups on stderr. Only kmsdoctor's own words and numbers are
/// written, but for a retry's reason, which comes from AWS and is escaped.
pub(crate) fn lookup_progress(mode: Progress) -> impl Fn(LookupProgress<'_>) + Sync {
    let throttle = Throttle::new();
    move |p: LookupProgress<'_>| match (mode, p) {
        (Progress::Terminal, LookupProgress::Page { pages, found, .. }) => {
            say_part!("\rkmsdoctor: CloudTrail LookupEvents page {pages}, {found} policy event(s) for the key ");
        }
        (
            Progress::Lines,
            LookupProgress::Page {
                event,
                pages,
                found,
            },
        ) => {
            if throttle.due() {
                say!("kmsdoctor: CloudTrail LookupEvents ({event}): page {pages}, {found} policy event(s) for the key so far");
            }
        }
        (mode, LookupProgress::Note(text)) => {
            if mode == Progress::Terminal {
                say!();
            }
            say!("kmsdoctor: {}", crate::analysis::escape::visible(text));
        }
        (Progress::Terminal, LookupProgress::ArchiveDay { day, files, days }) => {
            say_part!("\rkmsdoctor: trail logs in S3: {day} ({files} files), {days} day(s) read ");
        }
        (Progress::Lines, LookupProgress::ArchiveDay { day, files, days }) => {
            if throttle.due() {
                say!("kmsdoctor: trail logs in S3: {day} ({files} files), {days} day(s) read");
            }
        }
        (
            mode,
            LookupProgress::Retry {
                event,
                attempt,
                of,
                delay,
                why,
            },
        ) => {
            if mode == Progress::Terminal {
                say!();
            }
            say!(
                "kmsdoctor: CloudTrail LookupEvents ({event}) failed ({}): attempt {attempt} of {of} in {:.1} s",
                crate::analysis::escape::visible(why),
                delay.as_secs_f64()
            );
        }
    }
}

/// Everything one key's investigation found: the diagnosis, once, with what the evidence
/// said about principals folded in.
pub(crate) struct Investigation {
    pub diagnosis: Diagnosis,
    pub key_evidence: KeyEvidence,
    pub events: EventsSummary,
    /// What the evidence source said degraded it (live: warnings on stderr).
    pub source_problems: Vec<String>,
    /// Those and what the analysis adds (`evidence.problems`).
    pub problems: Vec<String>,
}

/// What the investigation needs besides the evidence.
pub(crate) struct Scope<'a> {
    /// The key as the person named it, when it names the key directly.
    pub key: Option<&'a KeyRef>,
    /// The key's account when known from elsewhere (`--account`).
    pub account: Option<&'a str>,
    pub now: chrono::DateTime<chrono::Utc>,
    /// Who is asking, named on the command line (`--caller`): for files and bundles, which
    /// have no caller of their own.
    pub caller: Option<&'a str>,
    /// The request chain's layers besides the key policy, from files: the caller's identity
    /// policies (when given) and the rest.
    pub layers: Option<(&'a LayerPolicies, Option<&'a [Policy]>)>,
}

/// Asks the evidence about the key, its history and the principals the diagnosis names,
/// and diagnoses once.
pub(crate) fn investigate(
    source: &mut dyn EvidenceSource,
    scope: &Scope<'_>,
) -> Result<Investigation, AppError> {
    let key_evidence = source.key()?;
    let key = key_evidence
        .key
        .clone()
        .or_else(|| scope.key.cloned())
        .ok_or_else(|| FlagError {
            flag: "KEY",
            message: "an alias needs AWS to resolve: give the key id or key ARN".into(),
        })?;
    if let (Some(named), Some(found)) = (scope.key, &key_evidence.key) {
        if named.id != found.id {
            return Err(FlagError {
                flag: "KEY",
                message: format!("the bundle is about key {}, not {}", found.id, named.id),
            }
            .into());
        }
    }
    let query = EventsQuery {
        key: key.clone(),
        creation: key_evidence.creation_date,
        primary_region: key_evidence
            .properties
            .as_ref()
            .and_then(|p| p.primary_region.clone()),
        state_enabled: key_evidence
            .properties
            .as_ref()
            .is_some_and(|p| p.status.state.as_deref() == Some("Enabled")),
    };
    let mut events = source.policy_events(std::slice::from_ref(&query))?;
    let mine = events.by_key.pop().unwrap_or_default();
    let caller_arn: Option<&str> = key_evidence
        .caller
        .as_ref()
        .map(|c| c.arn.as_str())
        .or(scope.caller);
    let caller = key_evidence.caller.as_ref();
    let mut diagnosis = diagnose(Evidence {
        key,
        current_policy: key_evidence.current_policy.as_ref(),
        events: &mine,
        account: scope.account.or(caller.map(|c| c.account.as_str())),
        now: scope.now,
        aliases: key_evidence.aliases.as_deref(),
        properties: key_evidence.properties.as_ref(),
        caller: caller_arn,
    });
    let principals = diagnosis.principals_to_look_up();
    let facts = source.principal_facts(
        &diagnosis.key,
        &principals,
        diagnosis.verdict == Verdict::Ok,
    )?;
    // The caller through the layers besides the key policy: those given by flags, else
    // those the source read (live, bundles).
    let layers = match scope.layers {
        Some((given, identity)) => Some(given.layers(identity)),
        None => facts.layers.as_ref().map(|l| l.layers(None)),
    };
    if let (Some(layers), Some(Ok(c)), Some(doc), Some(account)) = (
        layers,
        caller_arn.map(Caller::parse),
        &diagnosis.policy,
        diagnosis.key.account.clone(),
    ) {
        let setting = Setting::new(
            &diagnosis.key,
            &account,
            scope.now,
            key_evidence.aliases.as_deref(),
            key_evidence.properties.as_ref(),
        );
        diagnosis.caller = Some(caller_access(&doc.policy, &setting, &c, &layers));
    }

    let mut source_problems = key_evidence.problems.clone();
    source_problems.extend(events.summary.problems.iter().cloned());
    source_problems.extend(facts.problems.iter().cloned());
    let mut problems = source_problems.clone();
    if let Some(c) = caller {
        if Caller::parse(&c.arn).is_err() {
            problems.push(format!(
                "the caller {} is not a user, role or session ARN: whether it can get back in is not evaluated",
                c.arn
            ));
        }
    }
    if caller.is_some() {
        apply_iam_facts(
            &mut diagnosis,
            &facts.existence,
            facts.simulation.as_deref(),
        );
        note_incomplete(
            &mut diagnosis,
            &problems,
            events.summary.complete,
            key_evidence.policy_error.as_deref(),
        );
    }
    if !facts.trust.is_empty() {
        crate::analysis::lockout::live_facts::apply_trust(&mut diagnosis, &facts.trust);
    }
    // Layers that could not be read are said, without making the key's evidence incomplete.
    source_problems.extend(facts.layer_problems.iter().cloned());
    problems.extend(facts.layer_problems.iter().cloned());
    Ok(Investigation {
        diagnosis,
        key_evidence,
        events: events.summary,
        source_problems,
        problems,
    })
}

/// Writes warnings about degraded evidence to stderr.
pub(crate) fn warn_problems(err: &mut dyn Write, problems: &[String]) -> io::Result<()> {
    for p in problems {
        writeln!(
            err,
            "kmsdoctor: warning: {}",
            crate::analysis::escape::visible(p)
        )?;
    }
    Ok(())
}
