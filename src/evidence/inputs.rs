//! Key policies to check, from files: policy documents, `aws kms get-key-policy` output,
//! Terraform plans (`terraform show -json`), CloudFormation and CDK-synthesised templates in
//! JSON or YAML. Detected by content; each policy keeps a way back to its place in the file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::cloudformation::{if_conditions, parse_yaml, resolve, yaml_position, Pseudo, YamlDoc};
use super::files::{io_reason, read_text};
use super::shape::{self, Shape};
use super::InputError;
use crate::analysis::locate::{json_error, locate, position_of, Index, Pointer, Position, Step};
use crate::analysis::policy::{
    document_kind, embedded_policy, parse_clean, parse_tree_unplaced, DocumentKind, Policy,
    PolicyKind,
};

/// Policy files larger than this are not read (Terraform plans can be large).
pub const MAX_CHECK_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The account standing for `${AWS::AccountId}` when `--account` is not given.
pub const TEMPLATE_ACCOUNT: &str = "000000000000";

/// Where a policy came from, to point findings back at it.
#[derive(Debug, Clone)]
pub enum Locator {
    /// A JSON file; the policy document sits at `prefix` in it.
    Json {
        text: Arc<String>,
        /// Positions of the file's values, built once for all its findings.
        index: Arc<std::sync::OnceLock<Index>>,
        prefix: Pointer,
    },
    /// A policy embedded as a JSON string (get-key-policy output): the string's place.
    Embedded(Option<Position>),
    Yaml {
        doc: Arc<YamlDoc>,
        prefix: Pointer,
    },
    /// A Terraform plan: the resource address says where.
    Address,
}

impl Locator {
    /// Where the value at a JSON pointer inside the policy document starts and ends, in a
    /// JSON file (other forms know where values start only).
    pub fn span(&self, inner: &str) -> Option<(Position, Position)> {
        let Locator::Json {
            text,
            index,
            prefix,
        } = self
        else {
            return None;
        };
        let mut ptr = prefix.clone();
        for step in inner.split('/').filter(|s| !s.is_empty()) {
            let step = step.replace("~1", "/").replace("~0", "~");
            ptr.0.push(match step.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(step.into()),
            });
        }
        index
            .get_or_init(|| Index::new(text))
            .span(text, &ptr.to_string())
    }

    /// Line and column of a JSON pointer inside the policy document, or of the nearest
    /// enclosing value that exists in the file.
    pub fn position(&self, inner: &str) -> Option<Position> {
        let mut ptr = match self {
            Locator::Json { prefix, .. } | Locator::Yaml { prefix, .. } => prefix.clone(),
            Locator::Embedded(p) => return *p,
            Locator::Address => return None,
        };
        for step in inner.split('/').filter(|s| !s.is_empty()) {
            let step = step.replace("~1", "/").replace("~0", "~");
            ptr.0.push(match step.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(step.into()),
            });
        }
        match self {
            Locator::Json { text, index, .. } => {
                let index = index.get_or_init(|| Index::new(text));
                loop {
                    if let Some(p) = index.position(text, &ptr.to_string()) {
                        return Some(p);
                    }
                    ptr.0.pop()?;
                }
            }
            Locator::Yaml { doc, .. } => yaml_position(doc, &ptr),
            _ => None,
        }
    }
}

/// One key policy to check.
#[derive(Debug, Clone)]
pub struct Target {
    /// The file as the person named it (`-` is standard input).
    pub file: String,
    /// The resource: a Terraform address or a template's logical id.
    pub address: Option<String>,
    /// The policy document, as JSON text.
    pub policy: String,
    /// The policy, parsed while telling what the file is (findings unplaced), when the file
    /// itself is the policy: the check does not parse it again.
    pub parsed: Option<Box<Policy>>,
    pub locator: Locator,
    /// True when the policy's account stands for `${AWS::AccountId}`.
    pub template_account: bool,
    /// Template placeholders taken as the key's account in the ARNs of principals
    /// (`arn:aws:iam::${account_id}:root`), each once.
    pub placeholders: Vec<String>,
}

