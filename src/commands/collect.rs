//! `kmsdoctor collect`: gather a key's evidence from AWS into one file (a bundle), to
//! diagnose elsewhere with `why-locked --from FILE`. The diagnosis runs once here too: it
//! names the principals whose existence IAM is asked about.

use std::io::{self, Write};

use super::{investigate, lookup_progress, warn_problems, AppError, Progress, Scope, Ui};
use crate::cli::CollectArgs;
use crate::config::CollectConfig;
use crate::evidence::aws_source::{self, AwsSource};
use crate::evidence::files;
use crate::evidence::source::EvidenceSource;

pub fn run(args: &CollectArgs, err: &mut dyn Write, ui: Ui) -> Result<u8, AppError> {
    let cfg = CollectConfig::resolve(args)?;
    // Created before any AWS call: a path that cannot be written wastes no run; removed
    // again if the run fails.
    let output = files::NewFile::create(&cfg.output, "--out")?;
    let now = chrono::Utc::now();
    let progress = lookup_progress(ui.progress);
    let mut source = AwsSource::connect(
        aws_source::Request::new(&cfg.live.connection, &cfg.key_input, cfg.live.since, now)
            .with_history(cfg.live.history.clone())
            .with_archive(cfg.live.archive.clone()),
        &progress,
    )?;
    gather(&mut source, now)?;
    if ui.progress == Progress::Terminal {
        say!();
    }
    let bundle = source.bundle()?;
    let text =
        serde_json::to_string_pretty(&bundle).map_err(|e| AppError::Output(io::Error::other(e)))?;
    output.finish(&(text + "\n"))?;
    warn_problems(err, &bundle.problems)?;
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
        source.clients.calls.calls().len()
    )?;
    Ok(0)
}

/// Asks the source everything a bundle holds: the key, its history, and the principals the
/// diagnosis names (the diagnosis itself is not saved: `why-locked --from` makes it again).
pub fn gather(
    source: &mut dyn EvidenceSource,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    investigate(
        source,
        &Scope {
            key: None,
            account: None,
            now,
            caller: None,
            layers: None,
        },
    )
    .map(|_| ())
}
