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
            Source::Live(LiveConfig::resolve(&args.aws, &key_input)?)
        };
        if let (Some(_), Source::Files { .. } | Source::Bundle(_)) = (&args.aws.history, &source) {
            return Err(flag_err(
                "--history",
                "it chooses where kmsdoctor reads CloudTrail in AWS; the evidence files hold what they hold (leave it out)",
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
        // The run again, with every flag that shaped it (the evidence, the account, the time,
        // and the AWS connection), as words for a command line.
        let mut rerun: Vec<String> = vec!["why-locked".into()];
        rerun.extend(args.key.clone());
        let mut flag = |f: &str, v: String| {
            rerun.push(f.to_string());
            rerun.push(v);
        };
        if let Some(b) = &args.from {
            flag("--from", b.display().to_string());
        }
        if let Some(p) = &args.policy_file {
            flag("--policy-file", p.display().to_string());
        }
        for e in &args.events_files {
            flag("--events-file", e.display().to_string());
        }
        if let Some(a) = &args.account {
            flag("--account", a.clone());
        }
        if let Some(t) = &args.now {
            flag("--now", t.clone());
        }
        if let Some(c) = &args.caller {
            flag("--caller", c.clone());
        }
        for p in &args.identity_policies {
            flag("--identity-policy", p.display().to_string());
        }
        let l = &args.layers;
        if let Some(b) = &l.boundary {
            flag("--boundary", b.display().to_string());
        }
        for p in &l.session_policies {
            flag("--session-policy", p.display().to_string());
        }
        for v in &l.scps {
            flag("--scp", v.clone());
        }
        for v in &l.rcps {
            flag("--rcp", v.clone());
        }
        if let Some(m) = &l.management_account {
            flag("--management-account", m.clone());
        }

        if matches!(source, Source::Live(_)) {
            let a = &args.aws;
            if let Some(since) = &a.since {
                flag("--since", since.clone());
            }
            match a.history {
                Some(crate::cli::HistoryArg::S3) => flag("--history", "s3".into()),
                Some(crate::cli::HistoryArg::Athena) => {
                    flag("--history", "athena".into());
                    for (f, v) in [
                        ("--athena-workgroup", &a.athena_workgroup),
                        ("--athena-database", &a.athena_database),
                        ("--athena-table", &a.athena_table),
                        ("--athena-output-location", &a.athena_output_location),
                        ("--max-scan", &a.max_scan),
                    ] {
                        if let Some(v) = v {
                            flag(f, v.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if args.layers.no_boundary {
            rerun.push("--no-boundary".into());
        }
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
