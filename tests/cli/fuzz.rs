//! Property tests over generated input: every reader of outside text is total (an error, never
//! a panic), and the whole `why-locked` path (parse, diagnose, plan, repair, render) holds its
//! promises on policies built from the vocabulary of the AWS docs: the repaired policy is not
//! locked, the output carries no terminal control bytes, and a diagnosis is the same twice.
//!
//! `PROPTEST_CASES=N` runs more cases (the default is 256 per property).

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use kmsdoctor::analysis::check::{check_policy, CheckSetting};
use kmsdoctor::analysis::lockout::{diagnose, Evidence, KeyRef, Setting, Verdict};
use kmsdoctor::analysis::plan::{recovery_plan, PlanInput};
use kmsdoctor::analysis::policy::{
    parse_clean, parse_document, parse_policy, parse_policy_exact, PolicyKind,
};
use kmsdoctor::analysis::repair::repair;
use kmsdoctor::analysis::shell::RunFlags;
use kmsdoctor::evidence::{cloudformation, cloudtrail_records, inputs as sources};
use kmsdoctor::report::why_locked::{render_json, render_table, EvidenceSummary, WhyLockedReport};
use kmsdoctor::report::Style;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ACCOUNT: &str = "111122223333";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc()
}

fn pick(values: Vec<Value>) -> impl Strategy<Value = Value> {
    proptest::sample::select(values)
}

/// Principals as the KMS and IAM docs write them, and some they do not allow.
fn principal() -> impl Strategy<Value = Value> {
    pick(vec![
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": "arn:aws:iam::111122223333:root"}),
        json!({"AWS": "111122223333"}),
        json!({"AWS": ["arn:aws:iam::111122223333:role/KeyAdmin", "arn:aws:iam::111122223333:user/alice"]}),
        json!({"AWS": "arn:aws:iam::111122223333:role/path/Deployer"}),
        json!({"AWS": "arn:aws:sts::111122223333:assumed-role/KeyAdmin/session"}),
        json!({"AWS": "arn:aws:iam::444455556666:root"}),
        json!({"AWS": "arn:aws:iam::111122223333:user/*"}),
        json!({"AWS": "AIDAEXAMPLEUNIQUEID"}),
        json!({"Service": "cloudtrail.amazonaws.com"}),
        json!({"Federated": "cognito-identity.amazonaws.com"}),
        json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}),
        json!({"AWS": []}),
        json!(""),
        json!(7),
    ])
}

fn action() -> impl Strategy<Value = Value> {
    pick(vec![
        json!("kms:*"),
        json!("*"),
        json!("kms:PutKeyPolicy"),
        json!("kms:GetKeyPolicy"),
        json!(["kms:Put*", "kms:Decrypt"]),
        json!("kms:?utKeyPolicy"),
        json!([
            "kms:Create*",
            "kms:Describe*",
            "kms:Enable*",
            "kms:List*",
            "kms:Put*",
            "kms:Update*",
            "kms:Revoke*",
            "kms:Disable*",
            "kms:Get*",
            "kms:Delete*",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion"
        ]),
        json!("kms:Encrypt"),
        json!("KMS:putkeypolicy"),
        json!("s3:*"),
        json!([]),
        json!(""),
    ])
}

fn resource() -> impl Strategy<Value = Value> {
    pick(vec![
        json!("*"),
        json!(KEY),
        json!("arn:aws:kms:us-east-1:111122223333:key/*"),
        json!("arn:aws:kms:eu-west-1:111122223333:key/*"),
        json!(["*", "arn:aws:s3:::bucket"]),
        json!("arn:aws:kms:*:111122223333:alias/*"),
        json!(""),
    ])
}

fn operator() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "StringEquals",
        "StringNotEquals",
        "StringLike",
        "StringNotLike",
        "StringEqualsIgnoreCase",
        "ArnEquals",
        "ArnLike",
        "ArnNotLike",
        "Bool",
        "BoolIfExists",
        "DateLessThan",
        "DateGreaterThan",
        "IpAddress",
        "NotIpAddress",
        "NumericLessThan",
        "NumericGreaterThanEquals",
        "Null",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringLike",
        "StringEqualsIfExists",
        "Bogus",
    ])
}

