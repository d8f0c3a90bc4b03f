//! `kmsdoctor why-locked` at the command line: bad evidence, warnings, exit codes and the
//! repaired policy.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scenarios")
        .join(name)
}

fn why_locked(args: &[&str]) -> (i32, String, String) {
    why_locked_in(Path::new("."), args)
}

/// `why_locked` run from `dir`, so that a relative path in the output does not depend on
/// where the checkout lives (a longer folder name wraps the table's evidence line).
fn why_locked_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .current_dir(dir)
        .arg("why-locked")
        .args(args)
        .args(["--now", "2026-11-23T00:00:00Z"])
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Any kmsdoctor command: exit code, stdout, stderr.
fn kmsdoctor(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p.display().to_string()
}

#[test]
fn malformed_evidence_files_exit_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.json", vec![], "empty.json: the file is empty"),
        (
            "array.json",
            b"[1,2,3]".to_vec(),
            "array.json:1:1: expected CloudTrail evidence",
        ),
        (
            "records-not-array.json",
            br#"{"Records": {"a": 1}}"#.to_vec(),
            "records-not-array.json:1:12: `Records` and `Events` must be arrays",
        ),
        (
            "not-cloudtrail.json",
            br#"{"Policy": "x"}"#.to_vec(),
            "not-cloudtrail.json:1:1: this is a policy document (it has `Statement` or `Policy`), not CloudTrail evidence: give a key policy with --policy-file",
        ),
        (
            "truncated.json",
            br#"{"Records": [{"eventName": "PutKeyPolicy""#.to_vec(),
            "truncated.json:1:41: invalid JSON: EOF while parsing an object",
        ),
        (
            "bad.json.gz",
            vec![0x1f, 0x8b, 8, 0, 0, 0],
            "bad.json.gz: is not a readable gzip file",
        ),
        (
            "latin1.json",
            b"{\"Records\": [\"caf\xe9\"]}".to_vec(),
            "latin1.json:1:18: is not UTF-8 text",
        ),
        (
            "lines.jsonl",
            b"not json at all\n{}\n".to_vec(),
            "lines.jsonl:1:1: expected CloudTrail evidence",
        ),
    ];
    for (name, content, expected) in cases {
        let path = write(dir.path(), name, &content);
        let (code, out, err) = why_locked(&[KEY, "--events-file", &path, "--output", "json"]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(out.is_empty(), "{name}: stdout must stay empty");
        let err = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(
            err.starts_with(&format!("kmsdoctor: error: {expected}")),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_bad_file_inside_a_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/good.json", br#"{"Records": []}"#);
    write(dir.path(), "a/b/bad.json", b"{oops");
    let (code, _, err) = why_locked(&[KEY, "--events-file", &dir.path().display().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("a/b/bad.json:1:2: invalid JSON"), "{err}");
}

#[test]
fn unreadable_records_are_skipped_with_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(scenario("03-delegation-removed/events/history.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let mut lines: Vec<String> = v["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    lines.insert(1, "{\"eventSource\": \"kms.amazonaws.com\", \"eventName\": \"PutKeyPolicy\", \"eventTime\": \"not a time\"}".into());
    lines.insert(1, "{truncated".into());
    let path = write(dir.path(), "records.jsonl", lines.join("\n").as_bytes());
    let (code, out, err) = why_locked(&[KEY, "--events-file", &path, "--output", "json"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("warning: skipped 2 unreadable CloudTrail records"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["evidence"]["unreadable_records"], 2);
    assert_eq!(v["lockout_event"]["event_id"], "ev-put-1");
}

#[test]
fn bad_key_and_flags_exit_1_and_usage_exits_2() {
    let (code, _, err) = why_locked(&["not-a-key"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("KEY: `not-a-key` is neither a key id"),
        "{err}"
    );
    // From files, an alias cannot be resolved (live mode resolves it: see live_moto.rs).
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "t.json", br#"{"Records": []}"#);
    let (code, _, err) = why_locked(&["alias/prod", "--events-file", &empty]);
    assert_eq!(code, 1);
    assert!(err.contains("is an alias: resolving it needs AWS"), "{err}");
    let (code, _, err) = why_locked(&[KEY, "--account", "444455556666"]);
    assert_eq!(code, 1);
    assert!(err.contains("--account: `444455556666` differs"), "{err}");
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(["why-locked", KEY, "--now", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--now: `yesterday` is not an ISO 8601 time")
    );
    Command::cargo_bin("kmsdoctor")
        .unwrap()
        .arg("why-locked")
        .assert()
        .code(2);
}

#[test]
fn a_key_id_takes_the_account_from_a_policy_that_names_one() {
    // The default policy names only 111122223333: that is the key's account, said on stderr
    // and in evidence.problems.
    let policy = scenario("01-default-policy/policy.json");
    let (code, out, err) = why_locked(&[
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "--policy-file",
        policy.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the key's account 111122223333 is taken from the policy"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["key"]["account"], "111122223333");
    assert!(v["evidence"]["problems"][0]
        .as_str()
        .unwrap()
        .contains("taken from the policy"));
}

#[test]
fn a_key_id_with_a_policy_naming_two_accounts_needs_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "two.json",
        br#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/Reader"}, "Action": "kms:Decrypt", "Resource": "*"}
        ]}"#,
    );
    let (code, _, err) = why_locked(&[
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "--policy-file",
        &policy,
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "the policy names several (111122223333, 444455556666): give the key ARN or --account"
        ),
        "{err}"
    );
    let (code, _, err) = why_locked(&[
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "--policy-file",
        &policy,
        "--account",
        "111122223333",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("taken from the policy"), "{err}");
}

#[test]
fn no_evidence_for_the_key_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty-trail.json", br#"{"Records": []}"#);
    let (code, out, _) = why_locked(&[KEY, "--events-file", &empty, "--output", "json"]);
    assert_eq!(code, 5);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "unknown");
    assert!(v["lockout_event"].is_null());
    assert!(v["recovery_plan"][0]["command"]
        .as_str()
        .unwrap()
        .contains("get-key-policy"));
}

#[test]
fn write_repaired_writes_an_ok_policy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("repaired.json");
    let events = scenario("03-delegation-removed/events");
    let (code, out, err) = why_locked(&[
        KEY,
        "--events-file",
        events.to_str().unwrap(),
        "--write-repaired",
        out_path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 3, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["repaired_policy"]["path"], out_path.display().to_string());
    assert!(v["repaired_policy"]["changes"][0]
        .as_str()
        .unwrap()
        .contains("Enable IAM User Permissions"));
    let written = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        written.contains("Allow access for Key Administrators"),
        "the rest of the policy is kept"
    );

    // The repaired policy itself gets the verdict ok.
    let (code, _, err) = why_locked(&[KEY, "--policy-file", out_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    // A second run refuses to overwrite it, and leaves it as it was.
    let (code, _, err) = why_locked(&[
        KEY,
        "--events-file",
        events.to_str().unwrap(),
        "--write-repaired",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("exists; kmsdoctor does not overwrite files"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), written);

    // Nor may it name the input.
    let input = write(
        dir.path(),
        "input.json",
        std::fs::read(scenario("10-deleted-admins/policy.json"))
            .unwrap()
            .as_slice(),
    );
    let before = std::fs::read(&input).unwrap();
    let (code, _, err) = why_locked(&[KEY, "--policy-file", &input, "--write-repaired", &input]);
    assert_eq!(code, 1);
    assert!(err.contains("would overwrite the --policy-file"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn repaired_policy_drops_deleted_principals() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("fixed.json");
    let policy = scenario("10-deleted-admins/policy.json");
    let (code, out, err) = why_locked(&[
        KEY,
        "--policy-file",
        policy.to_str().unwrap(),
        "--write-repaired",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(out.contains("removed statement KeyAdmins"), "{out}");
    let written = std::fs::read_to_string(&out_path).unwrap();
    assert!(!written.contains("AROA") && !written.contains("AIDA"));
    let (code, _, _) = why_locked(&[KEY, "--policy-file", out_path.to_str().unwrap()]);
    assert_eq!(code, 0);
}

#[test]
fn write_repaired_without_a_policy_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let empty = write(dir.path(), "empty-trail.json", br#"{"Records": []}"#);
    let (code, _, err) = why_locked(&[
        KEY,
        "--events-file",
        &empty,
        "--write-repaired",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no key policy to repair"), "{err}");
    assert!(!out_path.exists());
}

/// `collect --out` names its own flag when the file exists, and says so before any AWS call
/// (no credentials or region are needed to get this error).
#[test]
fn collect_to_an_existing_file_names_its_own_flag_before_calling_aws() {
    let dir = tempfile::tempdir().unwrap();
    let existing = write(dir.path(), "bundle.json", b"keep me");
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(["collect", KEY, "--out", &existing])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--out: "), "{err}");
    assert!(
        err.contains("exists; kmsdoctor does not overwrite files"),
        "{err}"
    );
    assert!(!err.contains("--write-repaired"), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
}

/// A file given as the key policy that is not one (a `{}`, CloudTrail output, a bundle, a
/// Terraform plan, a template) is exit 1 saying what it is and where it belongs, never a
/// policy without statements and a false "unrecoverable" (issue 15).
#[test]
fn a_policy_file_that_is_not_a_policy_is_an_error_saying_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 8] = [
        ("empty-object.json", "{}", "1:1: is not a key policy: it has neither `Statement`"),
        ("lookup.json", r#"{"Events":[]}"#, "is CloudTrail lookup-events output: pass it with --events-file"),
        ("trail.json", r#"{"Records":[]}"#, "is a CloudTrail log file: pass it with --events-file"),
        ("bundle.json", r#"{"kind":"kmsdoctor-evidence-bundle","schema_version":1}"#, "is a kmsdoctor evidence bundle: pass it with --from"),
        ("plan.json", r#"{"format_version":"1.2","resource_changes":[]}"#, "is a Terraform plan: check it with `kmsdoctor check`"),
        ("template.json", r#"{"AWSTemplateFormatVersion":"2010-09-09","Resources":{}}"#, "is a CloudFormation template: check it with `kmsdoctor check`"),
        ("template.yaml", "Resources:\n  Key:\n    Type: AWS::KMS::Key\n", "is not JSON: a key policy is a JSON document (YAML templates are read by `kmsdoctor check`)"),
        ("array.json", "[1, 2]", "1:1: expected a policy document (a JSON object), found an array"),
    ];
    for (name, content, expected) in cases {
        let p = write(dir.path(), name, content.as_bytes());
        let (code, out, err) = why_locked(&[KEY, "--policy-file", &p]);
        assert_eq!(code, 1, "{name}: {out}{err}");
        assert!(out.is_empty(), "{name}: no verdict is printed: {out}");
        assert!(
            err.contains(&format!("{p}:")) && err.contains(expected),
            "{name}: {err}"
        );

        // explain reads its key policy the same way.
        let out = Command::cargo_bin("kmsdoctor")
            .unwrap()
            .args(["explain", "--policy-file", &p, "--principal"])
            .args([
                "arn:aws:iam::111122223333:root",
                "--action",
                "kms:PutKeyPolicy",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "explain {name}: {err}");
        assert!(err.contains(expected), "explain {name}: {err}");
    }
    // get-key-policy output is still a key policy.
    let inner = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let wrapped = serde_json::json!({"Policy": inner, "PolicyName": "default"}).to_string();
    let p = write(dir.path(), "get-key-policy.json", wrapped.as_bytes());
    let (code, _, err) = why_locked(&[KEY, "--policy-file", &p]);
    assert_eq!(code, 0, "{err}");
}

/// The parser's findings take the same severity column as the diagnosis's (not the rule's
/// name), and show even when the diagnosis has none.
#[test]
fn parser_findings_show_their_severity_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "empty-statements.json",
        br#"{"Version":"2012-10-17","Statement":[]}"#,
    );
    let (code, out, err) = why_locked(&[KEY, "--policy-file", &p]);
    assert_eq!(code, 4, "{err}");
    assert!(
        out.contains("\n  error KD114 `Statement` is empty (at /Statement)\n"),
        "{out}"
    );
    // On an ok key too, next to the diagnosis's own findings.
    let p = write(
        dir.path(),
        "deleted.json",
        br#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Old","Effect":"Allow","Principal":{"AWS":"AIDAEXAMPLEUNIQUEID12"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
    );
    let (code, out, err) = why_locked(&[KEY, "--policy-file", &p]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\n  error KD113 `AIDAEXAMPLEUNIQUEID12` is the unique id"),
        "{out}"
    );
    assert!(!out.contains("deleted-principal KD113"), "{out}");
}

/// The evidence line counts in words that agree with their numbers ("1 record").
#[test]
fn the_evidence_line_agrees_in_number() {
    let dir = tempfile::tempdir().unwrap();
    let record = format!(
        r#"{{"Records":[{{"eventVersion":"1.08","eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-11-01T00:00:00Z","eventID":"e1","awsRegion":"us-east-1","recipientAccountId":"111122223333","requestParameters":{{"keyId":"{KEY}"}}}}]}}"#
    );
    let events = write(dir.path(), "one.json", record.as_bytes());
    let policy = scenario("01-default-policy/policy.json");
    let (code, out, err) = why_locked(&[
        KEY,
        "--events-file",
        &events,
        "--policy-file",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let evidence = out
        .split("Evidence:")
        .nth(1)
        .unwrap_or_default()
        .replace("\n  ", " ");
    assert!(
        evidence.contains("1 event file, 1 record, 0 policy events for this key"),
        "{out}"
    );
}

/// "gets in if:" lists what the account's principals need besides an IAM policy; when they
/// need nothing more (the default policy) there is no heading without items.
#[test]
fn the_gets_in_if_heading_always_has_items() {
    let (code, out, _) = why_locked(&[
        KEY,
        "--policy-file",
        scenario("01-default-policy/policy.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(!out.contains("gets in if:"), "{out}");
    let mut listed = 0;
    for name in std::fs::read_dir(scenario("")).unwrap() {
        let dir = name.unwrap().path();
        let policy = dir.join("policy.json");
        if !policy.exists() {
            continue;
        }
        let (_, out, _) = why_locked(&[KEY, "--policy-file", policy.to_str().unwrap()]);
        if let Some(rest) = out.split("gets in if:\n").nth(1) {
            assert!(rest.starts_with("  1. "), "{}:\n{out}", dir.display());
            listed += 1;
        }
    }
    // Conditioned delegations (MFA, tags, principal ARNs) do list their requirements.
    assert!(listed >= 3, "{listed}");
}

/// The table a person reads in an incident, whole: severity column, the acting session, the
/// plan's commands, the history; and for an ok key, no empty heading.
#[test]
fn why_locked_tables() {
    // Relative paths from the scenarios folder: the table wraps a long path, and the
    // checkout's folder differs from one machine to the next.
    let root = scenario("");
    let events = "03-delegation-removed/events";
    let (code, out, err) = why_locked_in(&root, &[KEY, "--events-file", events]);
    assert_eq!(code, 3, "{err}");
    let out = out.replace(events, "EVENTS");
    // Commands stay on one line, to be copied whole.
    assert!(
        out.lines()
            .all(|l| l.trim_start().starts_with("$ ") || crate::fits_80_columns(l)),
        "{out}"
    );
    snapshot!("why_locked__table_recoverable", out);

    let policy = "01-default-policy/policy.json";
    let (code, out, err) = why_locked_in(&root, &[KEY, "--policy-file", policy]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("gets in if:\n\n"), "{out}");
    let out = out.replace(policy, "POLICY");
    snapshot!("why_locked__table_ok", out);
}

/// Flags as a new user meets them (issue 15, item 7): `--from` needs no KEY (the bundle
/// names it); `--since` is checked wherever it is given, and with files it is an error, as
/// it would bound nothing; `collect` writes with `--out`, and `--output` (the format
/// everywhere else) is not taken for a file name.
#[test]
fn flags_that_used_to_mislead() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("missing-bundle.json");
    let (code, _, err) = why_locked(&["--from", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        !err.contains("required") && err.contains("missing-bundle.json"),
        "KEY is not asked for: {err}"
    );
    let (code, _, err) = why_locked(&[]);
    assert_eq!(code, 2, "no KEY and no --from is a usage error: {err}");

    let events = scenario("03-delegation-removed/events");
    for since in ["200", "30"] {
        let (code, _, err) = why_locked(&[
            KEY,
            "--events-file",
            events.to_str().unwrap(),
            "--since",
            since,
        ]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("--since: it bounds the CloudTrail lookups kmsdoctor makes in AWS"),
            "{err}"
        );
    }
    // Live, past 90 days needs the archive; a date too; --history with files is refused.
    let (code, _, err) = why_locked(&["alias/x", "--since", "200", "--region", "us-east-1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--since: CloudTrail event history keeps 90 days")
            && err.contains("--history s3"),
        "{err}"
    );
    let (code, _, err) = why_locked(&["alias/x", "--since", "2025-01-31", "--region", "us-east-1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("give it with --history s3"), "{err}");
    let (code, _, err) = why_locked(&[
        KEY,
        "--events-file",
        events.to_str().unwrap(),
        "--history",
        "s3",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--history: "), "{err}");
    let (code, _, err) = why_locked(&["alias/x", "--since", "abc", "--region", "us-east-1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--since: `abc` is not a number of days"),
        "{err}"
    );

    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(["collect", KEY, "--output", "bundle.json"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out"), "clap suggests --out: {err}");
    assert!(!dir.path().join("bundle.json").exists());
}

/// The README's sample table is what the README's first command prints, byte for byte.
#[test]
fn the_readme_sample_is_the_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let first = readme
        .lines()
        .find(|l| l.starts_with("cargo install --locked --path . && kmsdoctor why-locked "))
        .expect("the first set-up command");
    let args: Vec<&str> = first
        .split("&& kmsdoctor ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(&args)
        .current_dir(root)
        .env_remove("NO_COLOR")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let printed = String::from_utf8_lossy(&out.stdout);
    let section = &readme[readme.find("## Locked out now?").unwrap()..];
    let start = section.find("```text\n").unwrap() + "```text\n".len();
    let sample = &section[start..start + section[start..].find("```").unwrap()];
    assert_eq!(
        sample, printed,
        "the README's sample under \"Locked out now?\" must be this output:\n{printed}"
    );
}

/// Issue 13: with `--caller` and the layers of the request chain, an ok key policy still
/// says which layer denies the person asking, and the plan says who can change it.
#[test]
fn the_caller_through_the_request_chain() {
    let root = scenario("");
    let chain = |f: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/chain")
            .join(format!("{f}.json"))
            .display()
            .to_string()
    };
    let session = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
    let policy = "01-default-policy/policy.json";
    let run = |extra: &[&str]| {
        let mut args = vec![KEY, "--policy-file", policy, "--output", "json"];
        args.extend_from_slice(extra);
        why_locked_in(&root, &args)
    };
    let admin = chain("iam-kms-admin");
    let scp_full = format!("r-ab12={}", chain("FullAWSAccess"));
    let scp_deny = format!("r-ab12={}", chain("scp-deny-kms-admin"));
    let (code, out, err) = run(&[
        "--caller",
        session,
        "--identity-policy",
        &admin,
        "--scp",
        &scp_full,
        "--scp",
        &scp_deny,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "ok", "{v}");
    assert_eq!(v["caller"]["denied_by"], "scp", "{v}");
    assert_eq!(v["caller"]["denied_at"], "r-ab12", "{v}");
    assert_eq!(v["caller"]["can_put_key_policy"], false, "{v}");
    assert_eq!(v["caller"]["can_get_key_policy"], true, "{v}");
    assert!(
        v["recovery_plan"][0]["command"].as_str().unwrap().contains(
            "list-policies-for-target --target-id r-ab12 --filter SERVICE_CONTROL_POLICY"
        ),
        "{v}"
    );

    // Everything allows: nothing denies.
    let (_, out, err) = run(&[
        "--caller",
        session,
        "--identity-policy",
        &admin,
        "--no-boundary",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(v["caller"]["denied_by"].is_null(), "{v}");
    assert_eq!(v["caller"]["can_put_key_policy"], true, "{v}");

    // Identity policies without KMS: the identity layer, not the key policy.
    let (_, out, _) = run(&[
        "--caller",
        session,
        "--identity-policy",
        &chain("iam-s3-only"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["caller"]["denied_by"], "identity", "{v}");

    // A boundary without kms:PutKeyPolicy, in the table.
    let (code, out, err) = why_locked_in(
        &root,
        &[
            KEY,
            "--policy-file",
            policy,
            "--caller",
            session,
            "--identity-policy",
            &admin,
            "--boundary",
            &chain("boundary-crypto-only"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("You: arn:aws:sts::111122223333:assumed-role/Admin/alice"),
        "{out}"
    );
    assert!(out.contains("denied by the permissions boundary"), "{out}");
    // Each layer on a line of its own, the denying one marked.
    assert!(
        out.contains("Your request chain (kms:PutKeyPolicy):"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("  > permissions boundary: implicit_deny")),
        "{out}"
    );
    assert!(out.contains("    identity policies: allowed"), "{out}");

    // The layers are a caller's: without --caller they are refused, naming the flag.
    let (code, _, err) = run(&["--identity-policy", &admin]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--caller"), "{err}");
    let (code, _, err) = run(&["--caller", "not-a-principal"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--caller"), "{err}");
}

/// `--history` and the Athena flags are checked before any AWS call (issue 10): Athena
/// flags only with `--history athena`; names that go into the query must be names; sizes
/// must be sizes; `scan` and `fix` refuse what they do not do.
#[test]
fn history_flags_are_checked_before_any_call() {
    let live = ["alias/x", "--region", "us-east-1"];
    let cases: [(&[&str], &str); 12] = [
        (
            &["--archive-role-arn", "arn:aws:iam::111122223333:role/R"],
            "--archive-role-arn: it is for --history s3 or athena only",
        ),
        (
            &[
                "--history",
                "s3",
                "--archive-role-arn",
                "arn:aws:iam::111122223333:user/U",
            ],
            "--archive-role-arn: `arn:aws:iam::111122223333:user/U` is not a role ARN",
        ),
        (
            &["--history", "s3", "--archive-external-id", "abc"],
            "--archive-external-id: it goes with --archive-role-arn",
        ),
        (
            &[
                "--history",
                "s3",
                "--archive-role-arn",
                "arn:aws:iam::111122223333:role/R",
                "--archive-external-id",
                "a b",
            ],
            "--archive-external-id: an external id is 2 to 1224",
        ),
        (
            &["--history", "athena", "--archive-profile", "log archive"],
            "--archive-profile: a profile name has no spaces",
        ),
        (
            &["--archive-profile", "logs"],
            "--archive-profile: it is for --history s3 or athena only",
        ),
        (
            &["--athena-table", "t"],
            "--athena-table: it is for --history athena only",
        ),
        (
            &["--history", "s3", "--max-scan", "1GB"],
            "--max-scan: it is for --history athena only",
        ),
        (
            &["--history", "athena", "--athena-table", "t; DROP"],
            "--athena-table: `t; DROP` is not a table name",
        ),
        (
            &["--history", "athena", "--athena-database", "a.b"],
            "--athena-database: `a.b` is not a database name",
        ),
        (
            &["--history", "athena", "--max-scan", "5 GiB"],
            "--max-scan: `GIB` is not a size unit",
        ),
        (
            &["--history", "athena", "--athena-output-location", "/tmp/x"],
            "--athena-output-location: `/tmp/x` is not an s3:// URI",
        ),
    ];
    for (extra, want) in cases {
        let mut args: Vec<&str> = live.to_vec();
        args.extend_from_slice(extra);
        let (code, _, err) = why_locked(&args);
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // With evidence files, or for scan, there is no archive to read.
    let (code, _, err) = why_locked(&[
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "--policy-file",
        "fixtures/policies/default.json",
        "--archive-profile",
        "logs",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--archive-profile: it chooses whose credentials"),
        "{err}"
    );
    let (code, _, err) = kmsdoctor(&[
        "scan",
        "--archive-role-arn",
        "arn:aws:iam::111122223333:role/R",
        "--region",
        "us-east-1",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--archive-role-arn: scan reads each key's current policy"),
        "{err}"
    );
    let (code, _, err) = kmsdoctor(&["scan", "--history", "s3", "--region", "us-east-1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--history: scan reads each key's current policy"),
        "{err}"
    );
    let (code, _, err) = kmsdoctor(&["fix", KEY, "--history", "athena"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fix does not start Athena queries"), "{err}");
}

/// `athena-ddl` prints the table `--history athena` queries, with the trail's layout, and
/// refuses values that are not what they claim (they would land in the DDL).
#[test]
fn athena_ddl_prints_the_table_for_the_trail_layout() {
    let run = |args: &[&str]| kmsdoctor(&[&["athena-ddl"], args].concat());
    let (code, out, err) = run(&[
        "--bucket",
        "trail-logs",
        "--prefix",
        "org",
        "--org-id",
        "o-abcd123456",
        "--start",
        "2024-01-01",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("CREATE EXTERNAL TABLE cloudtrail_logs ("),
        "{out}"
    );
    assert!(
        out.contains("LOCATION 's3://trail-logs/org/AWSLogs/o-abcd123456/'"),
        "{out}"
    );
    assert!(out.contains("PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)"));
    assert!(
        out.contains("'projection.timestamp.range' = '2024/01/01,NOW'"),
        "{out}"
    );
    for (args, flag) in [
        (&["--bucket", "Trail Logs"][..], "--bucket"),
        (&["--bucket", "b-1", "--prefix", "x'; --"][..], "--prefix"),
        (&["--bucket", "b-1", "--org-id", "o-1"][..], "--org-id"),
        (&["--bucket", "b-1", "--table", "t-1"][..], "--table"),
        (&["--bucket", "b-1", "--start", "yesterday"][..], "--start"),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(&format!("{flag}: ")), "{args:?}: {err}");
    }
}

/// Issue 24, item 3: how to become the administrator, from what is known of it. A policy that
/// names one administrator and no IAM delegation.
fn admin_only_policy(dir: &Path, admin: &str) -> String {
    let p = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": admin},
                       "Action": "kms:*", "Resource": "*"}]
    });
    write(dir, "policy.json", p.to_string().as_bytes())
}

fn plan(out: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["recovery_plan"].as_array().unwrap().clone()
}

#[test]
fn a_caller_that_is_the_admin_is_not_told_to_assume_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let p = admin_only_policy(dir.path(), "arn:aws:iam::111122223333:role/ops/KeyAdmin");
    let (code, out, err) = why_locked(&[
        KEY,
        "--policy-file",
        &p,
        "--caller",
        "arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice",
        "--output",
        "json",
    ]);
    assert_eq!(code, 3, "{err}");
    let steps = plan(&out);
    assert!(
        steps[0]["text"]
            .as_str()
            .unwrap()
            .contains("are arn:aws:iam::111122223333:role/ops/KeyAdmin already"),
        "{:#?}",
        steps[0]
    );
    assert!(steps[0]["command"].is_null());
    assert!(steps
        .iter()
        .all(|s| !s["command"].as_str().unwrap_or("").contains("assume-role")));
    // Another caller is told how to become it.
    let (_, out, _) = why_locked(&[
        KEY,
        "--policy-file",
        &p,
        "--caller",
        "arn:aws:sts::111122223333:assumed-role/Dev/bob",
        "--output",
        "json",
    ]);
    assert!(plan(&out)[0]["command"]
        .as_str()
        .unwrap()
        .starts_with("creds=$(aws sts assume-role"));
}

#[test]
fn an_identity_center_role_is_reached_through_its_permission_set() {
    let dir = tempfile::tempdir().unwrap();
    let role = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_KeyAdmins_0123456789abcdef";
    let p = admin_only_policy(dir.path(), role);
    let (code, out, err) = why_locked(&[
        KEY,
        "--policy-file",
        &p,
        "--profile",
        "ops",
        "--output",
        "json",
    ]);
    assert_eq!(code, 3, "{err}");
    let steps = plan(&out);
    let text = steps[0]["text"].as_str().unwrap();
    assert!(text.contains("permission set KeyAdmins"), "{text}");
    assert!(
        steps[0]["command"]
            .as_str()
            .unwrap()
            .starts_with("aws configure sso"),
        "{:#?}",
        steps[0]
    );
    assert!(steps[1]["command"]
        .as_str()
        .unwrap()
        .starts_with("aws sso login"));
    let cmds: Vec<&str> = steps.iter().filter_map(|s| s["command"].as_str()).collect();
    assert!(cmds.iter().all(|c| !c.contains("assume-role")), "{cmds:#?}");
    // Every later command runs with the Identity Center profile, not the run's.
    for c in &cmds {
        assert!(c.contains("--profile kmsdoctor-recovery"), "{c}");
        assert!(!c.contains("--profile ops"), "{c}");
    }
}

#[test]
fn an_iam_user_signs_in_and_is_not_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let p = admin_only_policy(dir.path(), "arn:aws:iam::111122223333:user/breakglass");
    let (code, out, err) = why_locked(&[KEY, "--policy-file", &p, "--output", "json"]);
    assert_eq!(code, 3, "{err}");
    let steps = plan(&out);
    assert!(steps[0]["text"]
        .as_str()
        .unwrap()
        .contains("Sign in as the IAM user"));
    assert!(steps[0]["command"]
        .as_str()
        .unwrap()
        .starts_with("aws sts get-caller-identity"));
}

/// Issue 24, item 2: a step keeps its number whether or not `--write-repaired` was given,
/// and applying by hand is an alternative of the guarded fix, not a step after it.
#[test]
fn steps_keep_their_numbers_and_alternatives_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let events = scenario("03-delegation-removed/events");
    let run = |extra: &[&str]| {
        let mut args = vec![
            KEY,
            "--events-file",
            events.to_str().unwrap(),
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = why_locked_in(dir.path(), &args);
        assert_eq!(code, 3, "{err}");
        plan(&out)
    };
    let before = run(&[]);
    let after = run(&["--write-repaired", "repaired-policy.json"]);
    assert_eq!(before.len(), after.len());
    let apply = |steps: &[serde_json::Value]| {
        steps
            .iter()
            .find(|s| s["command"].as_str().is_some_and(|c| c.contains(" fix ")))
            .map(|s| s["step"].clone())
    };
    assert_eq!(apply(&before), apply(&after));
    let written = &after[1];
    assert!(written["command"].is_null());
    assert!(written["text"]
        .as_str()
        .unwrap()
        .contains("is written to repaired-policy.json"));
    let fix = before
        .iter()
        .find(|s| s["command"].as_str().is_some_and(|c| c.contains(" fix ")))
        .unwrap();
    assert!(fix["alternative"]["command"]
        .as_str()
        .unwrap()
        .starts_with("aws kms put-key-policy"));
    assert!(before.iter().all(|s| !s["command"]
        .as_str()
        .unwrap_or("")
        .contains("put-key-policy")));
    // The table marks it as an alternative of the same step.
    let (_, table, _) = why_locked_in(
        dir.path(),
        &[KEY, "--events-file", events.to_str().unwrap()],
    );
    assert!(table.contains("or apply it by hand"), "{table}");
}

/// Issue 24, item 10: CloudTrail's event ids are 36 characters; with them every line of the
/// table but the commands still fits in 80 columns.
#[test]
fn the_table_fits_80_columns_with_real_event_ids() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "03-delegation-removed",
        "95-lockout-then-deletion-scheduled",
    ] {
        let src = scenario(name).join("events");
        let out_dir = dir.path().join(name);
        std::fs::create_dir_all(&out_dir).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let mut doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for (i, r) in doc["Records"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .enumerate()
            {
                r["eventID"] = format!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1{i:02}").into();
            }
            std::fs::write(out_dir.join(path.file_name().unwrap()), doc.to_string()).unwrap();
        }
        let (_, table, err) = why_locked_in(dir.path(), &[KEY, "--events-file", name]);
        assert!(
            table.contains("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1"),
            "{name}: {table}{err}"
        );
        for line in table.lines() {
            assert!(
                crate::fits_80_columns(line) || line.trim_start().starts_with("$ "),
                "{name}: over 80 columns: {line}"
            );
        }
    }
}

/// Issue 24, item 3: the role's trust policy (GetRole, kept in the bundle) says how to
/// become it: SAML-only federation is no AssumeRole; a trust that names another account
/// says so to a caller it does not let in.
#[test]
fn the_roles_trust_policy_says_how_to_become_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = scenario("100-disabled-key-described-enable-after-repair").join("bundle.json");
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let role = "arn:aws:iam::111122223333:role/KeyAdmin";
    let run = |bundle: &serde_json::Value| {
        let path = dir.path().join("bundle.json");
        std::fs::write(&path, bundle.to_string()).unwrap();
        let (code, out, err) = why_locked(&["--from", path.to_str().unwrap(), "--output", "json"]);
        assert_eq!(code, 3, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v
    };
    bundle["trust"] = serde_json::json!({ role: serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:saml-provider/Okta"},
            "Action": "sts:AssumeRoleWithSAML"}]}).to_string() });
    let v = run(&bundle);
    let first = &v["recovery_plan"][0];
    assert!(first["command"].is_null(), "{first:#}");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("admits only SAML federation (arn:aws:iam::111122223333:saml-provider/Okta)"),
        "{first:#}"
    );
    let admin = &v["recoverable_admins"][0];
    assert_eq!(
        admin["trust"]["saml"][0],
        "arn:aws:iam::111122223333:saml-provider/Okta"
    );
    // A trust for another account's role: the caller (Admin, in 111122223333) is not let in.
    bundle["trust"] = serde_json::json!({ role: serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999988887777:role/Recovery"},
            "Action": "sts:AssumeRole"}]}).to_string() });
    let v = run(&bundle);
    let first = &v["recovery_plan"][0];
    assert!(first["command"]
        .as_str()
        .unwrap()
        .starts_with("creds=$(aws sts assume-role"));
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("lets arn:aws:iam::999988887777:role/Recovery assume it, not you"),
        "{first:#}"
    );
}

/// Issue 25: a skipped record is named (its file, its place, its event and id, why), so that
/// a skipped PutKeyPolicy does not disappear behind a count.
#[test]
fn a_skipped_record_is_named_with_its_file_event_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let events = write(
        dir.path(),
        "trail.json",
        br#"{"Records": [
          {"eventVersion":"1.08","eventSource":"kms.amazonaws.com","eventName":"PutKeyPolicy","eventID":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","eventTime":"not a time","awsRegion":"us-east-1","requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","policyName":"default","policy":"{}"},"recipientAccountId":"111122223333"},
          "not a record"
        ]}"#,
    );
    let (_, _, err) = why_locked(&[KEY, "--events-file", &events]);
    assert!(
        err.contains("skipped 2 unreadable CloudTrail records:"),
        "{err}"
    );
    assert!(
        err.contains("trail.json: record 1 (PutKeyPolicy 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0): the policy event cannot be read"),
        "{err}"
    );
    assert!(
        err.contains("trail.json: record 2: not a JSON object"),
        "{err}"
    );
}

/// `kmsdoctor history` (issue 25, item 8): every version of the key policy from the same
/// evidence as why-locked, each with its time, actor, source address, bypass flag, verdict
/// and statement-level changes; a version that hands the key to another account is marked.
#[test]
fn history_shows_each_version_with_its_changes_and_marks_a_handover() {
    let root = Path::new("fixtures/scenarios");
    let run = |events: &str, extra: &[&str]| {
        let out = Command::cargo_bin("kmsdoctor")
            .expect("binary")
            .current_dir(root)
            .args(["history", KEY, "--events-file", events])
            .args(extra)
            .args(["--now", "2026-11-23T00:00:00Z"])
            .output()
            .expect("run");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The delegation removed: two versions, the second's removals and additions.
    let (code, out, err) = run("03-delegation-removed/events", &[]);
    assert_eq!(code, 0, "{err}");
    snapshot!("history__table_delegation_removed", out);

    // The destructive pattern: the key handed to another account, the check bypassed.
    let (code, out, err) = run(
        "95-lockout-then-deletion-scheduled/events",
        &["--output", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{v}");
    assert_eq!(versions[0]["hands_to_other_account"], false);
    let last = &versions[1];
    assert_eq!(last["event_name"], "PutKeyPolicy");
    assert_eq!(last["bypass_lockout_check"], true);
    assert_eq!(last["hands_to_other_account"], true, "{last}");
    assert!(
        last["other_account_use"][0]
            .as_str()
            .unwrap()
            .contains("arn:aws:iam::999988887777:root"),
        "{last}"
    );
    let changes: Vec<(&str, &str)> = last["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap(),
                c["statement"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(changes.contains(&("added", "Takeover")), "{changes:?}");
    assert!(
        changes.contains(&("removed", "Enable IAM User Permissions")),
        "{changes:?}"
    );
    assert_eq!(v["schema_version"], 1);
    let (_, table, _) = run("95-lockout-then-deletion-scheduled/events", &[]);
    assert!(
        table.contains("the lockout safety check was bypassed")
            && table.contains("this version hands a use of the key to another account"),
        "{table}"
    );

    // history writes no policy.
    let (code, _, err) = run(
        "03-delegation-removed/events",
        &["--write-repaired", "x.json"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--write-repaired"), "{err}");
}

/// `kmsdoctor --version` says the version and the commit the build was made from (issue
/// 26, item 5), so that an incident report says which build judged the key.
#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let (code, out, _) = kmsdoctor(&["--version"]);
    assert_eq!(code, 0);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let commit = head.unwrap_or_else(|| "unknown".into());
    assert_eq!(
        out.trim(),
        format!("kmsdoctor {} ({commit})", env!("CARGO_PKG_VERSION")),
        "the binary was built from another commit than the checkout's HEAD"
    );
}
