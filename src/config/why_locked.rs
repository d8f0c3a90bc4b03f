//! `why-locked`: the evidence, the key, the caller and its layers, and the words to run it
//! again.

use std::path::PathBuf;

use super::live::{parse_since, LiveConfig, Source};
use super::{account_flag, flag_err, layer_files, run_flags, FlagError};
use crate::analysis::condition::parse_date;
use crate::analysis::lockout::KeyRef;
use crate::analysis::principal::Caller;
use crate::analysis::shell::RunFlags;
use crate::cli::{OutputFormat, WhyLockedArgs};
use crate::evidence::settings::LayerFiles;

#[derive(Debug, Clone)]
pub struct WhyLockedConfig {
    /// The key as given (live mode also takes aliases).
    pub key_input: String,
    /// The key, when the input names it directly (an id or ARN).
    pub key: Option<KeyRef>,
    pub source: Source,
    pub account: Option<String>,
    pub write_repaired: Option<PathBuf>,
    pub now: chrono::DateTime<chrono::Utc>,
    pub output: OutputFormat,
    /// The command line as words after `kmsdoctor`, to suggest re-running it with more flags
    /// (the connection flags apart: they are in `flags`).
    pub rerun: Vec<String>,
    /// `--profile`, `--region` and `--endpoint-url` as given, for every printed command.
    pub flags: RunFlags,
    /// `--caller`: who is asking, for files and bundles.
    pub caller: Option<String>,
    pub identity_policies: Vec<PathBuf>,
    pub layers: LayerFiles,
}

impl WhyLockedConfig {
    pub fn resolve(args: &WhyLockedArgs) -> Result<WhyLockedConfig, FlagError> {
        let key_input = args.key.as_deref().unwrap_or_default().trim().to_string();
        let source = if let Some(b) = &args.from {
            Source::Bundle(b.clone())
        } else if args.policy_file.is_some() || !args.events_files.is_empty() {
            Source::Files {
                policy_file: args.policy_file.clone(),
                events_files: args.events_files.clone(),
            }
        } else {
            Source::Live(Box::new(LiveConfig::resolve(&args.aws, &key_input)?))
        };
        if let (Some(_), Source::Files { .. } | Source::Bundle(_)) = (&args.aws.history, &source) {
            return Err(flag_err(
                "--history",
                "it chooses where kmsdoctor reads CloudTrail in AWS; the evidence files hold what they hold (leave it out)",
            ));
        }
        if let (Some(flag), Source::Files { .. } | Source::Bundle(_)) =
            (super::live::archive_flag(&args.aws), &source)
        {
            return Err(flag_err(
                flag,
                "it chooses whose credentials read the trail's archive in AWS; the evidence files hold what they hold (leave it out)",
            ));
        }
        if let (Some(given), Source::Files { .. } | Source::Bundle(_)) = (&args.aws.since, &source)
        {
            parse_since(given, true, chrono::Utc::now())?;
            return Err(flag_err(
                "--since",
                "it bounds the CloudTrail lookups kmsdoctor makes in AWS; the evidence files hold what they hold (leave it out, or pick the records yourself)",
            ));
        }
        let key = match (&args.key, &source) {
            // The bundle names the key.
            (None, _) => None,
            (Some(k), _) => match (KeyRef::parse(k), &source) {
                (Ok(k), _) => Some(k),
                // Aliases are resolved by AWS, or taken from the bundle.
                (Err(_), Source::Live(_) | Source::Bundle(_)) if k.contains("alias/") => None,
                (Err(m), _) => return Err(flag_err("KEY", m.to_string())),
            },
        };
        if let Some(a) = &args.account {
            account_flag("--account", a)?;
            if let Some(k) = key
                .as_ref()
                .and_then(|k| k.account.as_ref())
                .filter(|k| *k != a)
            {
                return Err(flag_err(
                    "--account",
                    format!("`{a}` differs from the account of the key ARN ({k})"),
                ));
            }
        }
        let now = match &args.now {
            Some(t) => parse_date(t)
                .ok_or_else(|| flag_err("--now", format!("`{t}` is not an ISO 8601 time")))?,
            None => chrono::Utc::now(),
        };
        if let (Some(out), Some(input)) = (&args.write_repaired, &args.policy_file) {
            if out == input {
                return Err(flag_err(
                    "--write-repaired",
                    "would overwrite the --policy-file given as input",
                ));
            }
        }
        let caller = match (&args.caller, &source) {
            (Some(_), Source::Live(_)) => {
                return Err(flag_err(
                    "--caller",
                    "live, the caller is whoever the credentials belong to (leave --caller out, or use --profile)",
                ))
            }
            (Some(c), _) => {
                Caller::parse(c).map_err(|e| flag_err("--caller", e.to_string()))?;
                Some(c.trim().to_string())
            }
            (None, _) => None,
        };
        let layers = layer_files(&args.layers)?;
        if caller.is_none()
            && !matches!(source, Source::Live(_))
            && (layers.any() || !args.identity_policies.is_empty())
        {
            return Err(flag_err(
                "--caller",
                "the identity policies, boundary, session policies, SCPs and RCPs are a caller's: say who is asking with --caller",
            ));
        }
        // The run again, with every flag that shaped it (the evidence, the account, the time;
        // live, how far back and from where), as the words clap parsed: no second list of
        // the flags to drift from the CLI.
        let mut rerun: Vec<String> = vec!["why-locked".into()];
        rerun.extend(args.given.iter().cloned());
        Ok(WhyLockedConfig {
            key_input,
            key,
            source,
            account: args.account.clone(),
            write_repaired: args.write_repaired.clone(),
            now,
            output: args.output,
            rerun,
            flags: run_flags(&args.aws),
            caller,
            identity_policies: args.identity_policies.clone(),
            layers,
        })
    }

    /// Whether the request chain has anything to work from besides the key policy.
    pub fn has_layers(&self) -> bool {
        !self.identity_policies.is_empty() || self.layers.any()
    }
}
