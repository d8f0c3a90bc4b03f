//! `explain`: the request it evaluates, from `--principal`, `--action`, `--resource`,
//! `--account` and the context flags.

use std::path::PathBuf;

use super::{account_flag, flag_err, layer_files, FlagError};
use crate::analysis::context::Context;
use crate::analysis::eval::{Request, Resource};
use crate::analysis::kms;
use crate::analysis::principal::Caller;
use crate::cli::{ExplainArgs, OutputFormat};
use crate::evidence::settings::LayerFiles;

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
            layers: layer_files(&args.layers)?,
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
