//! `kmsdoctor scan`: every customer-managed key of the account in the given regions, each
//! judged on its current policy. A key whose policy cannot be read is a lockout candidate,
//! listed with the command to look closer; one failure never stops the scan.

use std::io::Write;

use super::{AppError, Progress, Throttle, Ui};
use crate::analysis::scan::{judge, order, triage, KeyFacts, KeyStanding, Triage};
use crate::cli::{CheckFormat, ScanArgs};
use crate::config::ScanConfig;
use crate::evidence::aws::scan::{AwsInventory, OrgScan, ScanRequest};
use crate::evidence::source::KeyInventory;
use crate::report::scan::{self as report, Pending, ScanReport};

/// What a scan found, judged.
pub(crate) struct Scanned {
    pub caller: crate::evidence::aws::CallerIdentity,
    /// The accounts scanned (one without --org).
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub keys: Vec<KeyStanding>,
    pub pending: Vec<Pending>,
    pub aws_managed: usize,
    pub problems: Vec<String>,
    /// What could not be read besides the keys (the RCPs), said without failing the scan.
    pub notes: Vec<String>,
    pub calls: u32,
}

/// Scans and judges every key (the shared part of `scan` and live `guard`).
pub(crate) fn gather(
    cfg: &ScanConfig,
    inventory: &mut dyn KeyInventory,
    ui: Ui,
) -> Result<Scanned, AppError> {
    let mode = ui.progress;
    let throttle = Throttle::new();
    let progress = move |region: &str, done: usize, total: usize| match mode {
        Progress::Terminal => {
            say_part!("\rkmsdoctor: {region}: {done}/{total} keys ");
        }
        Progress::Lines => {
            if done < total && throttle.due() {
                say!("kmsdoctor: {region}: {done}/{total} keys");
            }
        }
    };
    let request = ScanRequest {
        regions: cfg.regions.clone(),
        per_second: cfg.rate,
        org: cfg.org.as_ref().map(|(role, external)| OrgScan {
            role_name: role.clone(),
            external_id: external.clone(),
        }),
    };
    let found = inventory.scan(&request, &progress)?;
    let accounts = found.accounts.clone();
    let org_problems = found.problems.clone();
    if ui.progress == Progress::Terminal {
        say!();
    }
    let now = cfg.now;
    let mut regions: Vec<String> = Vec::new();
    for r in &found.regions {
        if !regions.contains(&r.region) {
            regions.push(r.region.clone());
        }
    }
    let mut s = Scanned {
        caller: found.caller.clone(),
        accounts,
        regions,
        keys: Vec::new(),
        pending: Vec::new(),
        aws_managed: 0,
        problems: org_problems,
        notes: Vec::new(),
        calls: 0,
    };
    let rcps = account_rcps(&found.rcps, &mut s.notes);
    for region in &found.regions {
        s.problems.extend(region.problems.iter().cloned());
        s.calls += region.calls;
        for k in &region.keys {
            match triage(k.key_manager.as_deref(), k.key_state.as_deref()) {
                Triage::AwsManaged => {
                    s.aws_managed += 1;
                    continue;
                }
                // Judged like the others, and listed apart with its date.
                Triage::PendingDeletion => s.pending.push(Pending {
                    arn: k.arn.clone(),
                    region: k.region.clone(),
                    key_state: k.key_state.clone().unwrap_or_default(),
                    deletion_date: k.properties.as_ref().and_then(|p| p.status.deletion_date),
                }),
                Triage::Judge => {}
            }
            // Why the policy could not be read is a note of the standing.
            let unread = k.policy.as_ref().err().map(|e| e.message.clone());
            let policy = match (&k.policy, &unread) {
                (Ok(text), _) => Ok(text.as_str()),
                (Err(_), Some(why)) => Err(why.as_str()),
                (Err(_), None) => Err(""),
            };
            let mut standing = judge(&KeyFacts {
                arn: &k.arn,
                region: &k.region,
                policy,
                properties: k.properties.as_ref(),
                now,
                rcps: crate::analysis::aws_ids::Arn::parse(&k.arn)
                    .and_then(|a| rcps.get(a.account))
                    .map(Vec::as_slice),
                aliases: k.aliases.as_deref(),
            });
            if let (Some(e), None) = (&k.describe_error, &standing.note) {
                standing.note = Some(format!("DescribeKey: {}", e.message));
            }
            s.keys.push(standing);
        }
    }
    order(&mut s.keys);
    Ok(s)
}

/// Each account's RCP levels, parsed; what could not be read or parsed goes to `notes`
/// (once, with the number of accounts when it is the same for many).
fn account_rcps(
    read: &[(String, crate::evidence::aws::OrgRead)],
    notes: &mut Vec<String>,
) -> std::collections::BTreeMap<String, Vec<crate::analysis::chain::OrgLevel>> {
    let mut out = std::collections::BTreeMap::new();
    let mut unread: Vec<&str> = Vec::new();
    for (account, r) in read {
        if r.rcps.is_none() {
            if unread.is_empty() {
                if let Some(p) = r.problems.first() {
                    notes.push(p.clone());
                }
            }
            unread.push(account);
            continue;
        }
        let recorded = crate::evidence::layers::RecordedLayers {
            rcps: r.rcps.clone(),
            ..Default::default()
        };
        match recorded.parse() {
            Ok(p) => {
                out.insert(account.clone(), p.rcps.unwrap_or_default());
            }
            Err(e) => notes.push(format!(
                "an RCP of account {account} cannot be read ({}): its keys are judged without RCPs",
                e.message
            )),
        }
    }
    if unread.len() > 1 {
        notes.push(format!(
            "the RCPs of {} accounts are not known: keys are judged without them",
            unread.len()
        ));
    }
    out
}

pub fn run(
    args: &ScanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let cfg = ScanConfig::resolve(args)?;
    let mut aws = AwsInventory {
        connection: cfg.connection.clone(),
    };
    execute(&cfg, &mut aws, out, err, ui)
}

/// `scan` over any inventory (AWS, or the in-memory account of the tests).
pub fn execute(
    cfg: &ScanConfig,
    inventory: &mut dyn KeyInventory,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let s = gather(cfg, inventory, ui)?;
    super::warn_problems(err, &s.problems)?;
    super::warn_problems(err, &s.notes)?;
    let r = ScanReport {
        caller: &s.caller.arn,
        account: &s.caller.account,
        accounts: &s.accounts,
        regions: s.regions.clone(),
        keys: &s.keys,
        pending_deletion: &s.pending,
        aws_managed_skipped: s.aws_managed,
        problems: &s.problems,
        notes: &s.notes,
        calls: s.calls,
        flags: &cfg.flags,
    };
    match cfg.output {
        CheckFormat::Json => report::render_json(out, &r)?,
        CheckFormat::Sarif => report::render_sarif(out, &r)?,
        CheckFormat::Table => report::render_table(out, &r, ui.style)?,
    }
    out.flush()?;
    let all_ok = !s.keys.iter().any(KeyStanding::at_risk) && s.problems.is_empty();
    Ok(if all_ok { 0 } else { 3 })
}