/// Whether a field of an ARN is a template's placeholder: `${…}`, `<…>` or `{{…}}`.
fn is_placeholder(field: &str) -> bool {
    let inside = |open: &str, close: &str| {
        field.len() > open.len() + close.len() && field.starts_with(open) && field.ends_with(close)
    };
    inside("${", "}") || inside("<", ">") || inside("{{", "}}")
}

/// A policy written as a template (Terraform `templatefile`, a README's example): the ARNs
/// of principals whose account is a placeholder (`arn:aws:iam::${account_id}:root`) are
/// taken as the key's account, `account`, and a placeholder partition as `aws`. The text
/// with them filled in and the placeholders seen, when there are any. The document keeps its
/// shape: JSON pointers into it are the original's.
fn fill_placeholders(text: &str, account: &str) -> Option<(String, Vec<String>)> {
    let mut out = String::with_capacity(text.len());
    let mut seen: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("arn:") {
        out.push_str(&rest[..at]);
        let arn = &rest[at..];
        // The five fields after `arn:`, within the string (a placeholder holds no `"`).
        let end = arn.find(['"', '\'', ' ', '\n']).unwrap_or(arn.len());
        let fields: Vec<&str> = arn[..end].splitn(6, ':').collect();
        if fields.len() == 6 && matches!(fields[2], "iam" | "sts") && is_placeholder(fields[4]) {
            let partition = if is_placeholder(fields[1]) {
                "aws"
            } else {
                fields[1]
            };
            if !seen.iter().any(|s| s == fields[4]) {
                seen.push(fields[4].to_string());
            }
            out.push_str(&format!(
                "arn:{partition}:{}:{}:{account}:{}",
                fields[2], fields[3], fields[5]
            ));
            rest = &arn[end..];
        } else {
            out.push_str("arn:");
            rest = &arn[4..];
        }
    }
    out.push_str(rest);
    (!seen.is_empty()).then_some((out, seen))
}

/// The first account id written literally in the ARN of a principal in `text`.
fn literal_account(text: &str) -> Option<String> {
    text.match_indices(":iam::").find_map(|(at, m)| {
        let acct = text.get(at + m.len()..at + m.len() + 12)?;
        (crate::analysis::aws_ids::is_account_id(acct)
            && text.as_bytes().get(at + m.len() + 12) == Some(&b':'))
        .then(|| acct.to_string())
    })
}

/// What one file holds for `check`: its key policies, or the kind of policy document it is
/// when that is not a key policy (skipped in a folder, counted in the summary).
#[derive(Debug, Clone, Default)]
pub struct FileTargets {
    pub targets: Vec<Target>,
    pub skipped: Option<DocumentKind>,
    /// Terraform resources whose key policy is known only after apply, by address.
    pub after_apply: Vec<String>,
}

impl FileTargets {
    fn of(targets: Vec<Target>) -> FileTargets {
        FileTargets {
            targets,
            ..FileTargets::default()
        }
    }
}

/// One input to check: a file (or `-`, standard input), and whether the person named it
/// (then text that holds no key policy is an error rather than something to skip).
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub named: bool,
    /// Which of the given paths this input came from (its index).
    pub root: usize,
}

/// What the given paths stand for.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub files: Vec<Input>,
    /// For each given path, whether it is a folder.
    pub folder: Vec<bool>,
}

/// The files the paths stand for: named files as they are, folders walked (in name order)
/// for `.json`, `.yaml`, `.yml` and `.template`, skipping `node_modules`, `target`, `vendor`.
pub fn inputs(paths: &[PathBuf]) -> Result<Inputs, InputError> {
    let mut out = Vec::new();
    let mut folder = Vec::with_capacity(paths.len());
    for (root, p) in paths.iter().enumerate() {
        folder.push(false);
        if p.as_os_str() == "-" {
            out.push(Input {
                path: p.clone(),
                named: true,
                root,
            });
            continue;
        }
        let meta = std::fs::metadata(p)
            .map_err(|e| InputError::new(p, format!("cannot open: {}", io_reason(&e))))?;
        if meta.is_dir() {
            folder[root] = true;
            let mut v = Vec::new();
            super::files::walk(
                p,
                &|name| matches!(name, "node_modules" | "target" | "vendor"),
                &|f| {
                    super::files::name_ends_with(
                        f,
                        &[
                            ".json",
                            ".yaml",
                            ".yml",
                            ".template",
                            ".json.tpl",
                            ".json.tftpl",
                        ],
                    )
                },
                &mut v,
            )?;
            out.extend(v.into_iter().map(|path| Input {
                path,
                named: false,
                root,
            }));
        } else {
            out.push(Input {
                path: p.clone(),
                named: true,
                root,
            });
        }
    }
    Ok(Inputs { files: out, folder })
}

