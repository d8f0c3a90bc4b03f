//! Walks every evaluation case under `fixtures/eval/` and checks the decision, the deciding
//! statements and (where a case states them) the requirements and notes.
//!
//! A corpus file: `{"description", "policies": {NAME: policy document}, "cases": [case]}`.
//! A case: `name`, `key_policy` (a NAME or null), `identity_policies` (NAMEs; omitted means
//! "not known"), `principal`, `action`, `resource` (default `*`), `account`, `context`
//! (key -> value or array of values), `absent` (keys), `assume_absent`, and `expect`:
//! `decision`, `deciding`, optional `requirements` (alternatives, each a list of requirement
//! texts) and `notes_contain`.
//!
//! A case with any of `boundary` (a NAME, or null for "has none"), `session_policies`,
//! `scps`, `rcps` (levels: `{"target", "policies": [NAME]}`, the root first) or
//! `management_account` is run through the whole request chain (`analysis::chain`), and
//! `expect.denied_by` (a layer, or null) is checked too, and `expect.denied_at` (the SCP or
//! RCP target) when stated; its `deciding` are the denying layer's statements (none when
//! nothing denies). From file 15 on, each case has a `source`: the AWS page (its URL) and
//! the sentence, quoted, that it rests on.

use std::collections::BTreeMap;
use std::path::Path;

use kmsdoctor::analysis::chain::{evaluate_chain, Layers, OrgLevel};
use kmsdoctor::analysis::eval::{decide, evaluate, Alternative};
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
    /// The chain's layers; `Some(None)` for a boundary stated as none.
    #[serde(default, deserialize_with = "present")]
    boundary: Option<Option<String>>,
    session_policies: Option<Vec<String>>,
    scps: Option<Vec<Level>>,
    rcps: Option<Vec<Level>>,
    management_account: Option<String>,
    /// The AWS page and the sentence the case rests on (required in corpus files that
    /// carry it on every case).
    source: Option<String>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Level {
    target: String,
    policies: Vec<String>,
}

/// A field that is present (even as null) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Case {
    fn is_chain(&self) -> bool {
        self.boundary.is_some()
            || self.session_policies.is_some()
            || self.scps.is_some()
            || self.rcps.is_some()
            || self.management_account.is_some()
    }
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
    /// Chain cases: the layer that denies (`null`: none).
    #[serde(default, deserialize_with = "present")]
    denied_by: Option<Option<String>>,
    /// Chain cases: where the denying SCP or RCP level is attached, when stated.
    #[serde(default, deserialize_with = "present")]
    denied_at: Option<Option<String>>,
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
    if case.is_chain() {
        return run_chain_case(corpus, file, case, &request, key_policy.as_ref(), identity);
    }
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
        .map(|s| s.label.as_str())
        .collect();
    check_deciding(case, &deciding, &mut problems);
    check_requirements(case, ev.decision.as_str(), &ev.requirements, &mut problems);
    check_notes(case, &ev.notes, &mut problems);
    verdict(problems)
}

fn check_requirements(
    case: &Case,
    decision: &str,
    got: &[Alternative],
    problems: &mut Vec<String>,
) {
    if let Some(expected) = &case.expect.requirements {
        let got: Vec<Vec<String>> = got
            .iter()
            .map(|a| a.all_of.iter().map(|r| r.text.clone()).collect())
            .collect();
        if &got != expected {
            problems.push(format!("requirements: expected {expected:?}, got {got:?}"));
        }
    } else if decision == "conditional" {
        problems.push("a conditional case must state its requirements".into());
    }
}

fn check_deciding(case: &Case, deciding: &[&str], problems: &mut Vec<String>) {
    if deciding != case.expect.deciding {
        problems.push(format!(
            "deciding: expected {:?}, got {:?}",
            case.expect.deciding, deciding
        ));
    }
}

