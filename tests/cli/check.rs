//! `kmsdoctor check` at the command line: every input kind, all three output formats as
//! reviewed snapshots, SARIF validated against the SARIF 2.1.0 schema, agreement with
//! `why-locked` on every scenario policy, and bad input.

use std::path::Path;

use assert_cmd::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `kmsdoctor check` from the project folder, so paths in the output are relative.
/// Runs kmsdoctor with `args` and reads its stdout as one JSON document.
fn kmsdoctor_json(args: &[&str]) -> serde_json::Value {
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .current_dir(root())
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn table_output() {
    let (code, out, err) = check(&["fixtures/check"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        out.lines()
            .all(|l| l.chars().count() <= 80 || l.starts_with("  at ")),
        "{out}"
    );
    snapshot!("check__table", out);
}

#[test]
fn json_output() {
    let (code, out, err) = check(&["fixtures/check", "--output", "json"]);
    assert_eq!(code, 3, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policies_checked"], 8);
    // Each input kind gives findings placed in it.
    let places: Vec<(String, Option<i64>)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_string(), f["line"].as_i64()))
        .collect();
    assert!(
        places
            .iter()
            .any(|(f, l)| f.ends_with("keys.yaml") && l.is_some()),
        "{places:?}"
    );
    assert!(
        places
            .iter()
            .any(|(f, l)| f.ends_with("admin-only.json") && *l == Some(11)),
        "{places:?}"
    );
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["address"] == "module.audit.aws_kms_key_policy.logs"));
    snapshot!("check__json", out);
}

#[test]
fn sarif_output_validates_against_the_sarif_schema() {
    let (code, out, err) = check(&["fixtures/check", "--output", "sarif"]);
    assert_eq!(code, 3, "{err}");
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let validator = sarif_validator();
    let errors = sarif_errors(&validator, &sarif);
    assert!(
        errors.is_empty(),
        "SARIF output is not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
    // The validator does bite: a level SARIF does not know is rejected.
    let mut bad = sarif.clone();
    bad["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(
        !validator.is_valid(&bad),
        "the schema should reject level `fatal`"
    );

    // Rules are listed once; every result points at its rule and has a location.
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut unique = rules.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), rules.len());
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx], r["ruleId"].as_str().unwrap());
        assert!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
    }
    assert!(run["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64()));
    // Code scanning's needs: relative URIs under a base, fingerprints, a distinct run.
    assert_eq!(run["automationDetails"]["id"], "kmsdoctor/check/");
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    for r in run["results"].as_array().unwrap() {
        let a = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(a["uriBaseId"], "%SRCROOT%");
        assert!(!a["uri"].as_str().unwrap().starts_with('/'), "{a}");
        assert!(r["partialFingerprints"]["kmsdoctorFinding/v1"].is_string());
        assert!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64()
                || r["locations"][0]["logicalLocations"].is_array(),
            "{r}"
        );
    }
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(
            rule["fullDescription"]["text"].is_string() && rule["help"]["markdown"].is_string()
        );
        assert!(rule["properties"]["security-severity"].is_string());
    }
    // The base is this machine's folder: the snapshot holds a stand-in.
    snapshot!("check__sarif", out.replace(&base, "file:///PROJECT/"));
}