/// The key policies of one input.
pub fn targets(input: &Input, account: Option<&str>) -> Result<FileTargets, InputError> {
    if input.path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_CHECK_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| {
                InputError::new(Path::new("-"), format!("cannot read standard input: {e}"))
            })?;
        if text.len() as u64 > MAX_CHECK_FILE_BYTES {
            return Err(InputError::new(
                Path::new("-"),
                format!(
                    "is over {MAX_CHECK_FILE_BYTES} bytes, the most check reads from one input"
                ),
            ));
        }
        return from_text("-", &text, true, account);
    }
    let text = read_text(&input.path, MAX_CHECK_FILE_BYTES)?;
    from_text(
        &input.path.display().to_string(),
        &text,
        input.named,
        account,
    )
}

fn err(file: &str, position: Option<Position>, message: impl Into<String>) -> InputError {
    InputError {
        file: PathBuf::from(file),
        position,
        pointer: None,
        message: message.into(),
    }
}

/// The policies in one file's text. `named`: the person named the file, so text that holds
/// no key policy is an error rather than something to skip.
pub fn from_text(
    file: &str,
    text: &str,
    named: bool,
    account: Option<&str>,
) -> Result<FileTargets, InputError> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(err(file, None, "the file is empty"));
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // A bare policy has the limit every command gives a policy file; templates and
        // plans, which hold more than a policy, are read up to check's own limit.
        // Looked for only in a file over the limit: most files are small policies.
        let container = || {
            [
                "\"Resources\"",
                "\"resource_changes\"",
                "\"planned_values\"",
            ]
            .iter()
            .any(|k| text.contains(k))
        };
        if text.len() as u64 > super::files::MAX_POLICY_FILE_BYTES && !container() {
            return Err(err(
                file,
                None,
                super::files::policy_file_too_large(text.len() as u64),
            ));
        }
        // A template's placeholders in principals' accounts: the key's account (given, else
        // the one the policy writes literally, else the stand-in shown as the placeholder).
        // Computed only for the files that need it (most have no placeholder).
        let stand_in_of = |text: &str| {
            account
                .map(str::to_string)
                .or_else(|| literal_account(text))
                .unwrap_or_else(|| TEMPLATE_ACCOUNT.to_string())
        };
        // Only a bare policy document: a template's or a plan's own values are resolved by
        // their readers. One pass for `::$`, `::<`, `::{` first.
        let maybe = text
            .as_bytes()
            .windows(3)
            .any(|w| w[0] == b':' && w[1] == b':' && matches!(w[2], b'$' | b'<' | b'{'));
        let filled =
            if maybe && !text.contains("\"Resources\"") && !text.contains("\"resource_changes\"") {
                let stand_in = stand_in_of(text);
                fill_placeholders(text, &stand_in).map(|(t, p)| (t, p, stand_in))
            } else {
                None
            };
        let original = text;
        let (text, placeholders, template_account) = match &filled {
            Some((t, p, stand_in)) => (t.as_str(), p.clone(), stand_in == TEMPLATE_ACCOUNT),
            None => (text, Vec::new(), false),
        };
        // Most files `check` reads are policies. A clean one is read in one pass, which
        // tells what the file is and is the parse the check needs; another is told apart on
        // the parser's own borrowing tree (cheaper than a `Value`) and parsed from that
        // tree. Either way the check does not parse it again; a policy that does not parse
        // is left to the check, which says why. Other shapes need a `Value` for their
        // decoders.
        let (parsed, is_policy) = match parse_clean(text, PolicyKind::Key, "key-policy") {
            Some(policy) => (Some(policy), true),
            None => match crate::analysis::json::Json::parse(text) {
                Ok(tree)
                    if tree
                        .root()
                        .as_object()
                        .is_some_and(|o| o.contains_key("Statement")) =>
                {
                    let policy =
                        parse_tree_unplaced(&tree, text, PolicyKind::Key, "key-policy").ok();
                    (policy, true)
                }
                _ => (None, false),
            },
        };
        // Only key policies are judged as key policies: an identity policy, an SCP, a trust
        // policy, an RCP or another service's policy in a folder is skipped and counted; a
        // file named on its own is an error that says what it is.
        let kind = parsed.as_ref().map(document_kind);
        if let Some(kind) = kind.filter(|k| *k != DocumentKind::KeyPolicy) {
            if named {
                return Err(err(
                    file,
                    Some(position_of(text, 0)),
                    format!(
                        "this is {}, not a key policy: check reads key policies (a policy document, get-key-policy output, a Terraform plan or a CloudFormation template)",
                        kind.words()
                    ),
                ));
            }
            return Ok(FileTargets {
                skipped: Some(kind),
                ..FileTargets::default()
            });
        }
        // A bare policy written with CloudFormation's intrinsic functions (a policy file a
        // template or a pipeline fills in: `{"Ref": "AWS::AccountId"}`, `Fn::Sub`, `Fn::If`):
        // resolved as in a template.
        if is_policy && parsed.is_none() && (text.contains("\"Ref\"") || text.contains("\"Fn::")) {
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                let stand_in = stand_in_of(original);
                let pseudo = Pseudo {
                    account: stand_in.clone(),
                    partition: "aws".into(),
                    region: "us-east-1".into(),
                    types: Default::default(),
                    conditions: true,
                };
                let conditions = if_conditions(&value);
                let truths: &[bool] = if conditions.is_empty() {
                    &[true]
                } else {
                    &[true, false]
                };
                let original = Arc::new(original.to_string());
                let targets = truths
                    .iter()
                    .map(|&truth| Target {
                        file: file.to_string(),
                        address: (!conditions.is_empty())
                            .then(|| format!("if {} {truth}", conditions.join(", "))),
                        policy: resolve(
                            &value,
                            &Pseudo {
                                conditions: truth,
                                ..pseudo.clone()
                            },
                        )
                        .to_string(),
                        parsed: None,
                        locator: Locator::Json {
                            text: original.clone(),
                            index: Default::default(),
                            prefix: Pointer::root(),
                        },
                        template_account: stand_in == TEMPLATE_ACCOUNT,
                        placeholders: placeholders.clone(),
                    })
                    .collect();
                return Ok(FileTargets::of(targets));
            }
        }
        if is_policy {
            return Ok(FileTargets::of(vec![Target {
                file: file.to_string(),
                address: None,
                policy: text.to_string(),
                parsed: parsed.map(Box::new),
                // Places are found in the file as written.
                locator: Locator::Json {
                    text: Arc::new(original.to_string()),
                    index: Default::default(),
                    prefix: Pointer::root(),
                },
                template_account,
                placeholders,
            }]));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let (message, position) = json_error(&e);
            err(file, position, format!("invalid JSON: {message}"))
        })?;
        let text = Arc::new(text.to_string());
        return from_json(file, &value, text, named, account);
    }
    let doc = parse_yaml(text).map_err(|e| err(file, e.position, e.message))?;
    let doc = Arc::new(doc);
    let targets = template_policies(file, &doc.value, account, |logical| Locator::Yaml {
        doc: doc.clone(),
        prefix: Pointer::root()
            .key("Resources")
            .key(logical)
            .key("Properties")
            .key("KeyPolicy"),
    })?;
    if targets.is_empty() && named {
        return Err(err(
            file,
            Some(position_of(text, 0)),
            "no AWS::KMS::Key or AWS::KMS::ReplicaKey with a KeyPolicy in this YAML",
        ));
    }
    Ok(FileTargets::of(targets))
}

