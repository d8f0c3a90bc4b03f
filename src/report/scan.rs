//! Output of `kmsdoctor scan`.
//!
//! JSON wire format (`schema_version` 2), one object on stdout:
//! - `kind`: `kmsdoctor-scan`; `caller`, `account` (the caller's), `accounts` (scanned),
//!   `regions`
//! - `summary`: keys per standing (`ok`, `recoverable`, `unknown`, `unreadable`,
//!   `unrecoverable`), `pending_deletion`, `aws_managed_skipped`, `calls`
//! - `keys`, worst first: `arn`, `region`, `aliases` (when the key has any), `standing`,
//!   `can_recover`, `findings` (the one
//!   shape of a finding in every command: the standing's KS401–KS404, KS405, then the
//!   policy's diagnosis),
//!   `admins` (the principals among them), `multi_region` (`PRIMARY`/`REPLICA`), `note`, and
//!   `follow_up` (the why-locked command), `data_paths_only` (an unrecoverable key whose
//!   policy still lets principals use its data: `PRINCIPAL: OPERATIONS`, the only way left)
//! - `pending_deletion`: `arn`, `region`, `key_state`, `deletion_date` (these keys are
//!   judged too, in `keys`; a locked one sorts first, soonest deletion first)
//! - each key's `state` (when not `Enabled`) and `deletion_date`
//! - `problems`: what could not be scanned (a region's ListKeys failing)
//! - `notes`: what could not be read besides (the RCPs of accounts the caller may not read)
//! - each key's `rcp_denials`: RCP statements denying kms:PutKeyPolicy or kms:GetKeyPolicy
//!   on it (`action`, `target`, `statement` (`policy`, `index`, `sid`, `label`), `everyone`,
//!   `when`); `everyone` is KS405

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::key_state::date_words;

use super::Style;
use crate::analysis::scan::follow_up;
use crate::analysis::scan::{KeyStanding, Standing};
use crate::analysis::shell::RunFlags;

use crate::analysis::scan::{SCAN_KIND, SCAN_SCHEMA_VERSION as SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub arn: String,
    pub region: String,
    pub key_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<chrono::DateTime<chrono::Utc>>,
}

pub struct ScanReport<'a> {
    pub caller: &'a str,
    pub account: &'a str,
    /// The accounts scanned: the caller's, or the organization's with --org.
    pub accounts: &'a [String],
    pub regions: Vec<String>,
    pub keys: &'a [KeyStanding],
    pub pending_deletion: &'a [Pending],
    pub aws_managed_skipped: usize,
    pub problems: &'a [String],
    /// What could not be read besides the keys (RCPs): said, not a failure.
    pub notes: &'a [String],
    pub calls: u32,
    /// The run's AWS flags, repeated in each follow-up command.
    pub flags: &'a RunFlags,
}

#[derive(Serialize)]
struct KeyJson<'a> {
    #[serde(flatten)]
    key: &'a KeyStanding,
    /// In the one shape of a finding.
    findings: Vec<super::FindingJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    follow_up: Option<String>,
}

#[derive(Serialize)]
struct ScanJson<'a> {
    kind: &'static str,
    schema_version: u32,
    caller: &'a str,
    account: &'a str,
    accounts: &'a [String],
    regions: &'a [String],
    summary: BTreeMap<&'static str, usize>,
    keys: Vec<KeyJson<'a>>,
    pending_deletion: &'a [Pending],
    problems: &'a [String],
    notes: &'a [String],
}

fn summary(r: &ScanReport<'_>) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for s in [
        Standing::Ok,
        Standing::Recoverable,
        Standing::Unknown,
        Standing::Unreadable,
        Standing::Unrecoverable,
    ] {
        m.insert(
            s.as_str(),
            r.keys.iter().filter(|k| k.standing == s).count(),
        );
    }
    m.insert("pending_deletion", r.pending_deletion.len());
    m.insert("aws_managed_skipped", r.aws_managed_skipped);
    m.insert("calls", r.calls as usize);
    m
}