#[test]
fn clean_inputs_exit_0_and_fail_on_warning_raises_the_bar() {
    let (code, out, _) = check(&["fixtures/check/policies/default.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 policy in 1 file: 0 errors, 0 warnings"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mfa.json");
    std::fs::write(
        &p,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
    )
    .unwrap();
    let (code, out, _) = check(&[p.to_str().unwrap()]);
    assert_eq!(code, 0, "a warning alone passes by default: {out}");
    assert!(out.contains("KC302"));
    let (code, _, _) = check(&[p.to_str().unwrap(), "--fail-on", "warning"]);
    assert_eq!(code, 3);
}

#[test]
fn standard_input() {
    let policy =
        std::fs::read_to_string(root().join("fixtures/check/policies/admin-only.json")).unwrap();
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(["check", "-", "--output", "json"])
        .write_stdin(policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["file"], "-");
}

#[test]
fn as_predicts_the_lockout_safety_check() {
    let (code, out, _) = check(&[
        "fixtures/check/cloudformation/keys.yaml",
        "--as",
        "arn:aws:iam::000000000000:role/cfn-deploy",
        "--output",
        "json",
    ]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let outcome = |addr: &str| {
        v["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["address"] == addr)
            .unwrap()["safety_check"]["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(outcome("PaymentsKey"), "accepted", "the delegation is kept");
    assert_eq!(
        outcome("ArchiveKey"),
        "rejected",
        "the delegation is gone and the deployer is not named"
    );
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "KC310" && f["address"] == "ArchiveKey"));

    let (code, _, err) = check(&["fixtures/check", "--as", "not-an-arn"]);
    assert_eq!(code, 1);
    assert!(err.contains("--as:"), "{err}");
}

/// Every scenario policy that why-locked does not call ok makes check exit 3; every ok one
/// exits 0.
#[test]
fn check_agrees_with_why_locked_on_every_scenario_policy() {
    let dir = root().join("fixtures/scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let s = entry.unwrap().path();
        let policy = s.join("policy.json");
        if !policy.exists() {
            continue;
        }
        let scenario: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(s.join("scenario.json")).unwrap())
                .unwrap();
        let verdict = scenario["expect"]["verdict"].as_str().unwrap();
        let (code, out, err) = check(&[
            policy.to_str().unwrap(),
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
        ]);
        let want = if verdict == "ok" { 0 } else { 3 };
        assert_eq!(
            code,
            want,
            "{}: why-locked says {verdict}; check said:\n{out}{err}",
            s.display()
        );
        seen += 1;
    }
    assert!(seen >= 15, "only {seen} scenario policies");
}

#[test]
fn bad_inputs_exit_1_naming_the_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "broken.json",
            "{\"Statement\": [",
            "broken.json:1:15: invalid JSON",
        ),
        (
            "broken.yaml",
            "Resources:\n  Key: [unclosed\n",
            "broken.yaml:3:1: invalid YAML",
        ),
        (
            "package.json",
            "{\"name\": \"x\"}",
            "package.json:1:1: expected a key policy",
        ),
        ("empty.json", "", "empty.json: the file is empty"),
        (
            "plan.json",
            r#"{"resource_changes":[{"address":"aws_kms_key.k","mode":"managed","type":"aws_kms_key","change":{"actions":["create"],"after":{"policy":"{\"Statement\": 5}"}}}]}"#,
            "plan.json:1:136: aws_kms_key.k: the key policy is not a policy: expected a statement object",
        ),
    ];
    for (name, content, expected) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let (code, out, err) = check(&[p.to_str().unwrap()]);
        assert_eq!(code, 1, "{name}: {out}{err}");
        let err = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(
            err.starts_with(&format!("kmsdoctor: error: {expected}")),
            "{name}: {err}"
        );
    }
    let (code, _, err) = check(&["no/such/path"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no/such/path: cannot open: no such file"),
        "{err}"
    );
}

#[test]
fn folders_skip_json_that_holds_no_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), r#"{"name": "app"}"#).unwrap();
    std::fs::create_dir(dir.path().join("node_modules")).unwrap();
    std::fs::write(dir.path().join("node_modules/broken.json"), "{").unwrap();
    std::fs::copy(
        root().join("fixtures/check/policies/default.json"),
        dir.path().join("key.json"),
    )
    .unwrap();
    let (code, out, err) = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 policy in 2 files"), "{out}");
}

/// A `--region` that is not a region name is a usage error naming the flag, before any file
/// is read.
#[test]
fn a_bad_region_is_named() {
    let (code, _, err) = check(&["fixtures/check/policies", "--region", "us east 1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--region: `us east 1` is not an AWS region name"),
        "{err}"
    );
}