fn from_json(
    file: &str,
    v: &Value,
    text: Arc<String>,
    named: bool,
    account: Option<&str>,
) -> Result<FileTargets, InputError> {
    let Some(obj) = v.as_object() else {
        if named {
            return Err(err(file, Some(Position { line: 1, column: 1 }), "expected a key policy, get-key-policy output, a Terraform plan or a CloudFormation template"));
        }
        return Ok(FileTargets::default());
    };
    let target = |address: Option<String>,
                  policy: String,
                  locator: Locator,
                  template_account: bool| Target {
        file: file.to_string(),
        address,
        policy,
        parsed: None,
        locator,
        template_account,
        placeholders: Vec::new(),
    };
    match shape::of(v) {
        Shape::Policy => {
            return Ok(FileTargets::of(vec![target(
                None,
                text.to_string(),
                Locator::Json {
                    text: text.clone(),
                    index: Default::default(),
                    prefix: Pointer::root(),
                },
                false,
            )]));
        }
        Shape::GetKeyPolicyOutput => {
            if let Some(Value::String(p)) = embedded_policy(v) {
                let at = locate(&text, &Pointer::root().key("Policy"));
                return Ok(FileTargets::of(vec![target(
                    None,
                    p.clone(),
                    Locator::Embedded(at),
                    false,
                )]));
            }
        }
        Shape::TerraformPlan => return Ok(plan_policies(file, obj, &text, account)),
        _ => {}
    }
    if obj.get("Resources").is_some_and(Value::is_object) {
        let t = text.clone();
        let index: Arc<std::sync::OnceLock<Index>> = Default::default();
        return template_policies(file, v, account, move |logical| Locator::Json {
            text: t.clone(),
            index: index.clone(),
            prefix: Pointer::root()
                .key("Resources")
                .key(logical)
                .key("Properties")
                .key("KeyPolicy"),
        })
        .map(FileTargets::of);
    }
    if named {
        return Err(err(file, Some(Position { line: 1, column: 1 }), "expected a key policy (`Statement`), get-key-policy output (`Policy`), a Terraform plan (`resource_changes`) or a CloudFormation template (`Resources`)"));
    }
    Ok(FileTargets::default())
}