pub fn render_json(out: &mut dyn Write, r: &ScanReport<'_>) -> io::Result<()> {
    let doc = ScanJson {
        kind: SCAN_KIND,
        schema_version: SCHEMA_VERSION,
        caller: r.caller,
        account: r.account,
        accounts: r.accounts,
        regions: &r.regions,
        summary: summary(r),
        keys: r
            .keys
            .iter()
            .map(|k| KeyJson {
                key: k,
                findings: k.findings.iter().map(super::FindingJson::of).collect(),
                follow_up: follow_up(k, r.flags),
            })
            .collect(),
        pending_deletion: r.pending_deletion,
        problems: r.problems,
        notes: r.notes,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

use super::sarif_level as level;

/// SARIF 2.1.0: each key that is not `ok` a result, located at `aws/kms/REGION/KEY_ID`
/// (code scanning wants an artifact) with the key ARN as its logical location.
pub fn render_sarif(out: &mut dyn Write, r: &ScanReport<'_>) -> io::Result<()> {
    use serde_json::json;
    let mut rules: Vec<&'static crate::analysis::rules::Rule> = Vec::new();
    for f in r.keys.iter().flat_map(KeyStanding::scan_findings) {
        if !rules.iter().any(|x| x.id == f.rule.id) {
            rules.push(f.rule);
        }
    }
    let rule_objects: Vec<serde_json::Value> = rules.iter().map(|r| super::sarif_rule(r)).collect();
    let results: Vec<serde_json::Value> = r
        .keys
        .iter()
        .flat_map(|k| k.scan_findings().map(move |f| (k, f)))
        .map(|(k, f)| {
            let rule = f.rule;
            let id = k.arn.rsplit('/').next().unwrap_or(&k.arn);
            let mut text = format!("{}: {}.", k.arn, f.message);
            let ids = k.finding_ids();
            if !ids.is_empty() {
                text.push_str(&format!(" Findings: {}.", ids.join(", ")));
            }
            if let Some(n) = &k.note {
                text.push_str(&format!(" {n}."));
            }
            if let Some(c) = follow_up(k, r.flags) {
                text.push_str(&format!(" Look closer: {c}"));
            }
            json!({
                "partialFingerprints": {
                    "kmsdoctorFinding/v1": super::sarif_fingerprint(&[rule.id, &k.arn]),
                },
                "ruleId": rule.id,
                "ruleIndex": rules.iter().position(|x| x.id == rule.id),
                "level": level(rule.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": format!("aws/kms/{}/{id}", k.region)}},
                    "logicalLocations": [{"name": k.arn, "kind": "resource"}],
                }],
            })
        })
        .collect();
    super::write_sarif(out, rule_objects, results)
}

pub fn render_table(out: &mut dyn Write, r: &ScanReport<'_>, style: Style) -> io::Result<()> {
    let esc = super::esc;
    let wrap = super::write_wrapped;
    wrap(
        out,
        "",
        "  ",
        &format!(
            "Scanned {} key(s) of {} in {} as {}",
            r.keys.len(),
            if r.accounts.len() == 1 {
                format!("account {}", r.accounts[0])
            } else {
                format!("{} accounts", r.accounts.len())
            },
            r.regions.join(", "),
            r.caller
        ),
    )?;
    if r.aws_managed_skipped > 0 {
        writeln!(
            out,
            "({} AWS managed key(s) skipped)",
            r.aws_managed_skipped
        )?;
    }
    if !r.keys.is_empty() {
        writeln!(out)?;
    }
    for k in r.keys {
        let word = format!("{:<13}", k.standing.as_str());
        let painted = match k.standing {
            Standing::Ok => style.good(&word),
            Standing::Recoverable | Standing::Unknown => style.warn(&word),
            Standing::Unreadable | Standing::Unrecoverable => style.bad(&word),
        };
        let id = k.arn.rsplit('/').next().unwrap_or(&k.arn);
        // Standing, region and key id fit 80 columns; the rest goes on the lines below.
        writeln!(out, "  {painted} {:<14} {}", esc(&k.region), esc(id))?;
        if !k.aliases.is_empty() {
            wrap(out, "      ", "      ", &k.aliases.join(", "))?;
        }
        let mut about = Vec::new();
        if k.standing != Standing::Ok && k.standing != Standing::Unreadable {
            about.push(format!("can recover: {}", k.can_recover));
        }
        if let Some(m) = &k.multi_region {
            about.push(format!("{} multi-Region", esc(&m.to_lowercase())));
        }
        if let Some(st) = &k.state {
            about.push(match k.deletion_date {
                Some(d) => format!("{}, deleted on {}", esc(st), date_words(d)),
                None => esc(st).into_owned(),
            });
        }
        if !about.is_empty() {
            wrap(out, "      ", "      ", &about.join("; "))?;
        }
        // Each finding with its rule's name: `KL201 delegation-missing`.
        let ids = k.finding_ids();
        if !ids.is_empty() && k.standing != Standing::Ok {
            let named: Vec<String> = ids
                .iter()
                .map(|id| match crate::analysis::rules::rule(id) {
                    Some(r) => format!("{id} {}", r.name),
                    None => id.to_string(),
                })
                .collect();
            wrap(out, "      ", "      ", &named.join(", "))?;
        }
        if !k.data_paths_only.is_empty() {
            wrap(
                out,
                "      ",
                "      ",
                &format!(
                    "the only way left to its data: {}",
                    k.data_paths_only.join("; ")
                ),
            )?;
        }
        if let Some(n) = &k.note {
            wrap(out, "      ", "      ", n)?;
        }
        for d in &k.rcp_denials {
            let text = if d.everyone {
                format!(
                    "the RCP statement {} attached to {} denies {} to every principal, the root user included: only the management account can lift it",
                    esc(&d.statement.label),
                    esc(&d.target),
                    d.action
                )
            } else {
                format!(
                    "the RCP statement {} attached to {} denies {} when {}",
                    esc(&d.statement.label),
                    esc(&d.target),
                    d.action,
                    esc(&d.when.join(" and "))
                )
            };
            wrap(out, "      ", "      ", &text)?;
        }
        if let Some(c) = follow_up(k, r.flags) {
            writeln!(out, "      $ {c}")?;
        }
    }
    if !r.pending_deletion.is_empty() {
        writeln!(out, "\n{}", style.bold("Pending deletion:"))?;
        for p in r.pending_deletion {
            let when = p
                .deletion_date
                .map(|d| format!(" (deleted on {})", date_words(d)))
                .unwrap_or_default();
            wrap(
                out,
                "  ",
                "    ",
                &format!("{} {}{when}", esc(&p.region), esc(&p.arn)),
            )?;
        }
    }
    for p in r.problems {
        wrap(out, "\nNot scanned: ", "  ", p)?;
    }
    for n in r.notes {
        wrap(out, "\nNote: ", "  ", &esc(n))?;
    }
    Ok(())
}