fn condition_key() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "aws:PrincipalArn",
        "aws:MultiFactorAuthPresent",
        "aws:MultiFactorAuthAge",
        "aws:SourceIp",
        "aws:SourceVpce",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:PrincipalAccount",
        "aws:PrincipalOrgID",
        "aws:PrincipalTag/team",
        "aws:PrincipalType",
        "aws:userid",
        "aws:username",
        "aws:SecureTransport",
        "aws:RequestedRegion",
        "aws:ViaAWSService",
        "aws:CalledVia",
        "kms:CallerAccount",
        "kms:ViaService",
        "kms:KeySpec",
        "kms:BypassPolicyLockoutSafetyCheck",
        "kms:ResourceAliases",
        "kms:EncryptionContext:Department",
        "kms:GrantIsForAWSResource",
        "s3:prefix",
    ])
}

fn condition_value() -> impl Strategy<Value = Value> {
    pick(vec![
        json!("true"),
        json!("false"),
        json!(true),
        json!("*"),
        json!("10.0.0.0/8"),
        json!("203.0.113.7"),
        json!("2026-01-01T00:00:00Z"),
        json!("2030-01-01"),
        json!("1800000000"),
        json!(ACCOUNT),
        json!("arn:aws:iam::111122223333:role/*"),
        json!("arn:aws:iam::111122223333:role/KeyAdmin"),
        json!(["AIDA*", "AROA*:*"]),
        json!("${aws:username}"),
        json!("o-exampleorgid"),
        json!("AssumedRole"),
        json!(3600),
        json!(""),
        json!(null),
        json!([]),
    ])
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    proptest::option::weighted(
        0.5,
        proptest::collection::vec((operator(), condition_key(), condition_value()), 1..3),
    )
    .prop_map(|entries| {
        entries.map(|entries| {
            let mut block = serde_json::Map::new();
            for (op, key, value) in entries {
                let inner = block.entry(op).or_insert_with(|| json!({}));
                inner[key] = value;
            }
            Value::Object(block)
        })
    })
}

fn statement() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(vec!["Allow", "Deny", "allow", ""]),
        principal(),
        any::<bool>(),
        action(),
        any::<bool>(),
        resource(),
        condition(),
        proptest::option::of(proptest::sample::select(vec![
            "Enable IAM User Permissions",
            "Allow access for Key Administrators",
            "Deny",
            "Admin",
        ])),
    )
        .prop_map(
            |(effect, principal, not_principal, action, not_action, resource, condition, sid)| {
                let mut s = serde_json::Map::new();
                if let Some(sid) = sid {
                    s.insert("Sid".into(), json!(sid));
                }
                s.insert("Effect".into(), json!(effect));
                let p = if not_principal && effect == "Deny" {
                    "NotPrincipal"
                } else {
                    "Principal"
                };
                s.insert(p.into(), principal);
                let a = if not_action { "NotAction" } else { "Action" };
                s.insert(a.into(), action);
                s.insert("Resource".into(), resource);
                if let Some(c) = condition {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
}

/// A key policy of up to six statements, sometimes with the default statement first.
fn policy() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(statement(), 0..6),
        any::<bool>(),
        proptest::sample::select(vec!["2012-10-17", "2008-10-17"]),
    )
        .prop_map(|(mut statements, with_default, version)| {
            if with_default {
                statements.insert(
                    0,
                    json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                           "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                           "Action": "kms:*", "Resource": "*"}),
                );
            }
            json!({"Version": version, "Statement": statements}).to_string()
        })
}

fn key() -> KeyRef {
    KeyRef::parse(KEY).unwrap()
}

/// True when `text` holds no byte that drives a terminal (ESC, other C0 controls but newline
/// and tab, DEL, C1 controls).
fn terminal_safe(text: &str) -> bool {
    text.chars()
        .all(|c| c == '\n' || c == '\t' || !(c.is_control() || ('\u{80}'..='\u{9f}').contains(&c)))
}

