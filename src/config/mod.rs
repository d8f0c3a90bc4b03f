//! Resolved settings: flags checked and turned into kmsdoctor's types. A value that is
//! syntactically a flag but means nothing (an ARN that is not one, an unknown action) is
//! reported here, naming the flag. One module per command (what two share is here).

mod check;
mod fix;
mod live;
mod request;
mod scan;
mod why_locked;

pub use check::CheckConfig;
pub use fix::FixConfig;
pub use live::{CollectConfig, LiveConfig, Source};
pub use request::{
    resolve_action, resolve_request, unknown_context_keys, ExplainConfig, RequestFlags,
};
pub use scan::{GuardConfig, ScanConfig};
pub use why_locked::WhyLockedConfig;

use std::path::PathBuf;

use crate::analysis::aws_ids::{self, is_account_id};
use crate::analysis::shell::RunFlags;
use crate::cli::{AwsArgs, LayerArgs};
use crate::evidence::settings::LayerFiles;

/// A flag whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct FlagError {
    pub flag: &'static str,
    pub message: String,
}

/// A flag that names an account: a 12-digit account id.
fn account_flag(flag: &'static str, value: &str) -> Result<(), FlagError> {
    if is_account_id(value) {
        Ok(())
    } else {
        Err(flag_err(
            flag,
            format!("`{value}` is not a 12-digit account id"),
        ))
    }
}

fn flag_err(flag: &'static str, message: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        message: message.into(),
    }
}

/// Resolves the layer flags into the files to read.
pub fn layer_files(args: &LayerArgs) -> Result<LayerFiles, FlagError> {
    let org =
        |flag: &'static str, values: &[String]| -> Result<Vec<(String, PathBuf)>, FlagError> {
            values.iter().map(|v| org_policy_file(flag, v)).collect()
        };
    if let Some(m) = &args.management_account {
        account_flag("--management-account", m)?;
    }
    Ok(LayerFiles {
        boundary: match (&args.boundary, args.no_boundary) {
            (Some(p), _) => Some(Some(p.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        },
        session: args.session_policies.clone(),
        scps: org("--scp", &args.scps)?,
        rcps: org("--rcp", &args.rcps)?,
        management_account: args.management_account.clone(),
    })
}

/// `TARGET=FILE` or `FILE` (attached to the account). TARGET is an organization root
/// (`r-` and 4 to 32 lowercase letters or digits), an OU (`ou-ROOT-SUFFIX`) or an account id,
/// as AWS Organizations spells them; anything else before a `=` is part of the file name.
fn org_policy_file(flag: &'static str, value: &str) -> Result<(String, PathBuf), FlagError> {
    if value.is_empty() {
        return Err(flag_err(flag, "give a policy file, or TARGET=FILE"));
    }
    if let Some((target, file)) = value.split_once('=') {
        if aws_ids::is_org_target(target) {
            if file.is_empty() {
                return Err(flag_err(flag, format!("`{target}=` names no file")));
            }
            return Ok((target.to_string(), PathBuf::from(file)));
        }
    }
    Ok(("account".to_string(), PathBuf::from(value)))
}

/// User and role ARNs, each checked.
fn principal_arns(flag: &'static str, given: &[String]) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    for d in given {
        let d = d.trim();
        let principal = aws_ids::is_user_arn(d) || aws_ids::is_role_arn(d);
        if !principal {
            return Err(flag_err(
                flag,
                format!("`{d}` is not a user or role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            ));
        }
        out.push(d.to_string());
    }
    Ok(out)
}

/// The run's AWS flags as given, for the commands kmsdoctor prints.
pub fn run_flags(a: &AwsArgs) -> RunFlags {
    RunFlags {
        profile: a.profile.clone(),
        region: a.region.clone(),
        endpoint_url: a.endpoint_url.clone(),
        any_region: a.any_region,
    }
}
