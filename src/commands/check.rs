//! `kmsdoctor check`: lint key policies before they ship (policy files, Terraform plans,
//! CloudFormation and CDK templates). Exit 3 when a finding reaches `--fail-on`.

use std::io::Write;

use super::AppError;
use crate::analysis::check::{check_parsed, check_policy, CheckSetting};
use crate::analysis::lockout::delegation::RequestCache;
use crate::cli::{CheckArgs, CheckFormat};
use crate::config::CheckConfig;
use crate::evidence::inputs::{self, TEMPLATE_ACCOUNT};
use crate::evidence::InputError;
use crate::report::check::{render_json, render_sarif, render_table, CheckReport};
use crate::report::Style;
use crate::workers;

pub fn run(args: &CheckArgs, out: &mut dyn Write, style: Style) -> Result<u8, AppError> {
    let cfg = CheckConfig::resolve(args)?;
    let given = inputs::inputs(&cfg.paths)?;
    let inputs = &given.files;
    // Each file is read and checked on its own, on all cores; the report keeps file order.
    let cache = RequestCache::default();
    let checked = workers::map_ordered(inputs, None, |input| check_input(input, &cfg, &cache))?;
    let mut report = CheckReport {
        files_read: inputs.len(),
        policies: Vec::new(),
        findings: Vec::new(),
    };
    // Policies and files per given path: a folder in which nothing was found fails the run
    // (a named file without a key policy is the reader's error already, where it must be).
    let mut policies = vec![0usize; cfg.paths.len()];
    let mut files = vec![0usize; cfg.paths.len()];
    for (input, part) in inputs.iter().zip(checked) {
        policies[input.root] += part.policies.len();
        files[input.root] += 1;
        report.append(part);
    }
    for (root, path) in cfg.paths.iter().enumerate() {
        if given.folder[root] && policies[root] == 0 && !cfg.allow_empty {
            let n = files[root];
            return Err(InputError::new(
                path,
                format!(
                    "no key policy found here ({n} {} read); check the path, or give --allow-empty when it is optional",
                    if n == 1 { "file" } else { "files" }
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
    Ok(
        if report.findings.iter().any(|f| f.severity >= cfg.fail_on) {
            3
        } else {
            0
        },
    )
}

/// The key policies of one file, each checked, as report entries: findings are placed in
/// the file here, on the worker, and the file's text and JSON tree are dropped before the
/// next file.
fn check_input(
    input: &inputs::Input,
    cfg: &CheckConfig,
    cache: &RequestCache,
) -> Result<CheckReport, InputError> {
    let mut out = CheckReport {
        files_read: 0,
        policies: Vec::new(),
        findings: Vec::new(),
    };
    for t in inputs::targets(input, cfg.account.as_deref())? {
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
            // Say `${AWS::AccountId}` where the stand-in account appears.
            for f in &mut result.findings {
                f.message = f.message.replace(TEMPLATE_ACCOUNT, "${AWS::AccountId}");
            }
        }
        out.add(&t.file, t.address.as_deref(), result, |p| {
            t.locator.position(p)
        });
    }
    Ok(out)
}
