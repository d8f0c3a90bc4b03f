//! `kmsdoctor explain`: decide one request against a key policy (and the caller's IAM
//! policies), and say why.

use std::io::Write;

use super::AppError;
use crate::analysis::chain::evaluate_chain;
use crate::analysis::eval::evaluate;
use crate::analysis::policy::PolicyKind;
use crate::cli::{ExplainArgs, OutputFormat};
use crate::config::ExplainConfig;
use crate::evidence::files;
use crate::report::explain::{render_json, render_table, ExplainReport};
use crate::report::{FileFinding, Style};

pub fn run(
    args: &ExplainArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    style: Style,
) -> Result<u8, AppError> {
    let cfg = ExplainConfig::resolve(args)?;
    super::warn_problems(err, &cfg.warnings)?;
    let key_policy = cfg
        .policy_file
        .as_deref()
        .map(|p| files::load_policy(p, PolicyKind::Key, "key-policy"))
        .transpose()?;
    let identity = cfg
        .identity_policies
        .iter()
        .map(|p| files::load_policy(p, PolicyKind::Identity, &files::policy_name(p)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut findings = Vec::new();
    if let (Some(path), Some(policy)) = (&cfg.policy_file, &key_policy) {
        findings.extend(FileFinding::all(path, policy));
    }
    for (path, policy) in cfg.identity_policies.iter().zip(&identity) {
        findings.extend(FileFinding::all(path, policy));
    }
    let layer_policies = files::load_layers(&cfg.layers, &mut |path, policy| {
        findings.extend(FileFinding::all(path, policy))
    })?;

    // IAM policies cannot be attached to the root user (IAM User Guide, "AWS account root
    // user"): given for it, they are ignored, and said.
    let root_with_policies = cfg.request.caller.is_root() && !cfg.identity_policies.is_empty();
    let identity_arg = if root_with_policies {
        Some(&[][..])
    } else {
        (!cfg.identity_policies.is_empty()).then_some(identity.as_slice())
    };
    let mut evaluation = evaluate(&cfg.request, key_policy.as_ref(), identity_arg);
    if root_with_policies {
        evaluation.notes.push(
            "the root user has no IAM policies (they cannot be attached to it): --identity-policy was ignored".into(),
        );
    }
    // The whole chain, when a layer beyond the key and identity policies was given.
    let chain = cfg.layers.any().then(|| {
        let layers = layer_policies.layers(identity_arg);
        evaluate_chain(&cfg.request, key_policy.as_ref(), &layers)
    });
    let report = ExplainReport {
        request: &cfg.request,
        context: cfg.request.context(),
        key_account_assumed: cfg.key_account_assumed,
        evaluation: &evaluation,
        chain: chain.as_ref(),
        findings: &findings,
    };
    match cfg.output {
        OutputFormat::Json => render_json(out, &report)?,
        OutputFormat::Table => render_table(out, &report, style)?,
    }
    out.flush()?;
    Ok(0)
}
