//! `scan` and `guard`: the regions, the pace, `--org`, and the principals `guard` deletes.

use std::path::PathBuf;

use super::live::LiveConfig;
use super::{flag_err, principal_arns, run_flags, FlagError};
use crate::analysis::shell::RunFlags;
use crate::cli::{CheckFormat, OutputFormat};
use crate::evidence::settings::Connection;

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub regions: Vec<String>,
    pub rate: u32,
    pub output: CheckFormat,
    /// `--org`: the role to assume in each member account, and the external id.
    pub org: Option<(String, Option<String>)>,
    pub connection: Connection,
    /// The run's flags, for the follow-up commands.
    pub flags: RunFlags,
    /// When the keys are judged (the time conditions and deletion dates are read against).
    pub now: chrono::DateTime<chrono::Utc>,
}

impl ScanConfig {
    pub fn resolve(a: &crate::cli::ScanArgs) -> Result<ScanConfig, FlagError> {
        let mut regions: Vec<String> = Vec::new();
        for r in &a.regions {
            let r = r.trim();
            crate::analysis::aws_ids::check_region(r, a.aws.any_region)
                .map_err(|m| flag_err("--regions", m))?;
            if !regions.iter().any(|x| x == r) {
                regions.push(r.to_string());
            }
        }
        if a.rate == 0 || a.rate > 1000 {
            return Err(flag_err(
                "--rate",
                "give 1 to 1000 calls a second (KMS's quotas are per account and region, shared with every other caller)",
            ));
        }
        if a.aws.since.is_some() {
            return Err(flag_err(
                "--since",
                "scan reads each key's current policy, not CloudTrail: leave --since out",
            ));
        }
        if let Some(flag) = super::live::archive_flag(&a.aws) {
            return Err(flag_err(
                flag,
                "scan reads each key's current policy, not CloudTrail: leave it out",
            ));
        }
        if a.aws.history.is_some() {
            return Err(flag_err(
                "--history",
                "scan reads each key's current policy, not CloudTrail: leave --history out",
            ));
        }
        if let (Some(r), false) = (&a.aws.region, regions.is_empty()) {
            if !regions.contains(r) {
                return Err(flag_err(
                    "--region",
                    "give the regions to scan with --regions alone",
                ));
            }
        }
        let live = LiveConfig::resolve(&a.aws, "")?;
        let o = &a.org;
        let role_ok = !o.role_name.is_empty()
            && o.role_name.len() <= 64
            && o.role_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !role_ok {
            return Err(flag_err(
                "--role-name",
                format!("`{}` is not a role name", o.role_name),
            ));
        }
        if !o.org && (o.external_id.is_some() || o.role_name != "OrganizationAccountAccessRole") {
            return Err(flag_err(
                "--role-name",
                "--role-name and --external-id are for --org",
            ));
        }
        Ok(ScanConfig {
            org: o.org.then(|| (o.role_name.clone(), o.external_id.clone())),
            regions,
            rate: a.rate,
            output: a.output,
            connection: live.connection,
            flags: run_flags(&a.aws),
            now: chrono::Utc::now(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct GuardConfig {
    pub delete: Vec<String>,
    pub min_admins: usize,
    /// `--scan FILE`, else a scan now.
    pub scan_file: Option<PathBuf>,
    pub scan: Option<ScanConfig>,
    pub output: OutputFormat,
}

impl GuardConfig {
    pub fn resolve(a: &crate::cli::GuardArgs) -> Result<GuardConfig, FlagError> {
        let delete = principal_arns("--delete", &a.delete)?;
        let scan = match &a.scan {
            Some(_) => {
                for (flag, given) in [("--regions", !a.regions.is_empty()), ("--org", a.org.org)] {
                    if given {
                        return Err(flag_err(
                            flag,
                            format!("with --scan FILE no scan is made: leave {flag} out"),
                        ));
                    }
                }
                None
            }
            None => Some(ScanConfig::resolve(&crate::cli::ScanArgs {
                regions: a.regions.clone(),
                rate: a.rate,
                output: CheckFormat::Json,
                org: a.org.clone(),
                aws: a.aws.clone(),
            })?),
        };
        Ok(GuardConfig {
            delete,
            min_admins: a.min_admins,
            scan_file: a.scan.clone(),
            scan,
            output: a.output,
        })
    }
}