/// Standard input over the per-input limit is refused with the limit named, not cut short
/// and then reported as broken JSON.
#[test]
fn oversized_standard_input_is_refused() {
    let mut big = String::from(r#"{"Version":"2012-10-17","Statement":[],"Pad":""#);
    big.push_str(&" ".repeat(64 * 1024 * 1024));
    big.push_str(r#""}"#);
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(["check", "-"])
        .write_stdin(big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-: is over 67108864 bytes, the most check reads from one input"),
        "{err}"
    );
}

/// A given folder in which no key policy is found fails the run (exit 1, the folder named):
/// an empty or mistyped path must not make CI green. `--allow-empty` lets it pass; a named
/// Terraform plan without keys is fine (plans without KMS keys are common).
#[test]
fn a_folder_without_key_policies_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    let other = dir.path().join("other");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("package.json"), r#"{"name":"app"}"#).unwrap();
    let (e, o) = (empty.to_str().unwrap(), other.to_str().unwrap());

    let (code, out, err) = check(&[e]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!("{e}: no key policy found here (0 files read)")),
        "{err}"
    );
    // One empty folder among good paths still fails, naming that folder.
    let (code, _, err) = check(&["fixtures/check/policies", o]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{o}: no key policy found here (1 file read)")),
        "{err}"
    );
    assert!(err.contains("--allow-empty"), "{err}");

    let (code, out, err) = check(&[e, o, "--allow-empty", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policies_checked"], 0);
    assert_eq!(v["files_read"], 1);

    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, r#"{"format_version":"1.2","resource_changes":[]}"#).unwrap();
    let (code, _, err) = check(&[plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

/// `--assume-deleted` (issue 11, item 5): a policy only the listed role could change is an
/// error naming it; another role listed changes nothing; a bad ARN is exit 1.
#[test]
fn assume_deleted_catches_the_last_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-only.json");
    std::fs::write(
        &file,
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
            "Action": "kms:*", "Resource": "*"}]}"#,
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("kmsdoctor")
            .unwrap()
            .arg("check")
            .arg(&file)
            .args(["--output", "json"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (_, out, _) = run(&[
        "--assume-deleted",
        "arn:aws:iam::111122223333:role/KeyAdmin",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kc312: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "KC312")
        .collect();
    assert_eq!(kc312.len(), 1, "{out}");
    assert!(kc312[0]["message"]
        .as_str()
        .unwrap()
        .contains("without arn:aws:iam::111122223333:role/KeyAdmin nobody could change"));
    let (_, out, _) = run(&["--assume-deleted", "arn:aws:iam::111122223333:role/Other"]);
    assert!(!out.contains("KC312"), "{out}");
    let (code, _, err) = run(&["--assume-deleted", "KeyAdmin"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--assume-deleted: `KeyAdmin` is not a user or role ARN"),
        "{err}"
    );
}

/// The SARIF 2.1.0 schema that `scripts/test` fetches, compiled.
pub(crate) fn sarif_validator() -> jsonschema::Validator {
    let schema_path = std::env::var("KMSDOCTOR_SARIF_SCHEMA")
        .expect("KMSDOCTOR_SARIF_SCHEMA is not set: run the tests with `bash scripts/test`, which fetches the SARIF 2.1.0 schema");
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    // The published schema's `language` patterns have a stray `]`
    // (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`), which fails the schema's own check against
    // its meta-schema. Mend those patterns (our output has no `language`); all else as is.
    fn mend(v: &mut serde_json::Value) -> usize {
        const BAD: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
        match v {
            serde_json::Value::Object(m) => {
                let mut n = 0;
                if m.get("pattern").and_then(|p| p.as_str()) == Some(BAD) {
                    m.insert(
                        "pattern".into(),
                        serde_json::json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$"),
                    );
                    n += 1;
                }
                n + m.values_mut().map(mend).sum::<usize>()
            }
            serde_json::Value::Array(a) => a.iter_mut().map(mend).sum(),
            _ => 0,
        }
    }
    assert!(
        mend(&mut schema) >= 1,
        "the schema changed: revisit this mend"
    );
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

pub(crate) fn sarif_errors(
    validator: &jsonschema::Validator,
    sarif: &serde_json::Value,
) -> Vec<String> {
    validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// `scan --output sarif` (issue 11, item 3): each key that is not ok a result under its KS4xx
/// rule, valid SARIF 2.1.0; a key an RCP locks for everyone under KS405 (issue 13).
#[test]
fn scan_sarif_validates_against_the_sarif_schema() {
    use kmsdoctor::analysis::scan::{judge, KeyFacts};
    let now = chrono::Utc::now();
    // An RCP at the account denying kms:PutKeyPolicy to everyone: for the fourth key.
    let frozen = [kmsdoctor::analysis::chain::OrgLevel {
        target: "111122223333".into(),
        policies: vec![kmsdoctor::analysis::policy::parse_document(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Freeze","Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*"}]}"#,
            kmsdoctor::analysis::policy::PolicyKind::ResourceControl,
            "freeze",
        )
        .unwrap()
        .policy],
    }];
    let key_under = |id: &str, policy: Result<&str, &str>, rcps| {
        judge(&KeyFacts {
            arn: &format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
            region: "us-east-1",
            policy,
            properties: None,
            now,
            rcps,
            aliases: None,
        })
    };
    let key = |id: &str, policy: Result<&str, &str>| key_under(id, policy, None);
    let locked = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}]}"#;
    let keys = vec![
        key(
            "1111abcd-12ab-34cd-56ef-1234567890ab",
            Err("AccessDeniedException: no"),
        ),
        key("2222abcd-12ab-34cd-56ef-1234567890ab", Ok(locked)),
        key(
            "3333abcd-12ab-34cd-56ef-1234567890ab",
            Ok(&kmsdoctor::analysis::lockout::default_policy(
                "aws",
                "111122223333",
            )),
        ),
        key_under(
            "4444abcd-12ab-34cd-56ef-1234567890ab",
            Ok(&kmsdoctor::analysis::lockout::default_policy(
                "aws",
                "111122223333",
            )),
            Some(&frozen),
        ),
    ];
    let r = kmsdoctor::report::scan::ScanReport {
        caller: "arn:aws:iam::111122223333:role/Scanner",
        account: "111122223333",
        accounts: &["111122223333".to_string()],
        regions: vec!["us-east-1".into()],
        keys: &keys,
        pending_deletion: &[],
        aws_managed_skipped: 0,
        problems: &[],
        notes: &[],
        calls: 7,
        flags: &kmsdoctor::analysis::shell::RunFlags::default(),
    };
    let mut out = Vec::new();
    kmsdoctor::report::scan::render_sarif(&mut out, &r).unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let errors = sarif_errors(&sarif_validator(), &sarif);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|x| x["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["KS402", "KS403", "KS405"],
        "the ok key is no result; the key an RCP freezes is"
    );
    let text = results[2]["message"]["text"].as_str().unwrap();
    assert!(
        text.contains(
            "the RCP statement freeze:Freeze attached to 111122223333 denies kms:PutKeyPolicy"
        ),
        "{text}"
    );
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "aws/kms/us-east-1/2222abcd-12ab-34cd-56ef-1234567890ab"
    );
}

/// One shape of a finding in every command's JSON (issue 21): the same policy through
/// `why-locked`, `check`, `explain` and a scan's report gives findings whose fields are the
/// documented ones, with `statement` an object (`index`, `sid`, `label`) everywhere.
#[test]
fn a_finding_has_one_json_shape_in_every_command() {
    const FIELDS: &[&str] = &[
        "id",
        "rule",
        "severity",
        "message",
        "fix",
        "cause",
        "statement",
        "event",
        "file",
        "address",
        "line",
        "column",
        "end_line",
        "end_column",
        "pointer",
        "embedded_at",
        "policy",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = root.join("fixtures/scenarios/21-notprincipal-with-account/policy.json");
    let policy = policy.to_str().unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let run = kmsdoctor_json;
    let outputs = [
        run(&[
            "why-locked",
            key,
            "--policy-file",
            policy,
            "--output",
            "json",
        ]),
        run(&[
            "check",
            policy,
            "--account",
            "111122223333",
            "--output",
            "json",
        ]),
        run(&[
            "explain",
            "--policy-file",
            policy,
            "--principal",
            "arn:aws:iam::111122223333:role/Admin",
            "--action",
            "kms:PutKeyPolicy",
            "--output",
            "json",
        ]),
    ];
    let mut with_statement = 0;
    for v in &outputs {
        assert_eq!(v["schema_version"], 2);
        for f in v["findings"].as_array().unwrap() {
            for k in f.as_object().unwrap().keys() {
                assert!(
                    FIELDS.contains(&k.as_str()),
                    "undocumented field {k} in {f}"
                );
            }
            assert!(f["id"].is_string() && f["fix"].is_string(), "{f}");
            if let Some(s) = f.get("statement") {
                assert!(
                    s["index"].is_u64(),
                    "statement is an object with an index: {f}"
                );
                with_statement += 1;
            }
        }
    }
    assert!(
        with_statement >= 2,
        "findings on statements in why-locked and check"
    );
}

/// One judgement (issue 22): `check --account A --region R` and `why-locked --policy-file`
/// give every policy the same verdict: the key policies of the fixtures, and the real-world
/// corpus beside the project (`../shared/realworld/resolved/`, placeholders filled in).
#[test]
fn check_and_why_locked_agree_on_every_policy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["fixtures/policies", "fixtures/check/policies"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for e in std::fs::read_dir(root.join("fixtures/scenarios")).unwrap() {
        let p = e.unwrap().path().join("policy.json");
        if p.exists() {
            files.push(p);
        }
    }
    let fixtures = files.len();
    let realworld = root.join("../shared/realworld/resolved");
    if let Ok(dir) = std::fs::read_dir(&realworld) {
        for e in dir {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let json = kmsdoctor_json;
    let mut disagree = Vec::new();
    for f in &files {
        let p = f.to_str().unwrap();
        let c = json(&[
            "check",
            p,
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
            "--output",
            "json",
        ]);
        let w = json(&[
            "why-locked",
            key,
            "--policy-file",
            p,
            "--now",
            "2026-11-23T00:00:00Z",
            "--output",
            "json",
        ]);
        let checked: Vec<&serde_json::Value> = c["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["verdict"])
            .collect();
        if checked != [&w["verdict"]] {
            disagree.push(format!(
                "{p}: check {checked:?}, why-locked {}",
                w["verdict"]
            ));
        }
    }
    assert!(
        files.len() > fixtures,
        "the real-world corpus is beside the project"
    );
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}

/// Every file on its own (issue 22): in a folder, a file that cannot be read is reported
/// with its place and the others are still checked (exit 1, the worst); policies of other
/// kinds (identity policies, SCPs, trust policies) are skipped and counted, not judged as
/// key policies; a file named on its own that is not a key policy is an error saying what
/// it is.
#[test]
fn each_file_on_its_own_and_only_key_policies_judged() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("fixtures/check/policies/admin-only.json"),
        dir.path().join("a-key.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b-broken.json"),
        "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",}\n  ]\n}\n",
    )
    .unwrap();
    std::fs::copy(
        root.join("fixtures/chain/iam-kms-admin.json"),
        dir.path().join("c-identity.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d-trust.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("kmsdoctor")
            .unwrap()
            .arg("check")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let d = dir.path().to_str().unwrap();
    let (code, table, err) = run(&[d, "--account", "111122223333"]);
    assert_eq!(code, Some(1), "{table}{err}");
    assert!(
        err.contains("b-broken.json:3:"),
        "the place of the error: {err}"
    );
    assert!(
        table.contains("KC301") && table.contains("a-key.json"),
        "the key policy is still checked: {table}"
    );
    assert!(
        !table.contains("KD106"),
        "an identity policy is not judged as a key policy: {table}"
    );
    assert!(
        table.contains("Skipped 2 files that are not key policies"),
        "{table}"
    );
    let (code, json, _) = run(&[d, "--account", "111122223333", "--output", "json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["errors"][0]["line"], 3, "{json}");
    assert_eq!(v["skipped"]["identity_policy"], 1);
    assert_eq!(v["skipped"]["trust_policy"], 1);
    let (code, sarif, _) = run(&[d, "--account", "111122223333", "--output", "sarif"]);
    assert_eq!(code, Some(1));
    let s: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let errors = sarif_errors(&sarif_validator(), &s);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(
        s["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["level"],
        "error"
    );
    // Named on its own, an identity policy is an error that says what it is.
    let (code, _, err) = run(&[&format!("{d}/c-identity.json")]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("IAM identity policy") && err.contains("not a key policy"),
        "{err}"
    );
}

/// Exit codes hold on a closed pipe (issue 22): `kmsdoctor ... | head` must not turn a
/// failing check or an unrecoverable key into success under `pipefail`, nor an ok run into
/// a failure. The reader here closes its end before reading anything.
#[test]
fn exit_codes_hold_when_the_reader_goes_away() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // Enough output to fill a pipe's buffer many times over.
    for i in 0..400 {
        std::fs::copy(
            root.join("fixtures/check/policies/admin-only.json"),
            dir.path().join(format!("p{i:03}.json")),
        )
        .unwrap();
    }
    let ok_dir = tempfile::tempdir().unwrap();
    for i in 0..400 {
        std::fs::copy(
            root.join("fixtures/check/policies/default.json"),
            ok_dir.path().join(format!("p{i:03}.json")),
        )
        .unwrap();
    }
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let deny = root.join("fixtures/scenarios/08-deny-everyone/policy.json");
    let bin = assert_cmd::cargo::cargo_bin("kmsdoctor");
    let cases: Vec<(Vec<String>, i32)> = vec![
        (
            vec![
                "check".into(),
                dir.path().display().to_string(),
                "--account".into(),
                "111122223333".into(),
            ],
            3,
        ),
        (
            vec![
                "check".into(),
                dir.path().display().to_string(),
                "--account".into(),
                "111122223333".into(),
                "--output".into(),
                "json".into(),
            ],
            3,
        ),
        (
            vec![
                "check".into(),
                ok_dir.path().display().to_string(),
                "--output".into(),
                "sarif".into(),
            ],
            0,
        ),
        (
            vec![
                "why-locked".into(),
                key.into(),
                "--policy-file".into(),
                deny.display().to_string(),
            ],
            4,
        ),
    ];
    // `history` reports, whatever the verdicts: 0, in both formats.
    let events = root.join("fixtures/scenarios/114-lockout-then-deletion-with-a-live-grant/events");
    let mut cases = cases;
    for format in ["table", "json"] {
        cases.push((
            vec![
                "history".into(),
                key.into(),
                "--events-file".into(),
                events.display().to_string(),
                "--output".into(),
                format.into(),
            ],
            0,
        ));
    }
    for (args, want) in cases {
        let mut child = Command::new(&bin)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(want), "{args:?}");
    }
}

/// The real-world corpus beside the project (issue 22's acceptance): `check` over the whole
/// folder reads every file and reports each on its own: a policy, a file of another kind,
/// or a file it cannot read (there is one: a scanner's fixture with a trailing comma).
#[test]
fn check_reads_every_real_world_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld/policies");
    let n = std::fs::read_dir(&dir)
        .expect("../shared/realworld/policies")
        .count();
    let out = assert_cmd::Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(["check", dir.to_str().unwrap(), "--output", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files_read"], n);
    let mut files: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    files.sort();
    files.dedup();
    let errors = v["errors"].as_array().unwrap();
    let skipped: u64 = v["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(files.len() + errors.len() + skipped as usize, n, "{v}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unreadable file is the worst of all"
    );
    assert!(
        errors.iter().all(|e| e["line"].is_u64()),
        "each error has its place: {errors:?}"
    );
}

/// SARIF that code scanning accepts (issue 22): Microsoft's SARIF multitool, with its SARIF
/// and GitHub rule sets, finds no error and no warning but one: the tool has no published
/// `informationUri` yet (SARIF2005). `scripts/test` installs the multitool from the npm
/// registry and names it in KMSDOCTOR_SARIF_MULTITOOL.
#[test]
fn sarif_passes_the_sarif_multitool_with_github_rules() {
    let tool = std::env::var("KMSDOCTOR_SARIF_MULTITOOL")
        .expect("KMSDOCTOR_SARIF_MULTITOOL is not set: run the tests with `bash scripts/test`");
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases: [(&str, Vec<&str>); 2] = [
        (
            "check",
            vec!["check", "fixtures/check", "--output", "sarif"],
        ),
        (
            "account",
            vec![
                "check",
                "fixtures/check",
                "--output",
                "sarif",
                "--account",
                "111122223333",
            ],
        ),
    ];
    for (name, args) in cases {
        let out = assert_cmd::Command::cargo_bin("kmsdoctor")
            .unwrap()
            .args(&args)
            .current_dir(root)
            .output()
            .unwrap();
        let sarif = dir.path().join(format!("{name}.sarif"));
        std::fs::write(&sarif, &out.stdout).unwrap();
        let report = dir.path().join(format!("{name}.validation.sarif"));
        let v = std::process::Command::new(&tool)
            .args(["validate", "--rule-kind", "Sarif;Gh", "-o"])
            .arg(&report)
            .arg(&sarif)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&v.stdout);
        let problems: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(": error ") || l.contains(": warning "))
            .filter(|l| !l.contains("SARIF2005"))
            .collect();
        assert!(problems.is_empty(), "{name}: {}", problems.join("\n"));
        assert!(text.contains("Analysis completed successfully"), "{text}");
    }
}

/// Issue 24, item 10: one size limit for a policy file, in the same words, in `check` and
/// `why-locked` (a key policy is at most 32 KB; a file over 1 MiB is not one).
#[test]
fn one_size_limit_for_a_policy_file_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let mut text = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    let statement = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;
    while text.len() < 1_100_000 {
        text.push_str(statement);
        text.push(',');
    }
    text.push_str(statement);
    text.push_str("]}");
    std::fs::write(&big, &text).unwrap();
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("kmsdoctor")
            .unwrap()
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let path = big.to_str().unwrap();
    let (code, check) = run(&["check", path]);
    assert_eq!(code, Some(1), "{check}");
    let (code, why) = run(&[
        "why-locked",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "--policy-file",
        path,
    ]);
    assert_eq!(code, Some(1), "{why}");
    let words = "a policy file is at most 1048576 bytes (a key policy is at most 32 KB)";
    assert!(check.contains(words), "{check}");
    assert!(why.contains(words), "{why}");
}
