//! `kmsdoctor check`: lint key policies before they ship (policy files, Terraform plans,
//! CloudFormation and CDK templates). Exit 3 when a finding reaches `--fail-on`.

use std::io::Write;

use super::AppError;
use crate::analysis::check::{check_policy, CheckSetting};
use crate::cli::{CheckArgs, CheckFormat};
use crate::config::CheckConfig;
use crate::evidence::sources::{self, TEMPLATE_ACCOUNT};
use crate::evidence::InputError;
use crate::report::check::{render_json, render_sarif, render_table, CheckReport};
use crate::report::Style;

pub fn run(args: &CheckArgs, out: &mut dyn Write, style: Style) -> Result<u8, AppError> {
    let cfg = CheckConfig::resolve(args)?;
    let found = sources::read(&cfg.paths, cfg.account.as_deref())?;
    let mut report = CheckReport {
        files_read: found.files_read,
        policies: Vec::new(),
        findings: Vec::new(),
    };
    for t in &found.targets {
        let account = cfg
            .account
            .as_deref()
            .or(t.template_account.then_some(TEMPLATE_ACCOUNT));
        let mut result = check_policy(
            &t.policy,
            &CheckSetting {
                account,
                region: cfg.region.as_deref(),
                deployer: cfg.deployer.as_ref(),
                now: cfg.now,
            },
        )
        .map_err(|e| InputError {
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
        report.add(&t.file, t.address.as_deref(), result, |p| {
            t.locator.position(p)
        });
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
