//! Drives the real `kmsdoctor` binary on fixtures: outputs (as reviewed snapshots), exit
//! codes, and every kind of bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn kmsdoctor() -> Command {
    let mut cmd = Command::cargo_bin("kmsdoctor").expect("binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

/// Runs `explain` and returns (exit code, stdout, stderr).
fn explain(args: &[&str]) -> (i32, String, String) {
    let out = kmsdoctor().arg("explain").args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Paths in output are made relative to the fixtures folder so snapshots are stable.
fn stable(s: &str) -> String {
    let root = fixture("");
    let root = root.to_string_lossy();
    s.replace(&format!("{}/", root.trim_end_matches('/')), "fixtures/")
}

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn explain_table_for_people() {
    let policy = fixture("policies/console-admins.json");
    let (code, out, err) = explain(&[
        "--policy-file",
        policy.to_str().unwrap(),
        "--principal",
        "arn:aws:iam::111122223333:role/KeyAdmin",
        "--action",
        "kms:PutKeyPolicy",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty());
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let out = stable(&out);
    assert!(
        out.lines().all(crate::fits_80_columns),
        "fits 80 columns, but for a word longer than a line:\n{out}"
    );
    // Reasons keep ARNs whole, to be copied (a table column would break them).
    assert!(
        out.contains("      `arn:aws:iam::111122223333:role/KeyAdmin` names the caller"),
        "{out}"
    );
    snapshot!("explain__table_console_admin", out);
}

#[test]
fn explain_json_for_scripts() {
    let policy = fixture("policies/conditional-admin.json");
    let (code, out, err) = explain(&[
        "--policy-file",
        policy.to_str().unwrap(),
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "--action",
        "kms:PutKeyPolicy",
        "--context",
        "aws:SecureTransport=true",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(v["decision"], "conditional");
    assert_eq!(v["schema_version"], 2);
    snapshot!("explain__json_conditional", stable(&out));
}

#[test]
fn explain_table_conditional_with_findings() {
    let policy = fixture("policies/conditional-admin.json");
    let (code, out, _) = explain(&[
        "--policy-file",
        policy.to_str().unwrap(),
        "--principal",
        "arn:aws:iam::111122223333:role/Admin",
        "--action",
        "kms:PutKeyPolicy",
    ]);
    assert_eq!(code, 0);
    let out = stable(&out);
    assert!(
        out.lines().all(crate::fits_80_columns),
        "fits 80 columns, but for a word longer than a line:\n{out}"
    );
    snapshot!("explain__table_conditional", out);
}

#[test]
fn explain_reads_get_key_policy_output_and_identity_policies() {
    let dir = tempfile::tempdir().unwrap();
    let inner = std::fs::read_to_string(fixture("policies/default.json")).unwrap();
    let wrapped = serde_json::json!({"Policy": inner, "PolicyName": "default"}).to_string();
    let key = write(dir.path(), "get-key-policy.json", wrapped.as_bytes());
    let iam = write(
        dir.path(),
        "admin.json",
        br#"{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    );
    let (code, out, err) = explain(&[
        "--policy-file",
        &key,
        "--identity-policy",
        &iam,
        "--principal",
        "arn:aws:iam::111122223333:role/Admin",
        "--action",
        "kms:GetKeyPolicy",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "allowed");
    assert_eq!(
        v["deciding_statements"],
        serde_json::json!(["Enable IAM User Permissions", "admin:All"])
    );
}

#[test]
fn no_policy_file_means_no_access() {
    let (code, out, _) = explain(&[
        "--principal",
        "111122223333",
        "--action",
        "kms:PutKeyPolicy",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "implicit_deny");
}

#[test]
fn malformed_policy_files_name_the_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.json", b"".to_vec(), "empty.json: the file is empty"),
        ("blank.json", b"  \n\n".to_vec(), "blank.json: the file is empty"),
        (
            "syntax.json",
            b"{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",}\n  ]\n}".to_vec(),
            "syntax.json:3:24: invalid JSON: trailing comma",
        ),
        (
            "wrong-type.json",
            b"{\"Statement\": [{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": 42, \"Resource\": \"*\"}]}".to_vec(),
            "wrong-type.json:1:64: expected a string or an array of strings, found a number (at /Statement/0/Action)",
        ),
        ("array.json", b"[1, 2]".to_vec(), "array.json:1:1: expected a policy document (a JSON object), found an array"),
        (
            "statement-string.json",
            b"{\"Statement\": \"Allow everything\"}".to_vec(),
            "statement-string.json:1:15: expected a statement object or an array of statements, found a string (at /Statement)",
        ),
        ("truncated.json", b"{\"Statement\": [{\"Effect\": \"Al".to_vec(), "truncated.json:1:29: invalid JSON: EOF while parsing a string"),
        ("binary.json", vec![0xff, 0xfe, 0x00, 0x7b], "binary.json:1:1: is not UTF-8 text"),
        (
            "embedded.json",
            br#"{"Policy": "{\"Statement\": 7}", "PolicyName": "default"}"#.to_vec(),
            "embedded.json:1:12: in the policy embedded in `Policy` (its line 1, column 15): expected a statement object or an array of statements, found a number (at /Policy)",
        ),
    ];
    for (name, content, expected) in cases {
        let path = write(dir.path(), name, &content);
        let (code, out, err) = explain(&[
            "--policy-file",
            &path,
            "--principal",
            "111122223333",
            "--action",
            "kms:PutKeyPolicy",
        ]);
        assert_eq!(code, 1, "{name}: exit code; stderr: {err}");
        assert!(out.is_empty(), "{name}: nothing on stdout");
        let err = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(
            err.starts_with(&format!("kmsdoctor: error: {expected}")),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(!err.contains("panicked"), "{name}");
    }
}

#[test]
fn huge_and_missing_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let huge = write(dir.path(), "huge.json", &vec![b' '; 2 * 1024 * 1024]);
    let (code, _, err) = explain(&[
        "--policy-file",
        &huge,
        "--principal",
        "111122223333",
        "--action",
        "kms:Decrypt",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("huge.json: is 2097152 bytes; a policy file is at most 1048576 bytes"),
        "{err}"
    );

    let missing = dir.path().join("missing.json");
    let (code, _, err) = explain(&[
        "--policy-file",
        missing.to_str().unwrap(),
        "--principal",
        "111122223333",
        "--action",
        "kms:Decrypt",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("missing.json: cannot open: no such file"),
        "{err}"
    );

    let bad_identity = write(
        dir.path(),
        "iam.json",
        b"{\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"kms:*\", \"Resource\": {}}]}",
    );
    let (code, _, err) = explain(&[
        "--identity-policy",
        &bad_identity,
        "--principal",
        "111122223333",
        "--action",
        "kms:Decrypt",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("iam.json:1:67: expected a string or an array of strings, found an object (at /Statement/0/Resource)"), "{err}");
}

#[test]
fn policies_aws_would_reject_give_findings_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "rejected.json",
        br#"{"Statement": [
  {"Sid": "Both", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "NotAction": "kms:Decrypt", "Resource": "*"},
  {"Sid": "NoPrincipal", "Effect": "Allow", "Action": "kms:*", "Resource": "*"},
  {"Sid": "Odd", "Effect": "Permit", "Principal": "*", "Action": "kms:*", "Resource": "*"}
]}"#,
    );
    let (code, out, _) = explain(&[
        "--policy-file",
        &path,
        "--principal",
        "111122223333",
        "--action",
        "kms:PutKeyPolicy",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["KD101", "KD106", "KD105"]);
    assert_eq!(v["findings"][0]["line"], 2);
    assert_eq!(v["findings"][0]["statement"]["index"], 0);
    assert_eq!(v["decision"], "implicit_deny");
    assert!(v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["outcome"] == "invalid"));
}

#[test]
fn bad_flag_values_exit_1_and_usage_errors_exit_2() {
    let (code, _, err) = explain(&["--principal", "bob", "--action", "kms:Decrypt"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--principal: `bob` is not a principal"),
        "{err}"
    );

    let (code, _, err) = explain(&["--principal", "111122223333", "--action", "kms:PutKeyPolcy"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `kms:PutKeyPolicy`"), "{err}");

    let (code, _, err) = explain(&[
        "--principal",
        "111122223333",
        "--action",
        "kms:Decrypt",
        "--context",
        "aws:SourceIp",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--context: `aws:SourceIp` is not KEY=VALUE"),
        "{err}"
    );

    kmsdoctor()
        .args(["explain", "--action", "kms:Decrypt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--principal"));
    kmsdoctor().arg("frobnicate").assert().code(2);
}

#[test]
fn json_output_survives_a_closed_pipe() {
    // `kmsdoctor ... | head -c 1`: the reader goes away; that is not an error. The output
    // must exceed the pipe buffer (64 KiB) for the write to fail, hence a large policy.
    let dir = tempfile::tempdir().unwrap();
    let statements: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"Sid":"S{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:role/R{i}"}},"Action":"kms:Decrypt","Resource":"*"}}"#))
        .collect();
    let policy = write(
        dir.path(),
        "big.json",
        format!(r#"{{"Statement":[{}]}}"#, statements.join(",")).as_bytes(),
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' explain --policy-file '{}' --principal 111122223333 --action kms:PutKeyPolicy --output json | head -c 1 >/dev/null; exit ${{PIPESTATUS[0]}}",
            assert_cmd::cargo::cargo_bin("kmsdoctor").display(),
            policy
        ))
        .output()
        .expect("bash");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// IAM policies cannot be attached to the root user: `--identity-policy` given for it is
/// ignored, and the output says so; a Deny in it does not deny the root user.
#[test]
fn identity_policies_are_ignored_for_the_root_user() {
    let dir = tempfile::tempdir().unwrap();
    let deny = write(
        dir.path(),
        "deny-all.json",
        br#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#,
    );
    let policy = fixture("policies/default.json");
    let (code, out, err) = explain(&[
        "--policy-file",
        policy.to_str().unwrap(),
        "--principal",
        "111122223333",
        "--action",
        "kms:PutKeyPolicy",
        "--identity-policy",
        &deny,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "allowed", "{out}");
    let notes = v["notes"].to_string();
    assert!(notes.contains("--identity-policy was ignored"), "{notes}");
}

/// A context key that is neither global nor KMS is most likely a typo: warned about on
/// stderr with the closest known key, and the run goes on (issue 15, item 7).
#[test]
fn a_misspelled_context_key_is_warned_about() {
    let policy = fixture("scenarios/01-default-policy/policy.json");
    let (code, _, err) = explain(&[
        "--policy-file",
        policy.to_str().unwrap(),
        "--principal",
        "arn:aws:iam::111122223333:role/KeyAdmin",
        "--action",
        "kms:PutKeyPolicy",
        "--context",
        "aws:SorceIp=203.0.113.7",
        "--context",
        "aws:MultiFactorAuthPresent=true",
        "--absent",
        "aws:PrincipalTag/team",
        "--absent",
        "kms:ViaServce",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("kmsdoctor: warning: --context: `aws:SorceIp` is not a global or KMS condition key kmsdoctor knows (did you mean `aws:sourceip`?)"),
        "{err}"
    );
    assert!(
        lines[1].contains("--absent: `kms:ViaServce`") && lines[1].contains("`kms:viaservice`"),
        "{err}"
    );
}

/// The request chain (issue 13): with a layer beyond the key and identity policies given,
/// the decision is the whole chain's, and the first layer that denies is named.
mod chain {
    use super::{explain, fixture, stable, write};

    const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn chain_file(name: &str) -> String {
        fixture(&format!("chain/{name}.json")).display().to_string()
    }

    /// explain's JSON, parsed, for a request by `principal` on the key with these flags.
    fn json(principal: &str, flags: &[String]) -> serde_json::Value {
        let policy = fixture("policies/default.json").display().to_string();
        let mut args = vec![
            "--policy-file",
            &policy,
            "--principal",
            principal,
            "--action",
            "kms:PutKeyPolicy",
            "--resource",
            KEY,
            "--output",
            "json",
        ];
        args.extend(flags.iter().map(String::as_str));
        let (code, out, err) = explain(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).expect("one JSON document")
    }

    fn flag(name: &str, value: String) -> Vec<String> {
        vec![name.to_string(), value]
    }

    #[test]
    fn an_scp_deny_at_an_ou_is_named_in_the_table() {
        let scp = |t: &str, f: &str| format!("{t}={}", chain_file(f));
        let (code, out, err) = explain(&[
            "--policy-file",
            fixture("policies/default.json").to_str().unwrap(),
            "--principal",
            SESSION,
            "--action",
            "kms:PutKeyPolicy",
            "--identity-policy",
            &chain_file("iam-kms-admin"),
            "--no-boundary",
            "--scp",
            &scp("r-ab12", "FullAWSAccess"),
            "--scp",
            &scp("ou-ab12-11111111", "FullAWSAccess"),
            "--scp",
            &scp("ou-ab12-11111111", "scp-security-team-only"),
            "--scp",
            &chain_file("FullAWSAccess"),
            "--context",
            "aws:PrincipalTag/team=dev",
        ]);
        assert_eq!(code, 0, "{err}");
        let out = stable(&out);
        assert!(out.contains("Decision: explicit_deny"), "{out}");
        assert!(
            out.contains("Denied by: service control policies attached to ou-ab12-11111111"),
            "{out}"
        );
        assert!(
            out.contains("Key policy and identity policies alone: allowed"),
            "{out}"
        );
        assert!(out.lines().all(crate::fits_80_columns), "{out}");
        snapshot!("explain__table_chain_scp", out);
    }

    #[test]
    fn each_layer_denying_alone_is_named_for_scripts() {
        let admin = flag("--identity-policy", chain_file("iam-kms-admin"));
        // A boundary without kms:PutKeyPolicy caps the admin identity policy.
        let v = json(
            SESSION,
            &[
                admin.clone(),
                flag("--boundary", chain_file("boundary-crypto-only")),
            ]
            .concat(),
        );
        assert_eq!(v["decision"], "implicit_deny", "{v}");
        assert_eq!(v["chain"]["denied_by"], "boundary", "{v}");
        assert_eq!(v["chain"]["key_policy_decision"], "allowed", "{v}");

        // A session policy without it caps the role session alike.
        let v = json(
            SESSION,
            &[
                admin.clone(),
                vec!["--no-boundary".into()],
                flag("--session-policy", chain_file("session-read-only")),
            ]
            .concat(),
        );
        assert_eq!(v["chain"]["denied_by"], "session", "{v}");

        // An RCP binds the root user too, and names its level.
        let v = json(
            "111122223333",
            &flag(
                "--rcp",
                format!("111122223333={}", chain_file("rcp-deny-put")),
            ),
        );
        assert_eq!(v["decision"], "explicit_deny", "{v}");
        assert_eq!(v["chain"]["denied_by"], "rcp", "{v}");
        assert_eq!(v["chain"]["denied_at"], "111122223333", "{v}");
        assert_eq!(
            v["chain"]["layers"][0]["deciding_statements"][0], "rcp-deny-put:NoPutKeyPolicy",
            "{v}"
        );

        // ... but not a key of the management account.
        let v = json(
            "111122223333",
            &[
                flag("--rcp", chain_file("rcp-deny-put")),
                flag("--management-account", "111122223333".into()),
            ]
            .concat(),
        );
        assert_eq!(v["decision"], "allowed", "{v}");
        assert!(v["chain"]["denied_by"].is_null(), "{v}");

        // The break-glass role's session passes the RCP that stops everyone else.
        let v = json(
            "arn:aws:sts::111122223333:assumed-role/BreakGlass/oncall",
            &[admin.clone(), flag("--rcp", chain_file("rcp-break-glass"))].concat(),
        );
        assert_eq!(v["decision"], "allowed", "{v}");
        let v = json(
            SESSION,
            &[admin, flag("--rcp", chain_file("rcp-break-glass")).to_vec()].concat(),
        );
        assert_eq!(v["chain"]["denied_by"], "rcp", "{v}");

        // Identity policies that do not allow it: the identity layer, not the key policy.
        let v = json(
            SESSION,
            &[
                flag("--identity-policy", chain_file("iam-s3-only")),
                vec!["--no-boundary".into()],
            ]
            .concat(),
        );
        assert_eq!(v["chain"]["denied_by"], "identity", "{v}");
    }

    #[test]
    fn without_chain_flags_the_output_is_unchanged() {
        let v = json(SESSION, &[]);
        assert!(v.get("chain").is_none(), "{v}");
    }

    #[test]
    fn bad_layer_flags_and_files_exit_1_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let base = ["--principal", SESSION, "--action", "kms:PutKeyPolicy"];
        let run = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            explain(&args)
        };
        let missing = dir.path().join("nope.json").display().to_string();
        let (code, _, err) = run(&["--scp", &format!("r-ab12={missing}")]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("nope.json") && err.contains("no such file"),
            "{err}"
        );

        let (code, _, err) = run(&["--scp", "r-ab12="]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("--scp") && err.contains("`r-ab12=` names no file"),
            "{err}"
        );

        let (code, _, err) = run(&["--management-account", "12345"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("--management-account"), "{err}");

        let broken = write(dir.path(), "broken-rcp.json", b"{\"Statement\": [}");
        let (code, _, err) = run(&["--rcp", &broken]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("broken-rcp.json:1:"), "{err}");

        // An RCP statement without a Principal is one AWS rejects: a finding, and it takes
        // no part in the decision.
        let no_principal = write(
            dir.path(),
            "rcp-no-principal.json",
            br#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}"#,
        );
        let (code, out, err) = run(&["--rcp", &no_principal, "--output", "json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_ne!(v["chain"]["denied_by"], "rcp", "{v}");
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["message"]
                    .as_str()
                    .unwrap()
                    .contains("resource control policy statement needs a `Principal`")),
            "{v}"
        );

        // A file whose name holds `=` after something that is no target stays a file name.
        let odd = write(
            dir.path(),
            "team=sec.json",
            &std::fs::read(fixture("chain/FullAWSAccess.json")).unwrap(),
        );
        let (code, _, err) = run(&["--scp", &odd]);
        assert_eq!(code, 0, "{err}");
    }

    #[test]
    fn hostile_sids_and_names_are_escaped_in_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let scp = write(
            dir.path(),
            "scp.json",
            br#"{"Version": "2012-10-17", "Statement": [{"Sid": "X\u001b]0;owned\u0007", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}"#,
        );
        let (code, out, err) = explain(&[
            "--principal",
            SESSION,
            "--action",
            "kms:PutKeyPolicy",
            "--scp",
            &scp,
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(out.contains("Denied by: service control policies"), "{out}");
    }
}

/// Issue 24, item 10: a requirement from a Deny reads without a double negation, and the
/// alternatives wrap in 80 columns (a long session ARN and its action used to make a
/// 100-column line).
#[test]
fn requirements_from_a_deny_read_plainly_in_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "org-only.json",
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
          {"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
           "Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}"#
            .as_bytes(),
    );
    let (code, out, err) = explain(&[
        "--policy-file",
        &policy,
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "--action",
        "kms:PutKeyPolicy",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("and aws:PrincipalOrgID is o-abc123"), "{out}");
    assert!(!out.contains("not (aws:PrincipalOrgID is not"), "{out}");
    assert!(out.lines().all(crate::fits_80_columns), "{out}");
}

/// When two entries of a Principal name the caller equally (the role ARN and the session
/// ARN), the reason shows the first one listed (pins the tie-break of the principal match).
#[test]
fn the_first_entry_that_names_the_caller_is_the_one_shown() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "two.json",
        br#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow",
          "Principal":{"AWS":["arn:aws:iam::111122223333:role/Admin","arn:aws:sts::111122223333:assumed-role/Admin/alice"]},
          "Action":"kms:*","Resource":"*"}]}"#,
    );
    let (code, out, err) = explain(&[
        "--policy-file",
        &policy,
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "--action",
        "kms:PutKeyPolicy",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("`arn:aws:iam::111122223333:role/Admin` names the caller"),
        "{out}"
    );
}

/// The reasons explain gives for NotPrincipal and Resource, word for word where they tell
/// different stories (pins the explanation branches the mutation run left untested).
#[test]
fn not_principal_and_resource_reasons_say_which_case_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, policy: &str, extra: &[&str]| {
        let p = write(dir.path(), name, policy.as_bytes());
        let mut args = vec![
            "--policy-file",
            p.as_str(),
            "--principal",
            "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            "--action",
            "kms:PutKeyPolicy",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = explain(&args);
        assert_eq!(code, 0, "{err}");
        out
    };
    let deny = |listed: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"D","Effect":"Deny","NotPrincipal":{{"AWS":[{listed}]}},"Action":"kms:*","Resource":"*"}}]}}"#
        )
    };
    let out = run(
        "no-account.json",
        &deny(
            r#""arn:aws:iam::111122223333:role/Admin","arn:aws:sts::111122223333:assumed-role/Admin/alice""#,
        ),
        &[],
    );
    assert!(
        out.contains("NotPrincipal does not list the account of"),
        "{out}"
    );
    let out = run(
        "no-role.json",
        &deny(r#""arn:aws:iam::111122223333:root""#),
        &[],
    );
    assert!(out.contains("NotPrincipal does not list"), "{out}");
    assert!(out.contains("itself"), "{out}");
    let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:444455556666:key/*"}]}"#;
    let out = run("other.json", other, &["--account", "111122223333"]);
    // Wrapped in 80 columns: the words, then the account.
    assert!(out.contains("cannot match a key of"), "{out}");
    assert!(out.contains("account 111122223333"), "{out}");
    // A pattern of the key's own account, the key's ARN not known: it may match.
    let own = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Own","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"}]}"#;
    let out = run(
        "own.json",
        own,
        &["--account", "111122223333", "--output", "json"],
    );
    assert!(
        out.contains("may match the key; its ARN is not known"),
        "{out}"
    );
    let out = run(
        "named.json",
        other,
        &[
            "--resource",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ],
    );
    assert!(out.contains("no Resource matches"), "{out}");
}