/// Whether the configuration of the plan's resource at `address` sets `policy` (`None` when
/// the configuration does not say: an older plan format, or the resource not found).
/// Instance keys (`[0]`, `["a"]`) are the configuration's one resource; `module.NAME.`
/// prefixes walk `module_calls`.
fn configured_policy(plan: &serde_json::Map<String, Value>, address: &str) -> Option<bool> {
    let strip_index = |s: &str| s.split('[').next().unwrap_or(s).to_string();
    let mut module = plan.get("configuration")?.get("root_module")?;
    let mut rest = address;
    while let Some(after) = rest.strip_prefix("module.") {
        let (name, tail) = after.split_once('.')?;
        module = module
            .get("module_calls")?
            .get(strip_index(name))?
            .get("module")?;
        rest = tail;
    }
    let want = strip_index(rest);
    let resource = module
        .get("resources")?
        .as_array()?
        .iter()
        .find(|r| r.get("address").and_then(Value::as_str) == Some(want.as_str()))?;
    Some(
        resource
            .get("expressions")
            .and_then(|e| e.get("policy"))
            .is_some(),
    )
}

/// Key policies of a Terraform plan: `aws_kms_key.policy` and `aws_kms_key_policy.policy`,
/// as they will be after apply.
fn plan_policies(
    file: &str,
    plan: &serde_json::Map<String, Value>,
    text: &str,
    account: Option<&str>,
) -> FileTargets {
    // A plan's findings point at the resource address: there is no line to name.
    let target = |address: String, policy: &str| Target {
        file: file.to_string(),
        address: Some(address),
        policy: policy.to_string(),
        parsed: None,
        locator: Locator::Address,
        template_account: policy.contains(TEMPLATE_ACCOUNT),
        placeholders: Vec::new(),
    };
    let mut out = Vec::new();
    let mut after_apply: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let kms =
        |t: &str| t == "aws_kms_key" || t == "aws_kms_key_policy" || t == "aws_kms_replica_key";
    for (i, rc) in plan
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ty = rc.get("type").and_then(Value::as_str).unwrap_or_default();
        if !kms(ty) || rc.get("mode").and_then(Value::as_str) == Some("data") {
            continue;
        }
        let actions: Vec<&str> = rc
            .pointer("/change/actions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if actions == ["delete"]
            || actions == ["no-op"] && rc.pointer("/change/after/policy").is_none()
        {
            continue;
        }
        let address = rc
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or(ty)
            .to_string();
        if let Some(Value::String(p)) = rc.pointer("/change/after/policy") {
            seen.insert(address.clone());
            // The policy is a string in the plan: its findings are placed at that string.
            let at = locate(
                text,
                &Pointer::root()
                    .key("resource_changes")
                    .index(i)
                    .key("change")
                    .key("after")
                    .key("policy"),
            );
            let mut t = target(address, p);
            t.locator = Locator::Embedded(at);
            out.push(t);
        } else if rc.pointer("/change/after_unknown/policy") == Some(&Value::Bool(true)) {
            seen.insert(address.clone());
            if ty == "aws_kms_key" && configured_policy(plan, &address) == Some(false) {
                // No policy in the configuration: KMS attaches the default key policy (the
                // provider leaves the attribute to the API: CreateKey API reference,
                // "Policy"). Its account is the one the check is given, or the stand-in.
                out.push(target(
                    format!("{address} (no policy: the default key policy)"),
                    &crate::analysis::lockout::default_policy(
                        "aws",
                        account.unwrap_or(TEMPLATE_ACCOUNT),
                    ),
                ));
            } else {
                // Known only after apply (a policy built from another resource's attributes).
                after_apply.push(address);
            }
        }
    }
    // A plan without resource_changes (or resources only in planned_values).
    fn modules<'a>(m: &'a Value, out: &mut Vec<&'a Value>) {
        out.extend(
            m.get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for c in m
            .get("child_modules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            modules(c, out);
        }
    }
    let mut resources = Vec::new();
    if let Some(root) = plan
        .get("planned_values")
        .and_then(|p| p.get("root_module"))
    {
        modules(root, &mut resources);
    }
    for r in resources {
        let ty = r.get("type").and_then(Value::as_str).unwrap_or_default();
        let address = r
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or(ty)
            .to_string();
        if !kms(ty) || seen.contains(&address) {
            continue;
        }
        if let Some(Value::String(p)) = r.pointer("/values/policy") {
            out.push(target(address, p));
        }
    }
    FileTargets {
        targets: out,
        after_apply,
        ..FileTargets::default()
    }
}

