//! Command-line flags, as the user typed them. Turned once into resolved settings by
//! [`crate::config`]; nothing else reads them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod help;

/// The version and the commit this build was made from (`build.rs`): `0.1.0 (1a2b3c4d5e6f)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KMSDOCTOR_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "kmsdoctor",
    version = VERSION,
    about = "Why a KMS key policy locks you out, who can still get back in, and how",
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses a command line (the program name first), keeping what the commands need of
    /// clap's matches: `why-locked`'s words, to print it again.
    pub fn read<I, T>(argv: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        // Built, so that each argument's action (a flag, a value) is settled.
        cmd.build();
        let matches = cmd.clone().try_get_matches_from(argv)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Command::WhyLocked(args), Some(("why-locked", sub))) =
            (&mut cli.command, matches.subcommand())
        {
            if let Some(sub_cmd) = cmd.find_subcommand("why-locked") {
                args.given = words_of(sub_cmd, sub, NOT_EVIDENCE);
            }
        }
        Ok(cli)
    }
}

// Parsed once per run: the size of the largest variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide one request against a key policy (and IAM policies), and say why.
    #[command(after_help = help::EXPLAIN)]
    Explain(ExplainArgs),
    /// Why a key's policy locks people out, who can still get back in, and how.
    #[command(after_help = help::WHY_LOCKED)]
    WhyLocked(WhyLockedArgs),
    /// Every version of a key's policy from the same evidence as why-locked: who made it,
    /// from where, whether the safety check was bypassed, its verdict, and the statements it
    /// added, removed or changed; a version that hands the key to another account is marked.
    #[command(after_help = help::HISTORY)]
    History(WhyLockedArgs),
    /// Gather a key's evidence from AWS into one file, to diagnose elsewhere with
    /// `why-locked --from FILE`.
    #[command(after_help = help::COLLECT)]
    Collect(CollectArgs),
    /// Lint key policies before they ship: policy files, Terraform plans, CloudFormation.
    #[command(after_help = help::CHECK)]
    Check(CheckArgs),
    /// Apply the repaired key policy, guarded: shows what would change (nothing is sent)
    /// unless `--apply`. Run it as a principal that can still call PutKeyPolicy.
    #[command(after_help = help::FIX)]
    Fix(FixArgs),
    /// Every customer-managed key of the account in the given regions: which could lock you
    /// out, or already have. Read-only.
    #[command(after_help = help::SCAN)]
    Scan(ScanArgs),
    /// Before deleting principals: which keys would lose their last administrator. Over a
    /// scan's JSON (`--scan FILE`), or a scan made now.
    #[command(after_help = help::GUARD)]
    Guard(GuardArgs),
    /// Print the Athena CREATE TABLE for a trail's logs (partition projection over account,
    /// region and day), for `why-locked --history athena`. kmsdoctor never creates tables.
    #[command(after_help = help::ATHENA_DDL)]
    AthenaDdl(AthenaDdlArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = help::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Write a man page for kmsdoctor and each subcommand into a folder.
    #[command(after_help = help::MANPAGES)]
    Manpages(ManpagesArgs),
}

#[derive(Debug, Args)]
pub struct AthenaDdlArgs {
    /// The trail's S3 bucket.
    #[arg(long, value_name = "BUCKET")]
    pub bucket: String,

    /// The trail's S3 key prefix, if it has one.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// For an organization trail: the organization id (`o-...`), a folder of its layout.
    #[arg(long, value_name = "ID")]
    pub org_id: Option<String>,

    /// The table's name.
    #[arg(long, value_name = "NAME", default_value = "cloudtrail_logs")]
    pub table: String,

    /// The first day the table covers (YYYY-MM-DD); default: two years ago.
    #[arg(long, value_name = "DATE")]
    pub start: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// An existing folder; the pages (kmsdoctor.1, kmsdoctor-why-locked.1, ...) must not
    /// exist in it.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// A user or role ARN about to be deleted (repeatable).
    #[arg(long = "delete", value_name = "PRINCIPAL_ARN", required = true)]
    pub delete: Vec<String>,

    /// The JSON of `kmsdoctor scan --output json`: no AWS call. Without it, the account is
    /// scanned now (the flags of `scan`).
    #[arg(long, value_name = "FILE")]
    pub scan: Option<PathBuf>,

