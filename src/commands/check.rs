//! `kmsdoctor check`: lint key policies before they ship (policy files, Terraform plans,
//! CloudFormation and CDK templates). Exit 3 when a finding reaches `--fail-on`.

use std::io::Write;

use super::AppError;
use crate::analysis::check::{check_parsed, check_policy, CheckSetting};
use crate::analysis::lockout::delegation::RequestCache;
use crate::analysis::policy::DocumentKind;
use crate::analysis::rules::{Finding, KNOWN_AFTER_APPLY, PLACEHOLDER_ACCOUNT};
use crate::cli::{CheckArgs, CheckFormat};
use crate::config::CheckConfig;
use crate::evidence::inputs::{self, TEMPLATE_ACCOUNT};
use crate::evidence::InputError;
use crate::report::check::{render_json, render_sarif, render_table, CheckReport, FileError};
use crate::report::Style;
use crate::workers;

pub fn run(
    args: &CheckArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    style: Style,
) -> Result<u8, AppError> {
    let cfg = CheckConfig::resolve(args)?;
    let given = inputs::inputs(&cfg.paths)?;
    let inputs = &given.files;
    // Each file is read and checked on its own, on all cores; the report keeps file order.
    // A file that cannot be read is reported with its place, and the others still are.
    let cache = RequestCache::default();
    let checked = workers::map_ordered(inputs, None, |input| {
        Ok::<_, std::convert::Infallible>(check_input(input, &cfg, &cache))
    })
    .unwrap_or_else(|never| match never {});
    let mut report = CheckReport {
        files_read: inputs.len(),
        ..CheckReport::default()
    };
    // Policies and files per given path: a folder in which nothing was found fails the run
    // (a named file without a key policy is the reader's error already, where it must be).
    let mut policies = vec![0usize; cfg.paths.len()];
    let mut files = vec![0usize; cfg.paths.len()];
    let mut failed = false;
    for (input, part) in inputs.iter().zip(checked) {
        files[input.root] += 1;
        match part {
            Ok((part, skipped)) => {
                policies[input.root] += part.policies.len();
                if let Some(kind) = skipped {
                    *report.skipped.entry(kind).or_default() += 1;
                }
                report.append(part);
            }
            Err(e) => {
                failed = true;
                // Counted as found: an unreadable file is not an empty folder.
                policies[input.root] += 1;
                report.errors.push(FileError::from(&e));
                writeln!(
                    err,
                    "kmsdoctor: error: {}",
                    crate::analysis::escape::visible(&e.to_string())
                )?;
            }
        }
    }
    for (root, path) in cfg.paths.iter().enumerate() {
        if given.folder[root] && policies[root] == 0 && !cfg.allow_empty {
            let n = files[root];
            return Err(InputError::new(
                path,
                format!(
                    "no key policy found here ({n} {} read{}); check the path, or give --allow-empty when it is optional",
                    if n == 1 { "file" } else { "files" },
                    skipped_words(&report)
                ),
            )
            .into());
        }
    }
    match cfg.output {
        CheckFormat::Table => render_table(out, &report, style)?,
        CheckFormat::Json => render_json(out, &report)?,
        CheckFormat::Sarif => render_sarif(out, &report)?,
    }
    out.flush()?;
    // The worst of all: a file that could not be read is an error (1), then findings (3).
    Ok(if failed {
        1
    } else if report.findings.iter().any(|f| f.severity >= cfg.fail_on) {
        3
    } else {
        0
    })
}

/// `, of which N skipped: ...` for the folder error.
fn skipped_words(r: &CheckReport) -> String {
    let n: usize = r.skipped.values().sum();
    if n == 0 {
        return String::new();
    }
    format!(", {n} of them other kinds of policy")
}

/// The key policies of one file, each checked, as report entries (or the kind of document
/// the file is, when it is not a key policy): findings are placed in the file here, on the
/// worker, and the file's text and JSON tree are dropped before the next file.
fn check_input(
    input: &inputs::Input,
    cfg: &CheckConfig,
    cache: &RequestCache,
) -> Result<(CheckReport, Option<DocumentKind>), InputError> {
    let mut out = CheckReport::default();
    let found = inputs::targets(input, cfg.account.as_deref())?;
    for t in found.targets {
        let account = cfg
            .account
            .as_deref()
            .or(t.template_account.then_some(TEMPLATE_ACCOUNT));
        let setting = CheckSetting {
            account,
            region: cfg.region.as_deref(),
            deployer: cfg.deployer.as_ref(),
            now: cfg.now,
            cache: Some(cache),
            assume_deleted: &cfg.assume_deleted,
        };
        let checked = match &t.parsed {
            Some(p) => check_parsed(p, &setting),
            None => check_policy(&t.policy, &setting),
        };
        let mut result = checked.map_err(|e| InputError {
            file: std::path::PathBuf::from(&t.file),
            position: t.locator.position(&e.pointer.to_string()),
            pointer: Some(e.pointer.to_string()),
            message: match &t.address {
                Some(a) => format!("{a}: the key policy is not a policy: {}", e.message),
                None => e.message.clone(),
            },
        })?;
        if t.template_account {
            // Say the placeholder (`${AWS::AccountId}`, `${account_id}`) where the stand-in
            // account appears.
            let shown = t
                .placeholders
                .first()
                .map(String::as_str)
                .unwrap_or("${AWS::AccountId}");
            for f in &mut result.findings {
                f.message = f.message.replace(TEMPLATE_ACCOUNT, shown);
            }
        }
        if !t.placeholders.is_empty() {
            result.findings.push(Finding::new(
                PLACEHOLDER_ACCOUNT,
                format!(
                    "{} in the account of principals' ARNs taken as the key's account{}",
                    t.placeholders
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    match (t.template_account, account) {
                        (false, Some(a)) => format!(" ({a})"),
                        _ => String::new(),
                    }
                ),
            ));
        }
        out.add(
            &t.file,
            t.address.as_deref(),
            result,
            |p| t.locator.position(p),
            |p| t.locator.span(p),
        );
    }
    // A Terraform key policy known only after apply: said, with what to run then.
    let file = input.path.display().to_string();
    for address in &found.after_apply {
        // The address comes from the plan: quoted for a shell, or left out of the command.
        let show = match crate::analysis::shell::quote(address) {
            Some(q) => format!(" (the ARN from `terraform state show {q}`)"),
            None => String::new(),
        };
        let f = Finding::new(
            KNOWN_AFTER_APPLY,
            format!(
                "the key policy of {address} is known only after apply: once applied, run `kmsdoctor why-locked KEY_ARN` on it{show}"
            ),
        );
        out.findings
            .push(crate::report::check::Located::from(f).in_file(&file, Some(address), None));
        out.policies.push(crate::report::check::PolicySummary {
            file: file.clone(),
            address: Some(address.clone()),
            verdict: None,
            safety_check: None,
        });
    }
    Ok((out, found.skipped))
}