/// The whole offline `why-locked` path on one policy text; returns the verdict and the
/// rendered table and JSON.
fn why_locked(text: &str) -> Option<(Verdict, String, String)> {
    let doc = parse_document(text, PolicyKind::Key, "key-policy").ok()?;
    let diagnosis = diagnose(Evidence {
        key: key(),
        current_policy: Some(&doc),
        events: &[],
        account: Some(ACCOUNT),
        now: now(),
        aliases: None,
        properties: None,
        caller: None,
    });
    let rerun = vec!["why-locked".to_string(), KEY.to_string()];
    let plan = recovery_plan(&PlanInput {
        diagnosis: &diagnosis,
        repaired_path: None,
        rerun: &rerun,
        flags: &RunFlags::default(),
    });
    let summary = EvidenceSummary {
        source: "files",
        complete: true,
        problems: vec![],
        lookup_calls: 0,
        policy_file: Some("policy.json".into()),
        event_files: 0,
        bytes: text.len() as u64,
        records: 0,
        unreadable_records: 0,
        events_for_key: 0,
        archive: None,
    };
    let report = WhyLockedReport {
        diagnosis: &diagnosis,
        plan: &plan,
        repaired: None,
        evidence: &summary,
    };
    let mut table = Vec::new();
    render_table(&mut table, &report, Style::plain()).unwrap();
    let mut out = Vec::new();
    render_json(&mut out, &report).unwrap();
    let json: Value = serde_json::from_slice(&out).expect("why-locked JSON parses");
    assert_eq!(json["verdict"], diagnosis.verdict.as_str());
    Some((
        diagnosis.verdict,
        String::from_utf8(table).unwrap(),
        String::from_utf8(out).unwrap(),
    ))
}

/// `check` on one policy text; only its totality is asked for.
fn check(text: &str) {
    let _ = check_policy(
        text,
        &CheckSetting {
            account: None,
            region: None,
            deployer: None,
            now: now(),
            cache: None,
            assume_deleted: &[],
        },
    );
}

/// Fixture texts to mutate: real shapes (policies, CloudTrail files, templates, plans).
fn fixture_texts() -> &'static [String] {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(read_fixtures)
}

fn read_fixtures() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut texts = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                if text.len() < 64 * 1024 {
                    texts.push(text);
                }
            }
        }
    }
    texts.sort();
    assert!(texts.len() > 50, "fixtures found: {}", texts.len());
    texts
}

/// One edit of a text: cut, repeat or replace a range with hostile bytes, at char boundaries.
fn mutate(text: &str, at: usize, len: usize, kind: u8) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    let head: String = chars[..at].iter().collect();
    let mid: String = chars[at..end].iter().collect();
    let tail: String = chars[end..].iter().collect();
    match kind % 6 {
        0 => format!("{head}{tail}"),
        1 => format!("{head}{mid}{mid}{tail}"),
        2 => format!("{head}\u{1b}]0;pwned\u{7}$(id)`x`\"'\\{tail}"),
        3 => format!("{head}{{\"[{mid}]\":[[[[{{}}]]]]}}{tail}"),
        4 => format!("{head}\u{202e}\u{0}\u{9b}31m{tail}"),
        _ => format!("{head}{}{tail}", mid.to_uppercase()),
    }
}

/// The one-pass reader of clean policies reads `text` as the exact parser does, for each kind
/// of policy, wherever it reads it at all. Returns how many kinds it read.
fn same_reading(text: &str) -> Result<usize, TestCaseError> {
    let mut read = 0;
    for kind in [
        PolicyKind::Key,
        PolicyKind::Identity,
        PolicyKind::ResourceControl,
    ] {
        if let Some(fast) = parse_clean(text, kind, "p") {
            prop_assert_eq!(Ok(fast), parse_policy_exact(text, kind, "p"), "{}", text);
            read += 1;
        }
    }
    Ok(read)
}

/// The same policy as an identity policy would be written: without its principals.
fn without_principals(text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    if let Some(statements) = v["Statement"].as_array_mut() {
        for s in statements.iter_mut().filter_map(Value::as_object_mut) {
            s.remove("Principal");
            s.remove("NotPrincipal");
        }
    }
    v.to_string()
}

