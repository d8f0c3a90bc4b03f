//! `check`: the paths, the account, the deployer, and what fails the run.

use std::path::PathBuf;

use super::{account_flag, flag_err, principal_arns, FlagError};
use crate::analysis::aws_ids::is_region;
use crate::analysis::principal::Caller;
use crate::analysis::rules::Severity;
use crate::cli::{CheckArgs, CheckFormat, FailOn};

/// `check`'s settings.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub paths: Vec<PathBuf>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The principal that will apply the policies (`--as`).
    pub deployer: Option<Caller>,
    pub output: CheckFormat,
    /// The lowest severity that fails the run (exit 3).
    pub fail_on: Severity,
    pub now: chrono::DateTime<chrono::Utc>,
    /// `--allow-empty`: a folder without key policies is not an error.
    pub allow_empty: bool,
    /// `--assume-deleted`: user and role ARNs about to be deleted.
    pub assume_deleted: Vec<String>,
}

impl CheckConfig {
    pub fn resolve(args: &CheckArgs) -> Result<CheckConfig, FlagError> {
        if let Some(a) = &args.account {
            account_flag("--account", a)?;
        }
        let deployer = args
            .as_principal
            .as_deref()
            .map(Caller::parse)
            .transpose()
            .map_err(|e| flag_err("--as", e.to_string()))?;
        if let Some(r) = &args.region {
            if !is_region(r) {
                return Err(flag_err(
                    "--region",
                    format!("`{r}` is not an AWS region name"),
                ));
            }
        }
        Ok(CheckConfig {
            paths: args.paths.clone(),
            account: args.account.clone(),
            region: args.region.clone(),
            deployer,
            output: args.output,
            fail_on: match args.fail_on {
                FailOn::Error => Severity::Error,
                FailOn::Warning => Severity::Warning,
            },
            now: chrono::Utc::now(),
            allow_empty: args.allow_empty,
            assume_deleted: principal_arns("--assume-deleted", &args.assume_deleted)?,
        })
    }
}
