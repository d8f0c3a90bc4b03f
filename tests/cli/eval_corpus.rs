//! Walks every evaluation case under `fixtures/eval/` and checks the decision, the deciding
//! statements and (where a case states them) the requirements and notes.
//!
//! A corpus file: `{"description", "policies": {NAME: policy document}, "cases": [case]}`.
//! A case: `name`, `key_policy` (a NAME or null), `identity_policies` (NAMEs; omitted means
//! "not known"), `principal`, `action`, `resource` (default `*`), `account`, `context`
//! (key -> value or array of values), `absent` (keys), `assume_absent`, and `expect`:
//! `decision`, `deciding`, optional `requirements` (alternatives, each a list of requirement
//! texts) and `notes_contain`.

use std::collections::BTreeMap;
use std::path::Path;

use kmsdoctor::analysis::eval::{decide, evaluate};
use kmsdoctor::analysis::policy::{parse_policy, Policy, PolicyKind};
use kmsdoctor::config::{resolve_request, RequestFlags};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    policies: BTreeMap<String, serde_json::Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    key_policy: Option<String>,
    identity_policies: Option<Vec<String>>,
    principal: String,
    action: String,
    #[serde(default = "star")]
    resource: String,
    account: Option<String>,
    #[serde(default)]
    context: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    assume_absent: bool,
    expect: Expect,
}

fn star() -> String {
    "*".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: String,
    deciding: Vec<String>,
    requirements: Option<Vec<Vec<String>>>,
    #[serde(default)]
    notes_contain: Vec<String>,
}

fn load(path: &Path) -> Corpus {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn policy(corpus: &Corpus, file: &str, name: &str, kind: PolicyKind) -> Policy {
    let doc = corpus
        .policies
        .get(name)
        .unwrap_or_else(|| panic!("{file}: no policy named {name}"));
    parse_policy(&doc.to_string(), kind, name)
        .unwrap_or_else(|e| panic!("{file}: policy {name}: {e}"))
}

/// Runs one case; `Err` says how it failed.
fn run_case(corpus: &Corpus, file: &str, case: &Case) -> Result<(), String> {
    let mut context = Vec::new();
    for (k, v) in &case.context {
        match v {
            OneOrMany::One(s) => context.push(format!("{k}={s}")),
            OneOrMany::Many(vs) => context.extend(vs.iter().map(|s| format!("{k}={s}"))),
        }
    }
    let (request, _) = resolve_request(&RequestFlags {
        principal: &case.principal,
        action: &case.action,
        resource: &case.resource,
        account: case.account.as_deref(),
        context: &context,
        absent: &case.absent,
        assume_absent: case.assume_absent,
    })
    .map_err(|e| format!("bad request: {e}"))?;
    let key_policy = case
        .key_policy
        .as_deref()
        .map(|n| policy(corpus, file, n, PolicyKind::Key));
    let identity: Option<Vec<Policy>> = case.identity_policies.as_ref().map(|names| {
        names
            .iter()
            .map(|n| policy(corpus, file, n, PolicyKind::Identity))
            .collect()
    });
    let ev = evaluate(&request, key_policy.as_ref(), identity.as_deref());

    let mut problems = Vec::new();
    // The quiet path (no explanations, early exits) must decide exactly the same.
    let quiet = decide(&request, key_policy.as_ref(), identity.as_deref());
    if quiet.decision != ev.decision
        || quiet.deciding_statements != ev.deciding_statements
        || quiet.requirements != ev.requirements
        || quiet.notes != ev.notes
    {
        problems.push(format!(
            "decide() disagrees with evaluate(): {} {:?} vs {} {:?}",
            quiet.decision.as_str(),
            quiet.deciding_statements,
            ev.decision.as_str(),
            ev.deciding_statements
        ));
    }
    if ev.decision.as_str() != case.expect.decision {
        problems.push(format!(
            "decision: expected {}, got {}",
            case.expect.decision,
            ev.decision.as_str()
        ));
    }
    let deciding: Vec<&str> = ev
        .deciding_statements
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    if deciding != case.expect.deciding {
        problems.push(format!(
            "deciding: expected {:?}, got {:?}",
            case.expect.deciding, deciding
        ));
    }
    if let Some(expected) = &case.expect.requirements {
        let got: Vec<Vec<String>> = ev
            .requirements
            .iter()
            .map(|a| a.all_of.iter().map(|r| r.text.clone()).collect())
            .collect();
        if &got != expected {
            problems.push(format!("requirements: expected {expected:?}, got {got:?}"));
        }
    } else if ev.decision.as_str() == "conditional" {
        problems.push("a conditional case must state its requirements".into());
    }
    for needle in &case.expect.notes_contain {
        if !ev.notes.iter().any(|n| n.contains(needle.as_str())) {
            problems.push(format!(
                "notes: none contains {needle:?}; notes: {:?}",
                ev.notes
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

#[test]
fn evaluation_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eval");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/eval")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for path in &files {
        let corpus = load(path);
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for case in &corpus.cases {
            total += 1;
            if let Err(why) = run_case(&corpus, &file, case) {
                failures.push(format!("{file}: {}\n    {why}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 80, "the corpus has only {total} cases");
    eprintln!("evaluation corpus: {total} cases in {} files", files.len());
}
