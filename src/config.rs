//! Resolved settings: flags checked and turned into kmsdoctor's types. A value that is
//! syntactically a flag but means nothing (an ARN that is not one, an unknown action) is
//! reported here, naming the flag.

use std::path::PathBuf;

use crate::analysis::aws_ids::{self, is_account_id, is_region};
use crate::analysis::condition::parse_date;
use crate::analysis::context::Context;
use crate::analysis::eval::{Request, Resource};
use crate::analysis::kms;
use crate::analysis::lockout::KeyRef;
use crate::analysis::principal::Caller;
use crate::analysis::rules::Severity;
use crate::analysis::shell::RunFlags;
use crate::cli::{
    AwsArgs, CheckArgs, CheckFormat, CollectArgs, ExplainArgs, FailOn, LayerArgs, OutputFormat,
    WhyLockedArgs,
};
use crate::evidence::aws::Connection;

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

/// Policy files of the request chain's layers, as resolved from [`LayerArgs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerFiles {
    /// `None`: not known; `Some(None)`: known to have none.
    pub boundary: Option<Option<PathBuf>>,
    pub session: Vec<PathBuf>,
    /// `(target, file)` pairs, in the order given.
    pub scps: Vec<(String, PathBuf)>,
    pub rcps: Vec<(String, PathBuf)>,
    pub management_account: Option<String>,
}

impl LayerFiles {
    pub fn resolve(args: &LayerArgs) -> Result<LayerFiles, FlagError> {
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

    /// Whether any layer beyond the key and identity policies was given.
    pub fn any(&self) -> bool {
        self.boundary.is_some()
            || !self.session.is_empty()
            || !self.scps.is_empty()
            || !self.rcps.is_empty()
            || self.management_account.is_some()
    }
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

#[derive(Debug, Clone)]
pub struct ExplainConfig {
    pub request: Request,
    /// True when the key's account was not given and the caller's was assumed.
    pub key_account_assumed: bool,
    pub policy_file: Option<PathBuf>,
    pub identity_policies: Vec<PathBuf>,
    pub layers: LayerFiles,
    pub output: OutputFormat,
    /// What the flags say that may not be meant: a context key kmsdoctor does not know.
    pub warnings: Vec<String>,
}

impl ExplainConfig {
    pub fn resolve(args: &ExplainArgs) -> Result<ExplainConfig, FlagError> {
        let (request, key_account_assumed) = resolve_request(&RequestFlags {
            principal: &args.principal,
            action: &args.action,
            resource: &args.resource,
            account: args.account.as_deref(),
            context: &args.context,
            absent: &args.absent,
            assume_absent: args.assume_absent,
        })?;
        Ok(ExplainConfig {
            request,
            key_account_assumed,
            policy_file: args.policy_file.clone(),
            identity_policies: args.identity_policies.clone(),
            layers: LayerFiles::resolve(&args.layers)?,
            output: args.output,
            warnings: unknown_context_keys(&args.context, &args.absent),
        })
    }
}

/// The flags that describe a request, as given.
#[derive(Debug, Clone, Copy)]
pub struct RequestFlags<'a> {
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub account: Option<&'a str>,
    pub context: &'a [String],
    pub absent: &'a [String],
    pub assume_absent: bool,
}

/// Builds a request from its flags; the flag is true when the key's account was not given
/// and the caller's was assumed.
pub fn resolve_request(f: &RequestFlags<'_>) -> Result<(Request, bool), FlagError> {
    let caller = Caller::parse(f.principal).map_err(|e| flag_err("--principal", e.to_string()))?;
    let action = resolve_action(f.action)?;
    let resource =
        Resource::parse(f.resource).map_err(|m| flag_err("--resource", m.to_string()))?;
    if let Some(a) = f.account {
        account_flag("--account", a)?;
    }
    let (key_account, assumed) = match (resource.account(), f.account, caller.account()) {
        (Some(r), Some(a), _) if r != a => {
            return Err(flag_err(
                "--account",
                format!("`{a}` differs from the account of --resource ({r})"),
            ))
        }
        (Some(r), _, _) => (r, false),
        (None, Some(a), _) => (a.to_string(), false),
        (None, None, Some(c)) => (c.to_string(), true),
        (None, None, None) => {
            return Err(flag_err(
                "--account",
                "a service principal has no account: give the key's account with --account or a key ARN with --resource",
            ))
        }
    };
    let context = resolve_context(f.context, f.absent, f.assume_absent)?;
    Ok((
        Request::new(caller, action, resource, key_account, context),
        assumed,
    ))
}

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
    Live(LiveConfig),
}