proptest! {
    /// Any text at all: every reader returns an error or a value.
    #[test]
    fn readers_are_total_on_any_text(text in any::<String>()) {
        same_reading(&text)?;
        let _ = parse_policy(&text, PolicyKind::Key, "key-policy");
        let _ = parse_policy(&text, PolicyKind::Identity, "identity");
        let _ = cloudtrail_records::scan(&text);
        let _ = cloudformation::parse_yaml(&text);
        let _ = sources::from_text("input", &text, true, None);
        check(&text);
    }

    /// Fixture texts after one edit: the readers stay total and `check` on each policy they
    /// yield finishes.
    #[test]
    fn readers_are_total_on_mutated_fixtures(
        index in any::<prop::sample::Index>(),
        at in any::<usize>(),
        len in 0usize..64,
        kind in any::<u8>(),
    ) {
        let texts = fixture_texts();
        let text = mutate(index.get::<String>(texts), at, len, kind);
        same_reading(&text)?;
        let _ = cloudtrail_records::scan(&text);
        let _ = cloudformation::parse_yaml(&text);
        if let Ok(targets) = sources::from_text("input", &text, false, Some(ACCOUNT)) {
            for t in targets.targets {
                same_reading(&t.policy)?;
                check(&t.policy);
            }
        }
        if let Some((_, table, _)) = why_locked(&text) {
            prop_assert!(terminal_safe(&table), "control bytes in:\n{table}");
        }
    }

    /// Policies from the docs' vocabulary: the path holds its promises.
    #[test]
    fn why_locked_holds_its_promises(text in policy()) {
        same_reading(&text)?;
        same_reading(&without_principals(&text))?;
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
        same_reading(&pretty)?;
        let Some((verdict, table, json)) = why_locked(&text) else {
            return Ok(());
        };
        prop_assert!(terminal_safe(&table), "control bytes in:\n{table}");
        // Pure: the same evidence gives the same report.
        let (again, table2, json2) = why_locked(&text).unwrap();
        prop_assert_eq!(verdict, again);
        prop_assert_eq!(&table, &table2);
        prop_assert_eq!(&json, &json2);
        check(&text);

        // The repaired policy, when kmsdoctor offers one, unlocks the key.
        let k = key();
        let setting = Setting::new(&k, ACCOUNT, now(), None, None);
        if let Ok(r) = repair(&text, &setting) {
            let (fixed, fixed_table, _) = why_locked(&r.policy)
                .unwrap_or_else(|| panic!("repaired policy does not parse:\n{}", r.policy));
            prop_assert_eq!(
                fixed, Verdict::Ok,
                "policy:\n{}\nrepaired:\n{}\nreport:\n{}", text, r.policy, fixed_table
            );
        }
    }
}

/// The one-pass reader reads a good share of the generated policies and of the fixtures
/// (and each as the exact parser does): the property above would assert nothing otherwise.
#[test]
fn the_one_pass_reader_reads_clean_policies() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = policy();
    let (mut generated, mut identity) = (0, 0);
    for _ in 0..400 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        generated += same_reading(&text).unwrap();
        identity += same_reading(&without_principals(&text)).unwrap();
    }
    let fixtures: usize = fixture_texts()
        .iter()
        .map(|t| same_reading(t).unwrap())
        .sum();
    eprintln!("read in one pass: {generated} generated, {identity} as identity policies, {fixtures} fixtures");
    assert!(generated >= 40, "{generated}");
    assert!(identity >= 40, "{identity}");
    assert!(fixtures >= 20, "{fixtures}");
}

/// The generator reaches the verdicts: a property over policies that never parse would
/// assert nothing.
#[test]
fn generated_policies_reach_every_verdict() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = policy();
    let mut seen = std::collections::BTreeMap::new();
    let mut repaired = 0;
    for _ in 0..400 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        let verdict = why_locked(&text)
            .map(|(v, _, _)| v.as_str())
            .unwrap_or("error");
        *seen.entry(verdict).or_insert(0) += 1;
        let k = key();
        if repair(&text, &Setting::new(&k, ACCOUNT, now(), None, None)).is_ok() {
            repaired += 1;
        }
    }
    eprintln!("verdicts over 400 generated policies: {seen:?}; repaired: {repaired}");
    for verdict in ["ok", "recoverable", "unrecoverable", "error"] {
        assert!(
            seen.get(verdict).copied().unwrap_or(0) >= 3,
            "{verdict}: {seen:?}"
        );
    }
    assert!(repaired >= 40, "repaired {repaired}");
}
