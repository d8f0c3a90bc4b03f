//! `fix`: the key, the policy to apply, and the guards' flags.

use std::path::PathBuf;

use super::live::LiveConfig;
use super::{flag_err, run_flags, FlagError};
use crate::analysis::shell::RunFlags;
use crate::cli::OutputFormat;

#[derive(Debug, Clone)]
pub struct FixConfig {
    pub key_input: String,
    pub policy_file: Option<PathBuf>,
    pub rollback: Option<PathBuf>,
    pub apply: bool,
    pub yes: bool,
    /// `--backup`, or `None` for the default name (known once the key is).
    pub backup: Option<PathBuf>,
    pub expect_fingerprint: Option<String>,
    pub output: OutputFormat,
    pub live: LiveConfig,
    /// The run's flags, for the rollback command.
    pub flags: RunFlags,
}

impl FixConfig {
    pub fn resolve(a: &crate::cli::FixArgs) -> Result<FixConfig, FlagError> {
        let expect = match &a.expect_policy_sha256 {
            Some(h) => {
                let h = h.trim().to_ascii_lowercase();
                if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(flag_err(
                        "--expect-policy-sha256",
                        format!("`{h}` is not a SHA-256 in hex (64 digits)"),
                    ));
                }
                Some(h)
            }
            None => None,
        };
        if a.backup.is_some() && !a.apply {
            return Err(flag_err(
                "--backup",
                "only --apply writes a backup: add --apply, or leave --backup out",
            ));
        }
        for (flag, given) in [
            ("--policy-file", &a.policy_file),
            ("--rollback", &a.rollback),
        ] {
            if let (Some(g), Some(b)) = (given, &a.backup) {
                if g == b {
                    return Err(flag_err(
                        "--backup",
                        format!("would overwrite the {flag} given"),
                    ));
                }
            }
        }
        if a.aws.history == Some(crate::cli::HistoryArg::Athena) {
            return Err(flag_err(
                "--history",
                "fix does not start Athena queries: run why-locked --history athena first, or use --history s3",
            ));
        }
        Ok(FixConfig {
            key_input: a.key.trim().to_string(),
            policy_file: a.policy_file.clone(),
            rollback: a.rollback.clone(),
            apply: a.apply,
            yes: a.yes,
            backup: a.backup.clone(),
            expect_fingerprint: expect,
            output: a.output,
            live: LiveConfig::resolve(&a.aws, &a.key)?,
            flags: run_flags(&a.aws),
        })
    }
}