    /// Exit 3 when a key would be left with fewer than this many administrators.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_admins: usize,

    /// Regions to scan, comma-separated (without --scan).
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// Calls a second for each KMS operation in each region (without --scan).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub rate: u32,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    #[command(flatten)]
    pub org: OrgArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Regions to scan, comma-separated (`us-east-1,eu-west-1`). Default: the configured
    /// region.
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// Calls a second for each KMS operation in each region (KMS's quotas, 1,000 a second
    /// for GetKeyPolicy today, are shared with every other caller of the account: keep it
    /// well below them).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub rate: u32,

    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    pub output: CheckFormat,

    #[command(flatten)]
    pub org: OrgArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `--org` and its role: the flags `scan` and `guard` share to cover an organization.
#[derive(Debug, Clone, Args)]
pub struct OrgArgs {
    /// Every active account of the organization (run from the management account or a
    /// delegated administrator), through a role assumed in each.
    #[arg(long)]
    pub org: bool,

    /// The role to assume in each member account (with --org).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "OrganizationAccountAccessRole"
    )]
    pub role_name: String,

    /// The external id the member accounts' role requires (with --org).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// The key: a key id, key ARN, alias name (`alias/NAME`) or alias ARN.
    #[arg(value_name = "KEY")]
    pub key: String,

    /// The policy to apply (a policy document or get-key-policy output). Default: the
    /// diagnosed policy with the IAM delegation put back (as `why-locked --write-repaired`).
    #[arg(long, value_name = "FILE", conflicts_with = "rollback")]
    pub policy_file: Option<PathBuf>,

    /// Put back a backup that an earlier `fix --apply` wrote, with the same guards.
    #[arg(long, value_name = "BACKUP")]
    pub rollback: Option<PathBuf>,

    /// Send the PutKeyPolicy. Without it nothing is sent.
    #[arg(long)]
    pub apply: bool,

    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Where `--apply` writes the policy it replaces (a new file). Default:
    /// `kms-policy-backup-KEYID-TIME.json` in the current folder.
    #[arg(long, value_name = "FILE")]
    pub backup: Option<PathBuf>,

    /// Refuse unless the policy in KMS is still this one (the fingerprint a diagnosis
    /// printed): guards against a change made since.
    #[arg(long, value_name = "SHA256")]
    pub expect_policy_sha256: Option<String>,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    #[default]
    Table,
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    #[default]
    Error,
    Warning,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders (walked for .json, .yaml, .yml, .template), `-` for standard input:
    /// key policies, get-key-policy output, Terraform plans (`terraform show -json`),
    /// CloudFormation or CDK templates.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// The account that will own the keys (default: found in the policy; templates use a
    /// stand-in for `${AWS::AccountId}`).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// The region the keys will be in: conditions on aws:RequestedRegion are then decided
    /// (a key is only ever called in its own region). Default: unknown, such conditions are
    /// requirements.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Predict KMS's lockout safety check for the principal that applies the policy (the
    /// CloudFormation or Terraform role).
    #[arg(long = "as", value_name = "PRINCIPAL_ARN")]
    pub as_principal: Option<String>,

    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    pub output: CheckFormat,

    /// Exit 3 when a finding of this severity or worse is found.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// A user or role ARN about to be deleted (repeatable): a policy that nobody else could
    /// change is an error (KC312).
    #[arg(long = "assume-deleted", value_name = "PRINCIPAL_ARN")]
    pub assume_deleted: Vec<String>,

    /// Let a folder without any key policy pass (for optional paths). Without it, a given
    /// folder in which no key policy is found is an error: a mistyped or empty path must not
    /// turn CI green.
    #[arg(long)]
    pub allow_empty: bool,
}

impl Cli {
    /// Whether `--verbose` was given (logs each AWS call on stderr).
    pub fn verbose(&self) -> bool {
        match &self.command {
            Command::WhyLocked(a) | Command::History(a) => a.aws.verbose,
            Command::Collect(a) => a.aws.verbose,
            Command::Fix(a) => a.aws.verbose,
            Command::Scan(a) => a.aws.verbose,
            Command::Guard(a) => a.aws.verbose,
            Command::Explain(_)
            | Command::Check(_)
            | Command::AthenaDdl(_)
            | Command::Completions(_)
            | Command::Manpages(_) => false,
        }
    }
}