/// Key policies of a CloudFormation template, intrinsic functions resolved.
fn template_policies(
    file: &str,
    template: &Value,
    account: Option<&str>,
    locator: impl Fn(&str) -> Locator,
) -> Result<Vec<Target>, InputError> {
    let mut out = Vec::new();
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return Ok(out);
    };
    let pseudo = Pseudo {
        account: account.unwrap_or(TEMPLATE_ACCOUNT).to_string(),
        partition: "aws".into(),
        region: "us-east-1".into(),
        types: resources
            .iter()
            .filter_map(|(k, v)| {
                v.get("Type")
                    .and_then(Value::as_str)
                    .map(|t| (k.clone(), t.to_string()))
            })
            .collect(),
        conditions: true,
    };
    for (logical, r) in resources {
        let ty = r.get("Type").and_then(Value::as_str).unwrap_or_default();
        if ty != "AWS::KMS::Key" && ty != "AWS::KMS::ReplicaKey" {
            continue;
        }
        let target = |address: String, policy: String| Target {
            file: file.to_string(),
            address: Some(address),
            policy,
            parsed: None,
            locator: locator(logical),
            template_account: account.is_none(),
            placeholders: Vec::new(),
        };
        match r.pointer("/Properties/KeyPolicy") {
            // Without a key policy, KMS attaches the default one (CreateKey API reference,
            // "Policy"; CloudFormation User Guide, AWS::KMS::Key KeyPolicy).
            None => out.push(target(
                format!("{logical} (no KeyPolicy: the default key policy)"),
                crate::analysis::lockout::default_policy(&pseudo.partition, &pseudo.account),
            )),
            Some(Value::String(s)) => out.push(target(logical.clone(), s.clone())),
            Some(v) => {
                let conditions = if_conditions(v);
                if conditions.is_empty() {
                    out.push(target(logical.clone(), resolve(v, &pseudo).to_string()));
                    continue;
                }
                // Each branch judged: every condition true, then every one false.
                for truth in [true, false] {
                    let p = Pseudo {
                        conditions: truth,
                        ..pseudo.clone()
                    };
                    out.push(target(
                        format!("{logical} (if {} {truth})", conditions.join(", ")),
                        resolve(v, &p).to_string(),
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_kind() {
        let doc = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(
            from_text("p.json", doc, true, None).unwrap().targets.len(),
            1
        );
        let wrapped = serde_json::json!({"Policy": doc}).to_string();
        assert!(matches!(
            from_text("g.json", &wrapped, true, None).unwrap().targets[0].locator,
            Locator::Embedded(_)
        ));
        let plan = serde_json::json!({"format_version": "1.2", "resource_changes": [
            {"address": "aws_kms_key.main", "mode": "managed", "type": "aws_kms_key", "change": {"actions": ["update"], "after": {"policy": doc}}},
            {"address": "aws_kms_key.old", "mode": "managed", "type": "aws_kms_key", "change": {"actions": ["delete"], "after": null}},
            {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "change": {"actions": ["create"], "after": {"policy": doc}}}
        ]})
        .to_string();
        let t = from_text("plan.json", &plan, true, None).unwrap().targets;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].address.as_deref(), Some("aws_kms_key.main"));
        let cfn = r#"{"Resources":{"K":{"Type":"AWS::KMS::Key","Properties":{"KeyPolicy":{"Statement":[{"Effect":"Allow","Principal":{"AWS":{"Fn::Sub":"arn:aws:iam::${AWS::AccountId}:root"}},"Action":"kms:*","Resource":"*"}]}}}}}"#;
        let t = from_text("t.json", cfn, true, None).unwrap().targets;
        assert!(
            t[0].policy.contains("arn:aws:iam::000000000000:root"),
            "{}",
            t[0].policy
        );
        assert_eq!(
            t[0].locator.position("/Statement/0").map(|p| p.line),
            Some(1)
        );
    }

    #[test]
    fn unrecognised_content_is_an_error_only_when_named() {
        assert!(from_text("package.json", r#"{"name": "x"}"#, true, None).is_err());
        assert!(from_text("package.json", r#"{"name": "x"}"#, false, None)
            .unwrap()
            .targets
            .is_empty());
        assert!(from_text("x.yaml", "a: 1\n", true, None).is_err());
        assert!(
            from_text("bad.json", "{oops", false, None).is_err(),
            "unreadable is an error even in a folder"
        );
    }

    /// A Terraform template's policy: the placeholders in principals' accounts are the key's
    /// account (the one the policy writes literally here), the positions are the file's, and
    /// the note says which placeholders were taken.
    #[test]
    fn placeholders_in_principals_accounts_are_the_keys_account() {
        let tpl = r#"{"Version":"2012-10-17","Statement":[
{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:${partition}:iam::${account_id}:root"},"Action":"kms:*","Resource":"*"},
{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/<admin>"},"Action":"kms:Describe*","Resource":"*"}]}"#;
        let found = from_text("key.json.tpl", tpl, false, None).unwrap();
        let t = &found.targets[0];
        assert_eq!(t.placeholders, ["${account_id}"]);
        assert!(!t.template_account, "a literal account was there to take");
        assert!(
            t.policy.contains("arn:aws:iam::111122223333:root"),
            "{}",
            t.policy
        );
        assert!(
            t.policy.contains("role/<admin>"),
            "only the account field is filled"
        );
        // No literal account and none given: the stand-in, shown as the placeholder.
        let alone = tpl.replace("111122223333", "{{other}}");
        let t = &from_text("k.json", &alone, false, None).unwrap().targets[0];
        assert!(t.template_account);
        assert_eq!(t.placeholders, ["${account_id}", "{{other}}"]);
        // A masked account is no placeholder, and other text is untouched.
        assert!(
            fill_placeholders(r#""arn:aws:iam::*************:root""#, "111122223333").is_none()
        );
        assert!(fill_placeholders(r#""arn:aws:s3:::${bucket}/x""#, "111122223333").is_none());
    }

    /// CloudFormation conditions (User Guide, "Condition functions"): each branch of `Fn::If`
    /// is judged, under a name that says which; `AWS::NoValue` removes the statement; a key
    /// without KeyPolicy gets the default key policy (CreateKey API reference, "Policy").
    #[test]
    fn template_conditions_and_keys_without_a_policy() {
        let yaml = "Conditions:\n  cAudit: !Equals [a, a]\nResources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Version: '2012-10-17'\n        Statement:\n          - !If\n            - cAudit\n            - Sid: Root\n              Effect: Allow\n              Principal:\n                AWS: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root\n              Action: kms:*\n              Resource: '*'\n            - !Ref AWS::NoValue\n  Plain:\n    Type: AWS::KMS::Key\n    Properties:\n      Description: no policy\n";
        let t = from_text("t.yaml", yaml, true, Some("111122223333"))
            .unwrap()
            .targets;
        let addresses: Vec<&str> = t.iter().filter_map(|t| t.address.as_deref()).collect();
        assert_eq!(
            addresses,
            [
                "Key (if cAudit true)",
                "Key (if cAudit false)",
                "Plain (no KeyPolicy: the default key policy)"
            ]
        );
        assert!(
            t[0].policy.contains("arn:aws:iam::111122223333:root"),
            "{}",
            t[0].policy
        );
        let empty: Value = serde_json::from_str(&t[1].policy).unwrap();
        assert_eq!(
            empty["Statement"],
            serde_json::json!([]),
            "AWS::NoValue removes it"
        );
        assert!(t[2].policy.contains("Enable IAM User Permissions"));
        // A bare policy written with intrinsics is resolved as in a template.
        let bare = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},"Action":"kms:*","Resource":"*"}]}"#;
        let t = from_text("p.json", bare, true, Some("111122223333"))
            .unwrap()
            .targets;
        assert!(
            t[0].policy.contains("arn:aws:iam::111122223333:root"),
            "{}",
            t[0].policy
        );
    }

    /// A Terraform key policy known only after apply is said by its address, not skipped.
    #[test]
    fn a_plan_policy_known_after_apply_is_named() {
        let plan = serde_json::json!({"format_version": "1.2", "resource_changes": [
            {"address": "module.k.aws_kms_key.main", "mode": "managed", "type": "aws_kms_key",
             "change": {"actions": ["create"], "after": {"description": "x"}, "after_unknown": {"policy": true}}}
        ]})
        .to_string();
        let found = from_text("plan.json", &plan, true, None).unwrap();
        assert!(found.targets.is_empty());
        assert_eq!(found.after_apply, ["module.k.aws_kms_key.main"]);
    }

    /// A plan's aws_kms_key without a policy in its configuration gets the default key
    /// policy; one whose policy is configured but known only after apply is named.
    #[test]
    fn a_plan_key_without_a_policy_gets_the_default_one() {
        let plan = serde_json::json!({"format_version": "1.2",
            "resource_changes": [
                {"address": "module.k.aws_kms_key.plain[0]", "mode": "managed", "type": "aws_kms_key",
                 "change": {"actions": ["create"], "after": {}, "after_unknown": {"policy": true}}},
                {"address": "aws_kms_key.later", "mode": "managed", "type": "aws_kms_key",
                 "change": {"actions": ["create"], "after": {}, "after_unknown": {"policy": true}}}
            ],
            "configuration": {"root_module": {
                "resources": [{"address": "aws_kms_key.later", "expressions": {"policy": {"references": ["data.x"]}}}],
                "module_calls": {"k": {"module": {"resources": [{"address": "aws_kms_key.plain", "expressions": {"description": {}}}]}}}
            }}
        })
        .to_string();
        let found = from_text("plan.json", &plan, true, None).unwrap();
        assert_eq!(found.after_apply, ["aws_kms_key.later"]);
        assert_eq!(found.targets.len(), 1);
        assert!(found.targets[0]
            .policy
            .contains("Enable IAM User Permissions"));
        assert!(
            found.targets[0].template_account,
            "the stand-in account, shown as a placeholder"
        );
    }
}