/// How to gather evidence from AWS.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub connection: Connection,
    pub since: std::time::Duration,
    pub history: crate::evidence::live::History,
}

impl LiveConfig {
    /// `key`: the key as given; a key or alias ARN names its region, which is then the
    /// region called (KMS keys are regional: no other region could answer for it).
    pub fn resolve(a: &AwsArgs, key: &str) -> Result<LiveConfig, FlagError> {
        let history = history_source(a)?;
        let since = parse_since(
            a.since.as_deref().unwrap_or("90"),
            history != crate::evidence::live::History::Lookup,
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
        let arn_region = aws_ids::kms_arn_region(key.trim());
        if let (Some(flag), Some(arn)) = (&a.region, arn_region) {
            if flag != arn {
                return Err(flag_err(
                    "--region",
                    format!("`{flag}` is not the key's region: its ARN is in {arn}"),
                ));
            }
        }
        Ok(LiveConfig {
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

/// `--history` and the Athena flags, checked: names that go into the query are names, the
/// output location an `s3://` URI, `--max-scan` a size; Athena flags only with
/// `--history athena`.
fn history_source(a: &AwsArgs) -> Result<crate::evidence::live::History, FlagError> {
    use crate::cli::HistoryArg;
    use crate::evidence::athena::{is_identifier, parse_size};
    use crate::evidence::live::History;
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
        Some(m) => parse_size(m).map_err(|e| flag_err("--max-scan", e))?,
        None => 5_000_000_000,
    };
    Ok(History::Athena(
        crate::evidence::aws::athena::AthenaSettings {
            workgroup,
            database,
            table,
            output_location: a.athena_output_location.clone(),
            max_scan,
        },
    ))
}

/// `--since`: days (`30`, `30d`), 1 to 90 for event history; with the archive
/// (`--history s3`), up to ten years back, or a date (`2025-01-31`).
fn parse_since(
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
}

impl ScanConfig {
    pub fn resolve(a: &crate::cli::ScanArgs) -> Result<ScanConfig, FlagError> {
        let mut regions: Vec<String> = Vec::new();
        for r in &a.regions {
            let r = r.trim();
            if !is_region(r) {
                return Err(flag_err("--regions", format!("`{r}` is not a region name")));
            }
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
        let role_ok = !a.role_name.is_empty()
            && a.role_name.len() <= 64
            && a.role_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !role_ok {
            return Err(flag_err(
                "--role-name",
                format!("`{}` is not a role name", a.role_name),
            ));
        }
        if !a.org && (a.external_id.is_some() || a.role_name != "OrganizationAccountAccessRole") {
            return Err(flag_err(
                "--role-name",
                "--role-name and --external-id are for --org",
            ));
        }
        Ok(ScanConfig {
            org: a.org.then(|| (a.role_name.clone(), a.external_id.clone())),
            regions,
            rate: a.rate,
            output: a.output,
            connection: live.connection,
            flags: run_flags(&a.aws),
        })
    }
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
                if !a.regions.is_empty() {
                    return Err(flag_err(
                        "--regions",
                        "with --scan FILE no scan is made: leave --regions out",
                    ));
                }
                None
            }
            None => Some(ScanConfig::resolve(&crate::cli::ScanArgs {
                regions: a.regions.clone(),
                rate: a.rate,
                output: CheckFormat::Json,
                org: false,
                role_name: "OrganizationAccountAccessRole".into(),
                external_id: None,
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
        let layers = LayerFiles::resolve(&args.layers)?;
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

/// The run's AWS flags as given, for the commands kmsdoctor prints.
pub fn run_flags(a: &AwsArgs) -> RunFlags {
    RunFlags {
        profile: a.profile.clone(),
        region: a.region.clone(),
        endpoint_url: a.endpoint_url.clone(),
    }
}

/// `kms:putkeypolicy` -> `kms:PutKeyPolicy`; anything not a KMS action is an error.
pub fn resolve_action(input: &str) -> Result<String, FlagError> {
    match kms::operation(input.trim()) {
        Some(op) => Ok(format!("kms:{}", op.name)),
        None => {
            let hint = kms::suggest(input)
                .map(|s| format!(" (did you mean `kms:{s}`?)"))
                .unwrap_or_default();
            Err(flag_err(
                "--action",
                format!("`{input}` is not a KMS action; write it as `kms:OPERATION`{hint}"),
            ))
        }
    }
}

/// A warning for each `--context` or `--absent` key that is neither a global condition key
/// nor a KMS one: likely a typo (`aws:SorceIp`), which policies would never test.
pub fn unknown_context_keys(pairs: &[String], absent: &[String]) -> Vec<String> {
    let keys = pairs
        .iter()
        .map(|p| (p.split_once('=').map(|(k, _)| k).unwrap_or(p), "--context"))
        .chain(absent.iter().map(|k| (k.as_str(), "--absent")));
    let mut out = Vec::new();
    for (k, flag) in keys {
        let k = k.trim();
        if k.is_empty() || crate::analysis::condition_keys::is_known(k) {
            continue;
        }
        let hint = crate::analysis::condition_keys::suggest(k)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        out.push(format!(
            "{flag}: `{k}` is not a global or KMS condition key kmsdoctor knows{hint}: a condition on another key does not see this value"
        ));
    }
    out
}

fn resolve_context(
    pairs: &[String],
    absent: &[String],
    assume_absent: bool,
) -> Result<Context, FlagError> {
    let mut ctx = if assume_absent {
        Context::closed()
    } else {
        Context::open()
    };
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| flag_err("--context", format!("`{pair}` is not KEY=VALUE")))?;
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(flag_err(
                "--context",
                format!("`{pair}` has no valid key before `=`"),
            ));
        }
        ctx.push(k, v);
    }
    for k in absent {
        let k = k.trim();
        if k.is_empty() {
            return Err(flag_err("--absent", "the key is empty"));
        }
        if ctx.has(k) {
            return Err(flag_err(
                "--absent",
                format!("`{k}` is also given a value with --context"),
            ));
        }
        ctx.set_absent(k);
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> ExplainArgs {
        let mut v = vec![
            "kmsdoctor",
            "explain",
            "--principal",
            "arn:aws:iam::111122223333:role/Admin",
            "--action",
            "kms:putkeypolicy",
        ];
        v.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(v).command {
            crate::cli::Command::Explain(a) => a,
            _ => unreachable!("an explain command line"),
        }
    }

    #[test]
    fn resolves_defaults() {
        let c = ExplainConfig::resolve(&args(&[])).unwrap();
        assert_eq!(c.request.action, "kms:PutKeyPolicy");
        assert_eq!(c.request.key_account, "111122223333");
        assert!(c.key_account_assumed);
        assert!(c.request.context().is_open());
    }

    #[test]
    fn rejects_bad_values_naming_the_flag() {
        let e = ExplainConfig::resolve(&args(&["--context", "novalue"])).unwrap_err();
        assert_eq!(e.flag, "--context");
        let e = ExplainConfig::resolve(&args(&["--resource", "arn:aws:s3:::b"])).unwrap_err();
        assert_eq!(e.flag, "--resource");
        let e = ExplainConfig::resolve(&args(&["--account", "12"])).unwrap_err();
        assert_eq!(e.flag, "--account");
        let e = ExplainConfig::resolve(&args(&[
            "--account",
            "444455556666",
            "--resource",
            "arn:aws:kms:us-east-1:111122223333:key/k",
        ]))
        .unwrap_err();
        assert!(e.message.contains("differs"));
        let e = ExplainConfig::resolve(&args(&["--context", "k=v", "--absent", "K"])).unwrap_err();
        assert_eq!(e.flag, "--absent");
        assert!(resolve_action("kms:PutKeyPolcy")
            .unwrap_err()
            .message
            .contains("did you mean `kms:PutKeyPolicy`"));
        assert!(resolve_action("s3:GetObject").is_err());
    }
}

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