/// How to reach AWS: as the AWS CLI does, flags first, then `AWS_PROFILE`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL` and the rest of the environment, then the profile.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// The named profile of ~/.aws/config to use.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// The region of the key.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Accept a region name kmsdoctor does not know yet (one AWS opened since this
    /// release); without it an unknown region is refused before any call.
    #[arg(long, hide_short_help = true)]
    pub any_region: bool,

    /// Send requests to this endpoint instead of AWS's (an emulator).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// How far back to look in CloudTrail: days (`30`, `30d`), at most 90 for event history;
    /// with `--history s3` or `athena`, also further back or a date (`400d`, `2025-01-31`),
    /// used when the key's creation date is not known. Default 90.
    /// Only for lookups in AWS: event files hold what they hold.
    #[arg(long, value_name = "DAYS|DATE")]
    pub since: Option<String>,

    /// Where history older than event history's 90 days comes from: `lookup` (event history
    /// only; kmsdoctor says where the trail keeps the rest), `s3` (the trail's log files in
    /// S3, read back to the key's creation or a policy that was ok, and checked against the
    /// trail's digest files) or `athena` (one query over your CloudTrail table, estimated
    /// first; it writes its results to the workgroup's output location).
    #[arg(long, value_enum, value_name = "FROM")]
    pub history: Option<HistoryArg>,

    /// `--history athena`: the Athena workgroup (default `primary`).
    #[arg(long, value_name = "NAME", hide_short_help = true)]
    pub athena_workgroup: Option<String>,

    /// `--history athena`: the database of the CloudTrail table (default `default`).
    #[arg(long, value_name = "NAME", hide_short_help = true)]
    pub athena_database: Option<String>,

    /// `--history athena`: the CloudTrail table, as `kmsdoctor athena-ddl` creates it
    /// (default `cloudtrail_logs`).
    #[arg(long, value_name = "NAME", hide_short_help = true)]
    pub athena_table: Option<String>,

    /// `--history athena`: where Athena writes the query's results (`s3://...`); default:
    /// the workgroup's own setting.
    #[arg(long, value_name = "S3_URI", hide_short_help = true)]
    pub athena_output_location: Option<String>,

    /// `--history athena`: the most the query may scan, as Athena bills it (default `5GB`);
    /// above it kmsdoctor says the estimate and runs nothing.
    #[arg(long, value_name = "SIZE", hide_short_help = true)]
    pub max_scan: Option<String>,

    /// `--history s3|athena`: read the trail's archive (S3, Athena) with this profile's
    /// credentials, for a bucket in another account (a log archive account). KMS, IAM and
    /// CloudTrail's own calls keep the run's credentials.
    #[arg(long, value_name = "NAME", hide_short_help = true)]
    pub archive_profile: Option<String>,

    /// `--history s3|athena`: assume this role (`arn:aws:iam::ACCOUNT:role/NAME`) for the
    /// archive reads, from `--archive-profile`'s credentials when given, else the run's.
    #[arg(long, value_name = "ROLE_ARN", hide_short_help = true)]
    pub archive_role_arn: Option<String>,

    /// `--archive-role-arn`: the external id its trust policy asks for.
    #[arg(long, value_name = "ID", hide_short_help = true)]
    pub archive_external_id: Option<String>,

    /// Log each AWS call (operation, region, duration, request id) on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The key: a key id, key ARN, alias name (`alias/NAME`) or alias ARN.
    #[arg(value_name = "KEY")]
    pub key: String,

    /// The bundle file to write; it must not exist. (Not `--output`, which is the output
    /// format everywhere else, as in the AWS CLI.)
    #[arg(long = "out", value_name = "FILE")]
    pub out: std::path::PathBuf,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `--history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryArg {
    /// CloudTrail event history (LookupEvents), 90 days.
    Lookup,
    /// The trail's log files in S3.
    S3,
    /// One Athena query over your CloudTrail table.
    Athena,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    #[default]
    Table,
    /// For scripts: one JSON object on stdout.
    Json,
}

/// The layers of AWS's policy evaluation besides the key policy and the identity policies:
/// given, the request goes through the whole chain, and the first layer that denies is
/// named.
#[derive(Debug, Clone, Default, Args)]
pub struct LayerArgs {
    /// The caller's permissions boundary (a policy document).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_boundary",
        hide_short_help = true
    )]
    pub boundary: Option<PathBuf>,

    /// The caller is known to have no permissions boundary.
    #[arg(long, hide_short_help = true)]
    pub no_boundary: bool,

    /// A session policy passed when the caller's role was assumed (repeatable).
    #[arg(long = "session-policy", value_name = "FILE", hide_short_help = true)]
    pub session_policies: Vec<PathBuf>,

    /// A service control policy (repeatable), as `TARGET=FILE` where TARGET is where it is
    /// attached (`r-...` the organization root, `ou-...`, or the account id), or FILE alone
    /// for the account. Every level given must allow: give each level's policies,
    /// FullAWSAccess included, from the root down.
    #[arg(long = "scp", value_name = "[TARGET=]FILE", hide_short_help = true)]
    pub scps: Vec<String>,

    /// A resource control policy of the key's account (repeatable), `[TARGET=]FILE` as for
    /// --scp. RCPFullAWSAccess is always attached, so only Denies need be given.
    #[arg(long = "rcp", value_name = "[TARGET=]FILE", hide_short_help = true)]
    pub rcps: Vec<String>,

    /// The organization's management account: SCPs do not limit its principals, nor RCPs
    /// its keys.
    #[arg(long, value_name = "ID", hide_short_help = true)]
    pub management_account: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Who makes the request: a user, role or assumed-role session ARN, an account id (the
    /// root user), or a service principal such as `logs.amazonaws.com`.
    #[arg(long, value_name = "ARN")]
    pub principal: String,

    /// The KMS action, e.g. `kms:PutKeyPolicy`.
    #[arg(long, value_name = "kms:OPERATION")]
    pub action: String,

    /// The key (`arn:aws:kms:REGION:ACCOUNT:key/ID`), an alias ARN, or `*` for the key the
    /// policy is attached to.
    #[arg(long, value_name = "ARN|*", default_value = "*")]
    pub resource: String,

    /// The key policy: a policy document or `aws kms get-key-policy` output. Without it, the
    /// key has no statement for anyone.
    #[arg(long, value_name = "FILE")]
    pub policy_file: Option<PathBuf>,

    /// An IAM identity policy of the caller (repeatable). Given at least once, these are all
    /// of the caller's IAM policies; not given, where IAM must allow is reported as a
    /// requirement.
    #[arg(long = "identity-policy", value_name = "FILE")]
    pub identity_policies: Vec<PathBuf>,

    #[command(flatten)]
    pub layers: LayerArgs,

    /// A request context value (repeatable; a key given twice is multi-valued), e.g.
    /// `aws:SourceIp=203.0.113.7`.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,

    /// A context key known to be absent from the request (repeatable).
    #[arg(long = "absent", value_name = "KEY")]
    pub absent: Vec<String>,

    /// Treat context keys not given as absent. By default they are unknown, and conditions
    /// on them become requirements.
    #[arg(long)]
    pub assume_absent: bool,

    /// The account that owns the key, when `--resource` does not say (default: the caller's).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct WhyLockedArgs {
    /// The key: a key id (1234abcd-12ab-34cd-56ef-1234567890ab) or key ARN; from AWS also an
    /// alias name (`alias/NAME`) or alias ARN. Without --policy-file, --events-file or
    /// --from, the evidence is gathered from AWS (read-only). With --from, the bundle
    /// names the key: KEY may be left out.
    #[arg(value_name = "KEY", required_unless_present = "from")]
    pub key: Option<String>,

    /// Diagnose from a bundle saved by `kmsdoctor collect`, without calling AWS.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["policy_file", "events_files"])]
    pub from: Option<PathBuf>,

    /// The current key policy: a policy document or `aws kms get-key-policy` output.
    #[arg(long, value_name = "FILE")]
    pub policy_file: Option<PathBuf>,

    /// CloudTrail evidence (repeatable): `aws cloudtrail lookup-events` output, trail log
    /// files `{"Records": [...]}` plain or gzipped, JSON Lines of records, or a folder of them
    /// (walked recursively).
    #[arg(long = "events-file", value_name = "PATH")]
    pub events_files: Vec<PathBuf>,

    /// The key's account, when the key is given by id and the evidence does not say.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// Who is asking, for files or a bundle (live, it is whoever the credentials belong to):
    /// a user, role or assumed-role session ARN, or an account id for the root user. The
    /// report then says whether this caller can get back in and, with the layers below,
    /// which layer denies it.
    #[arg(long, value_name = "ARN")]
    pub caller: Option<String>,

    /// An IAM identity policy of the caller (repeatable). Given at least once, these are all
    /// of its IAM policies.
    #[arg(long = "identity-policy", value_name = "FILE")]
    pub identity_policies: Vec<PathBuf>,

    #[command(flatten)]
    pub layers: LayerArgs,

    /// Write the last applied policy with the IAM delegation put back to this new file (it
    /// must not exist).
    #[arg(long, value_name = "FILE")]
    pub write_repaired: Option<PathBuf>,

    /// Evaluate as of this time (ISO 8601) instead of now: `aws:CurrentTime` conditions.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// The words of the command line that chose the evidence and shaped the diagnosis, as
    /// parsed (not a flag: filled by [`Cli::read`] from clap's own matches), to run it
    /// again. Connection flags (`--profile`, `--region`, `--endpoint-url`), the output and
    /// what is written (`--output`, `--write-repaired`, `--verbose`) are left out: every
    /// printed command adds the run's connection flags itself.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// The arguments of `why-locked` that are no part of its evidence (see `given`).
const NOT_EVIDENCE: &[&str] = &[
    "profile",
    "region",
    "endpoint_url",
    "any_region",
    "output",
    "write_repaired",
    "verbose",
];

/// The words of `matches` as a command line, in the order `cmd` defines its arguments,
/// leaving out the arguments `skip` names: each value with its long flag (a positional bare),
/// a flag given on the command line by itself.
fn words_of(cmd: &clap::Command, matches: &clap::ArgMatches, skip: &[&str]) -> Vec<String> {
    use clap::parser::ValueSource;
    let mut out = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if skip.contains(&id) || matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let flag = arg.get_long().map(|l| format!("--{l}"));
        let takes_value = arg.get_action().takes_values();
        match (flag, takes_value) {
            (Some(f), false) => out.push(f),
            (flag, true) => {
                for v in matches.get_raw(id).into_iter().flatten() {
                    out.extend(flag.clone());
                    out.push(v.to_string_lossy().into_owned());
                }
            }
            (None, false) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// why-locked's words to run it again come from clap's own matches: every flag that
    /// chose the evidence, in the order the CLI defines them, and none of the connection,
    /// output or written-file flags (the printed commands add the run's connection flags).
    #[test]
    fn why_locked_words_are_derived_from_the_cli() {
        let cli = Cli::read([
            "kmsdoctor",
            "why-locked",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "--profile",
            "prod",
            "--events-file",
            "a.json",
            "--events-file",
            "b dir",
            "--no-boundary",
            "--scp",
            "r-ab12=scp.json",
            "--output",
            "json",
            "--write-repaired",
            "out.json",
            "--caller",
            "arn:aws:iam::111122223333:role/Admin",
            "--account",
            "111122223333",
            "--endpoint-url",
            "http://127.0.0.1:4566",
        ])
        .unwrap();
        let Command::WhyLocked(a) = cli.command else {
            unreachable!()
        };
        assert_eq!(
            a.given,
            [
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "--events-file",
                "a.json",
                "--events-file",
                "b dir",
                "--account",
                "111122223333",
                "--caller",
                "arn:aws:iam::111122223333:role/Admin",
                "--no-boundary",
                "--scp",
                "r-ab12=scp.json",
            ]
        );
    }

    /// Live flags that shape the history are kept too.
    #[test]
    fn why_locked_words_keep_the_history_flags() {
        let cli = Cli::read([
            "kmsdoctor",
            "why-locked",
            "alias/app",
            "--since",
            "30",
            "--history",
            "athena",
            "--max-scan",
            "1GB",
            "--region",
            "eu-west-1",
        ])
        .unwrap();
        let Command::WhyLocked(a) = cli.command else {
            unreachable!()
        };
        assert_eq!(
            a.given,
            [
                "alias/app",
                "--since",
                "30",
                "--history",
                "athena",
                "--max-scan",
                "1GB"
            ]
        );
    }
}
