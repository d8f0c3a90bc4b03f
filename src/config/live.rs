//! Where `why-locked` gets its evidence, and how a run reaches AWS: the connection,
//! `--since`, `--history` and the Athena flags; `collect`'s settings.

use std::path::PathBuf;

use super::{flag_err, FlagError};
use crate::analysis::aws_ids::{self};
use crate::cli::{AwsArgs, CollectArgs};
use crate::evidence::settings::{ArchiveAccess, AthenaSettings, Connection, History};

/// Where `why-locked` gets its evidence.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--policy-file` and/or `--events-file`.
    Files {
        policy_file: Option<PathBuf>,
        events_files: Vec<PathBuf>,
    },
    /// A bundle saved by `collect`.
    Bundle(PathBuf),
    /// AWS itself.
    Live(Box<LiveConfig>),
}

/// How to gather evidence from AWS.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub connection: Connection,
    pub since: std::time::Duration,
    pub history: History,
    /// Whose credentials read the archive (`--archive-*`).
    pub archive: ArchiveAccess,
}

impl LiveConfig {
    /// `key`: the key as given; a key or alias ARN names its region, which is then the
    /// region called (KMS keys are regional: no other region could answer for it).
    pub fn resolve(a: &AwsArgs, key: &str) -> Result<LiveConfig, FlagError> {
        let history = history_source(a)?;
        let since = parse_since(
            a.since.as_deref().unwrap_or("90"),
            history != History::Lookup,
            chrono::Utc::now(),
        )?;
        if let Some(u) = &a.endpoint_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(flag_err(
                    "--endpoint-url",
                    format!("`{u}` is not an http:// or https:// URL"),
                ));
            }
        }
        if let Some(r) = &a.region {
            aws_ids::check_region(r, a.any_region).map_err(|m| flag_err("--region", m))?;
        }
        let arn_region = aws_ids::kms_arn_region(key.trim());
        if let (None, Some(r)) = (&a.region, arn_region) {
            aws_ids::check_region(r, a.any_region)
                .map_err(|m| flag_err("KEY", format!("the key's ARN: {m}")))?;
        }
        if let (Some(flag), Some(arn)) = (&a.region, arn_region) {
            if flag != arn {
                return Err(flag_err(
                    "--region",
                    format!("`{flag}` is not the key's region: its ARN is in {arn}"),
                ));
            }
        }
        let archive = archive_access(a, &history)?;
        Ok(LiveConfig {
            archive,
            connection: Connection {
                profile: a.profile.clone(),
                region: a.region.clone().or(arn_region.map(str::to_string)),
                endpoint_url: a.endpoint_url.clone(),
            },
            since,
            history,
        })
    }
}

/// `--archive-profile`, `--archive-role-arn` and `--archive-external-id`, checked: only with
/// `--history s3` or `athena`, a role ARN that names a role, an external id as STS takes it
/// (2 to 1224 of `A-Za-z0-9+=,.@:/-` and `_`; STS API Reference, AssumeRole), and an
/// external id only with a role.
/// The first `--archive-*` flag given, for the commands and sources that read no archive.
pub fn archive_flag(a: &AwsArgs) -> Option<&'static str> {
    [
        ("--archive-profile", a.archive_profile.is_some()),
        ("--archive-role-arn", a.archive_role_arn.is_some()),
        ("--archive-external-id", a.archive_external_id.is_some()),
    ]
    .into_iter()
    .find(|(_, given)| *given)
    .map(|(flag, _)| flag)
}

fn archive_access(a: &AwsArgs, history: &History) -> Result<ArchiveAccess, FlagError> {
    let access = ArchiveAccess {
        profile: a.archive_profile.clone(),
        role_arn: a.archive_role_arn.clone(),
        external_id: a.archive_external_id.clone(),
    };
    if *history == History::Lookup {
        if let Some(flag) = archive_flag(a) {
            return Err(flag_err(flag, "it is for --history s3 or athena only"));
        }
        return Ok(access);
    }
    if let Some(p) = &access.profile {
        if p.is_empty() || p.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(flag_err(
                "--archive-profile",
                "a profile name has no spaces or control characters",
            ));
        }
    }
    if let Some(r) = &access.role_arn {
        let is_role = aws_ids::Arn::parse(r)
            .is_some_and(|arn| arn.service == "iam" && arn.resource.starts_with("role/"));
        if !is_role {
            return Err(flag_err(
                "--archive-role-arn",
                format!(
                    "`{}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                    crate::analysis::escape::visible(r)
                ),
            ));
        }
    }
    if let Some(id) = &access.external_id {
        if access.role_arn.is_none() {
            return Err(flag_err(
                "--archive-external-id",
                "it goes with --archive-role-arn",
            ));
        }
        let ok = (2..=1224).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b));
        if !ok {
            return Err(flag_err(
                "--archive-external-id",
                "an external id is 2 to 1224 of A-Z, a-z, 0-9 and +=,.@:/-_",
            ));
        }
    }
    Ok(access)
}

