//! What `--help` says after the flags: two or three examples and the exit codes of each
//! subcommand (the same words go into the man pages' EXAMPLES and EXIT STATUS). Each is
//! "Examples:" lines, a blank line, then "Exit codes:" lines.

pub const WHY_LOCKED: &str = "\
Examples:
  kmsdoctor why-locked alias/my-key --region eu-west-1
  kmsdoctor why-locked KEY_ARN --history s3 --output json > diagnosis.json
  kmsdoctor why-locked KEY_ARN --policy-file policy.json --events-file events/ --caller ROLE_ARN

Exit codes:
  0 ok, 3 recoverable, 4 unrecoverable, 5 unknown, 1 bad input or a failed call, 2 usage

More flags (the request chain, Athena, --any-region): --help";

pub const HISTORY: &str = "\
Examples:
  kmsdoctor history alias/my-key --region eu-west-1
  kmsdoctor history KEY_ARN --history s3 --output json > timeline.json
  kmsdoctor history --from bundle.json

Exit codes:
  0 the timeline was shown (whatever the verdicts), 1 bad input or a failed call, 2 usage

It takes why-locked's flags (evidence, --history, --since, the request chain); --help lists them.";

pub const EXPLAIN: &str = "\
Examples:
  kmsdoctor explain --principal arn:aws:iam::111122223333:role/Admin --action kms:PutKeyPolicy --policy-file policy.json
  kmsdoctor explain --principal ROLE_ARN --action kms:Decrypt --policy-file policy.json --identity-policy iam.json --scp r-ab12=scp.json

Exit codes:
  0 the request was evaluated (whatever the decision), 1 bad input, 2 usage";

pub const COLLECT: &str = "\
Examples:
  kmsdoctor collect alias/my-key --region eu-west-1 --out bundle.json
  kmsdoctor why-locked --from bundle.json

Exit codes:
  0 the bundle was written, 1 bad input or a failed call (nothing is written), 2 usage";

pub const CHECK: &str = "\
Examples:
  kmsdoctor check policies/ templates/
  terraform show -json plan.out | kmsdoctor check -
  kmsdoctor check . --output sarif > kmsdoctor.sarif

Exit codes:
  0 nothing at or above --fail-on, 3 something was, 1 a file could not be read, 2 usage";

pub const FIX: &str = "\
Examples:
  kmsdoctor fix alias/my-key --region eu-west-1
  kmsdoctor fix KEY_ARN --policy-file repaired-policy.json --expect-policy-sha256 SHA256 --apply
  kmsdoctor fix KEY_ARN --rollback kms-policy-backup-KEYID-TIME.json --apply --yes

Exit codes:
  0 dry run, or applied, read back and ok; 3 refused, or applied but not ok (or the key still
  pending deletion or disabled); 5 sent but never read back; 1 error; 2 usage";

pub const SCAN: &str = "\
Examples:
  kmsdoctor scan --regions us-east-1,eu-west-1
  kmsdoctor scan --org --role-name OrganizationAccountAccessRole --output json > scan.json

Exit codes:
  0 every key ok, 3 a key is not ok or something could not be scanned, 1 bad input, 2 usage";

pub const GUARD: &str = "\
Examples:
  kmsdoctor guard --delete arn:aws:iam::111122223333:role/BreakGlass --regions us-east-1
  kmsdoctor guard --scan scan.json --delete ROLE_ARN --min-admins 2 --output json

Exit codes:
  0 safe (every key judged), 3 a key would be left with too few administrators,
  5 unknown (a key could not be judged, or part of the account was not scanned), 1 bad input,
  2 usage";

pub const ATHENA_DDL: &str = "\
Examples:
  kmsdoctor athena-ddl --bucket my-trail-bucket --prefix cloudtrail > table.sql
  kmsdoctor athena-ddl --bucket org-trail-bucket --org-id o-abc123def4

Exit codes:
  0 printed, 1 bad input, 2 usage";

pub const COMPLETIONS: &str = "\
Examples:
  kmsdoctor completions zsh > \"${fpath[1]}/_kmsdoctor\"
  kmsdoctor completions bash > ~/.local/share/bash-completion/completions/kmsdoctor

Exit codes:
  0 printed, 2 usage";

pub const MANPAGES: &str = "\
Examples:
  kmsdoctor manpages --out-dir ~/.local/share/man/man1

Exit codes:
  0 written (pages kmsdoctor wrote before are replaced; any other file of the same name stops
  the run, nothing written), 1 a page could not be written, 2 usage";

/// The examples and the exit codes of a help text, for the man pages' sections.
pub fn sections(help: &str) -> (Vec<&str>, Vec<&str>) {
    let mut examples = Vec::new();
    let mut exits = Vec::new();
    let mut into: Option<&mut Vec<&str>> = None;
    for line in help.lines() {
        match line {
            "Examples:" => into = Some(&mut examples),
            "Exit codes:" => into = Some(&mut exits),
            l if l.starts_with("More flags") => into = None,
            l if l.trim().is_empty() => {}
            l => {
                if let Some(v) = into.as_mut() {
                    v.push(l.trim());
                }
            }
        }
    }
    (examples, exits)
}

#[cfg(test)]
mod tests {
    /// Every subcommand's help ends with examples and exit codes.
    #[test]
    fn every_subcommand_has_examples_and_exit_codes() {
        use clap::CommandFactory;
        let cmd = crate::cli::Cli::command();
        for sub in cmd.get_subcommands() {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            let (examples, exits) = super::sections(&after);
            assert!(!examples.is_empty(), "{}: no examples", sub.get_name());
            assert!(!exits.is_empty(), "{}: no exit codes", sub.get_name());
            assert!(
                examples
                    .iter()
                    .all(|e| e.starts_with("kmsdoctor ") || e.starts_with("terraform ")),
                "{}: {examples:?}",
                sub.get_name()
            );
        }
    }
}