fn check_notes(case: &Case, notes: &[String], problems: &mut Vec<String>) {
    for needle in &case.expect.notes_contain {
        if !notes.iter().any(|n| n.contains(needle.as_str())) {
            problems.push(format!("notes: none contains {needle:?}; notes: {notes:?}"));
        }
    }
}

fn verdict(problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

/// A case of the whole request chain.
fn run_chain_case(
    corpus: &Corpus,
    file: &str,
    case: &Case,
    request: &kmsdoctor::analysis::eval::Request,
    key_policy: Option<&Policy>,
    identity: Option<Vec<Policy>>,
) -> Result<(), String> {
    let one = |n: &str, kind| policy(corpus, file, n, kind);
    let boundary: Option<Option<Policy>> = case
        .boundary
        .as_ref()
        .map(|b| b.as_deref().map(|n| one(n, PolicyKind::Identity)));
    let session: Option<Vec<Policy>> = case
        .session_policies
        .as_ref()
        .map(|ns| ns.iter().map(|n| one(n, PolicyKind::Identity)).collect());
    let levels = |ls: &Option<Vec<Level>>, kind| -> Option<Vec<OrgLevel>> {
        ls.as_ref().map(|ls| {
            ls.iter()
                .map(|l| OrgLevel {
                    target: l.target.clone(),
                    policies: l.policies.iter().map(|n| one(n, kind)).collect(),
                })
                .collect()
        })
    };
    let scps = levels(&case.scps, PolicyKind::Identity);
    let rcps = levels(&case.rcps, PolicyKind::ResourceControl);
    let layers = Layers {
        identity: identity.as_deref(),
        boundary: boundary.as_ref().map(Option::as_ref),
        session: session.as_deref(),
        scps: scps.as_deref(),
        rcps: rcps.as_deref(),
        management_account: case.management_account.as_deref(),
    };
    let ev = evaluate_chain(request, key_policy, &layers);
    let mut problems = Vec::new();
    if ev.decision.as_str() != case.expect.decision {
        problems.push(format!(
            "decision: expected {}, got {} (layers: {:?})",
            case.expect.decision,
            ev.decision.as_str(),
            ev.layers
                .iter()
                .map(|l| (l.layer, l.decision, l.reason.as_str()))
                .collect::<Vec<_>>()
        ));
    }
    let denied_by = ev.denied_by.map(|l| {
        serde_json::to_value(l)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    });
    match &case.expect.denied_by {
        Some(expected) if *expected != denied_by => problems.push(format!(
            "denied_by: expected {expected:?}, got {denied_by:?}"
        )),
        None => problems.push("a chain case must state denied_by".into()),
        _ => {}
    }
    if let Some(expected) = &case.expect.denied_at {
        if *expected != ev.denied_at {
            problems.push(format!(
                "denied_at: expected {expected:?}, got {:?}",
                ev.denied_at
            ));
        }
    }
    let deciding: Vec<&str> = ev
        .layers
        .iter()
        .find(|l| Some(l.layer) == ev.denied_by && l.target == ev.denied_at)
        .map(|l| {
            l.deciding_statements
                .iter()
                .map(|s| s.label.as_str())
                .collect()
        })
        .unwrap_or_default();
    check_deciding(case, &deciding, &mut problems);
    check_requirements(case, ev.decision.as_str(), &ev.requirements, &mut problems);
    check_notes(case, &ev.notes, &mut problems);
    verdict(problems)
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
        // From file 15 on, every case cites the AWS page and sentence it rests on.
        let number: u32 = file
            .split('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        for case in &corpus.cases {
            total += 1;
            let cited = case
                .source
                .as_deref()
                .is_some_and(|s| s.contains("https://docs.aws.amazon.com/") && s.contains('"'));
            if number >= 15 && !cited {
                failures.push(format!(
                    "{file}: {}\n    source: the AWS page and the sentence quoted are required",
                    case.name
                ));
            }
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