/// `--history` and the Athena flags, checked: names that go into the query are names, the
/// output location an `s3://` URI, `--max-scan` a size; Athena flags only with
/// `--history athena`.
fn history_source(a: &AwsArgs) -> Result<History, FlagError> {
    use crate::cli::HistoryArg;
    use crate::evidence::athena::{is_identifier, parse_size};
    let athena_flags = [
        ("--athena-workgroup", a.athena_workgroup.is_some()),
        ("--athena-database", a.athena_database.is_some()),
        ("--athena-table", a.athena_table.is_some()),
        (
            "--athena-output-location",
            a.athena_output_location.is_some(),
        ),
        ("--max-scan", a.max_scan.is_some()),
    ];
    match a.history {
        Some(HistoryArg::Athena) => {}
        _ => {
            if let Some((flag, _)) = athena_flags.iter().find(|(_, given)| *given) {
                return Err(flag_err(flag, "it is for --history athena only"));
            }
            return Ok(match a.history {
                Some(HistoryArg::S3) => History::S3,
                _ => History::Lookup,
            });
        }
    }
    let workgroup = a
        .athena_workgroup
        .clone()
        .unwrap_or_else(|| "primary".into());
    if !(1..=128).contains(&workgroup.len())
        || !workgroup
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(flag_err(
            "--athena-workgroup",
            format!("`{workgroup}` is not a workgroup name"),
        ));
    }
    let database = a
        .athena_database
        .clone()
        .unwrap_or_else(|| "default".into());
    if !is_identifier(&database) {
        return Err(flag_err(
            "--athena-database",
            format!("`{database}` is not a database name (letters, digits, _)"),
        ));
    }
    let table = a
        .athena_table
        .clone()
        .unwrap_or_else(|| "cloudtrail_logs".into());
    if !is_identifier(&table) {
        return Err(flag_err(
            "--athena-table",
            format!("`{table}` is not a table name (letters, digits, _)"),
        ));
    }
    if let Some(o) = &a.athena_output_location {
        if !o.starts_with("s3://") || o.len() <= 5 || o.chars().any(char::is_control) {
            return Err(flag_err(
                "--athena-output-location",
                format!("`{o}` is not an s3:// URI"),
            ));
        }
    }
    let max_scan = match &a.max_scan {
        Some(m) => parse_size(m).map_err(|e| flag_err("--max-scan", e.0))?,
        None => 5_000_000_000,
    };
    Ok(History::Athena(AthenaSettings {
        workgroup,
        database,
        table,
        output_location: a.athena_output_location.clone(),
        max_scan,
    }))
}

/// `--since`: days (`30`, `30d`), 1 to 90 for event history; with the archive
/// (`--history s3`), up to ten years back, or a date (`2025-01-31`).
pub(super) fn parse_since(
    given: &str,
    archive: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<std::time::Duration, FlagError> {
    const MAX_ARCHIVE_DAYS: u64 = 3660;
    let g = given.trim();
    let days: u64 = match chrono::NaiveDate::parse_from_str(g, "%Y-%m-%d") {
        Ok(date) => {
            if !archive {
                return Err(flag_err(
                    "--since",
                    "a date reaches past event history's 90 days: give it with --history s3, or give 1 to 90 days",
                ));
            }
            let back = now.date_naive().signed_duration_since(date).num_days();
            if back < 1 {
                return Err(flag_err("--since", format!("`{g}` is not before today")));
            }
            back as u64 + 1
        }
        Err(_) => g.trim_end_matches(['d', 'D']).parse().map_err(|_| {
            flag_err(
                "--since",
                format!("`{given}` is not a number of days (`30`, `30d`) or a date (YYYY-MM-DD)"),
            )
        })?,
    };
    if days == 0 {
        return Err(flag_err("--since", "give at least 1 day"));
    }
    if !archive && days > 90 {
        return Err(flag_err(
            "--since",
            "CloudTrail event history keeps 90 days: give 1 to 90, or --history s3 to read the trail's logs further back",
        ));
    }
    if days > MAX_ARCHIVE_DAYS {
        return Err(flag_err(
            "--since",
            format!("give at most {MAX_ARCHIVE_DAYS} days (ten years)"),
        ));
    }
    Ok(std::time::Duration::from_secs(days * 86_400))
}

#[derive(Debug, Clone)]
pub struct CollectConfig {
    pub key_input: String,
    pub output: PathBuf,
    pub live: LiveConfig,
}

impl CollectConfig {
    pub fn resolve(a: &CollectArgs) -> Result<CollectConfig, FlagError> {
        Ok(CollectConfig {
            key_input: a.key.trim().to_string(),
            output: a.out.clone(),
            live: LiveConfig::resolve(&a.aws, &a.key)?,
        })
    }
}
