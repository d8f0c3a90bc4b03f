//! `kmsdoctor scan`: every customer-managed key of the account in the given regions, each
//! judged on its current policy. A key whose policy cannot be read is a lockout candidate,
//! listed with the command to look closer; one failure never stops the scan.

use std::io::Write;

use super::{AppError, Progress, Throttle, Ui};
use crate::analysis::scan::{judge, order, KeyFacts, KeyStanding, Standing};
use crate::cli::{OutputFormat, ScanArgs};
use crate::config::ScanConfig;
use crate::evidence::live;
use crate::report::scan::{self as report, Pending, ScanReport};

pub fn run(
    args: &ScanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let cfg = ScanConfig::resolve(args)?;
    let mode = ui.progress;
    let throttle = Throttle::new();
    let progress = move |region: &str, done: usize, total: usize| match mode {
        Progress::Terminal => {
            eprint!("\rkmsdoctor: {region}: {done}/{total} keys ");
        }
        Progress::Lines => {
            if done < total && throttle.due() {
                eprintln!("kmsdoctor: {region}: {done}/{total} keys");
            }
        }
    };
    let found = live::scan_keys(&cfg.connection, &cfg.regions, cfg.rate, &progress)?;
    if ui.progress == Progress::Terminal {
        eprintln!();
    }
    let now = chrono::Utc::now();
    let mut keys: Vec<KeyStanding> = Vec::new();
    let mut pending = Vec::new();
    let mut aws_managed = 0usize;
    let mut problems = Vec::new();
    let mut calls = 0u32;
    for region in &found.regions {
        problems.extend(region.problems.iter().cloned());
        calls += region.calls;
        for k in &region.keys {
            if k.key_manager.as_deref() == Some("AWS") {
                aws_managed += 1;
                continue;
            }
            if matches!(
                k.key_state.as_deref(),
                Some("PendingDeletion" | "PendingReplicaDeletion")
            ) {
                pending.push(Pending {
                    arn: k.arn.clone(),
                    region: k.region.clone(),
                    key_state: k.key_state.clone().unwrap_or_default(),
                });
                continue;
            }
            let mut standing = judge(&KeyFacts {
                arn: &k.arn,
                region: &k.region,
                policy: k.policy.as_deref().map_err(String::as_str),
                properties: k.properties.as_ref(),
                now,
            });
            if let (Some(e), None) = (&k.describe_error, &standing.note) {
                standing.note = Some(format!("DescribeKey: {e}"));
            }
            keys.push(standing);
        }
    }
    order(&mut keys);
    super::warn_problems(err, &problems)?;
    let r = ScanReport {
        caller: &found.caller.arn,
        account: &found.caller.account,
        regions: found.regions.iter().map(|r| r.region.clone()).collect(),
        keys: &keys,
        pending_deletion: &pending,
        aws_managed_skipped: aws_managed,
        problems: &problems,
        calls,
    };
    match cfg.output {
        OutputFormat::Json => report::render_json(out, &r)?,
        OutputFormat::Table => report::render_table(out, &r, ui.style)?,
    }
    out.flush()?;
    let all_ok = keys.iter().all(|k| k.standing == Standing::Ok) && problems.is_empty();
    Ok(if all_ok { 0 } else { 3 })
}
