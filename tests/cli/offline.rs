//! `scan`, `guard` and `fix` offline, through the in-memory account behind the evidence
//! seams (`evidence::fake::FakeAccount`): the same commands as against AWS, with every
//! output format snapshotted, and the writes `fix` makes checked.

use std::io::Write;

use clap::Parser;
use kmsdoctor::analysis::chain::OrgLevel;
use kmsdoctor::app::{Progress, Ui};
use kmsdoctor::cli::{Cli, Command};
use kmsdoctor::config::{FixConfig, GuardConfig, ScanConfig};
use kmsdoctor::evidence::aws::OrgRead;
use kmsdoctor::evidence::fake::{denied, FakeAccount, FakeKey};
use kmsdoctor::evidence::layers::{RecordedLevel, RecordedPolicy};
use kmsdoctor::report::Style;

const ACCOUNT: &str = "111122223333";
const OK: &str = "arn:aws:kms:us-east-1:111122223333:key/1111abcd-12ab-34cd-56ef-1234567890ab";
const LOCKED: &str = "arn:aws:kms:us-east-1:111122223333:key/2222abcd-12ab-34cd-56ef-1234567890ab";
const DENIED: &str = "arn:aws:kms:us-east-1:111122223333:key/3333abcd-12ab-34cd-56ef-1234567890ab";
const DOOMED: &str = "arn:aws:kms:us-east-1:111122223333:key/4444abcd-12ab-34cd-56ef-1234567890ab";
const MANAGED: &str = "arn:aws:kms:us-east-1:111122223333:key/5555abcd-12ab-34cd-56ef-1234567890ab";
const ADMIN: &str = "arn:aws:iam::111122223333:role/KeyAdmin";

/// A key policy without the IAM delegation: only the key administrator role may change it.
fn admins_only() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
             "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow use of the key", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:role/AppRole"},
             "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}
        ]
    })
    .to_string()
}

fn account(caller: &str) -> FakeAccount {
    let default = kmsdoctor::analysis::lockout::default_policy("aws", ACCOUNT);
    FakeAccount::new(caller)
        .with_key(FakeKey::new(OK, &default))
        .with_key(
            FakeKey::new(LOCKED, &admins_only())
                .tagged("aws:cloudformation:stack-name", "keys")
                .aliased("alias/payments"),
        )
        .with_key(FakeKey::new(DENIED, &default).denied())
        // Locked out of all but the administrator role, then scheduled for deletion.
        .with_key(FakeKey::new(DOOMED, &admins_only()).pending_deletion("2026-12-01T00:00:00Z", 7))
        .with_key(FakeKey::new(MANAGED, &default).aws_managed())
}

fn ui() -> Ui {
    Ui {
        style: Style::plain(),
        progress: Progress::Lines,
        interactive: false,
    }
}

fn cli(args: &[&str]) -> Command {
    let mut all = vec!["kmsdoctor"];
    all.extend_from_slice(args);
    Cli::try_parse_from(all).expect("flags parse").command
}

fn scan(fake: &mut FakeAccount, args: &[&str]) -> (u8, String, String) {
    let mut words = vec!["scan"];
    words.extend_from_slice(args);
    let Command::Scan(a) = cli(&words) else {
        unreachable!()
    };
    let mut cfg = ScanConfig::resolve(&a).expect("config");
    // A fixed time: the days left before a deletion date are in the output.
    cfg.now = "2026-11-23T00:00:00Z".parse().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = kmsdoctor::commands::scan::execute(&cfg, fake, &mut out, &mut err, ui())
        .expect("scan runs");
    (code, text(out), text(err))
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).expect("UTF-8")
}

#[test]
fn scan_offline_in_every_format() {
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/Auditor/ci");
    let flags = [
        "--region",
        "us-east-1",
        "--profile",
        "audit",
        "--endpoint-url",
        "http://127.0.0.1:4566",
    ];
    let (code, table, _) = scan(&mut fake, &flags);
    assert_eq!(code, 3, "a key is locked: {table}");
    for line in table.lines() {
        assert!(
            crate::fits_80_columns(line) || line.trim_start().starts_with("$ "),
            "{line}"
        );
    }
    snapshot!("scan__table", table);

    let mut args = flags.to_vec();
    args.extend(["--output", "json"]);
    let (_, json, _) = scan(&mut fake, &args);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 2);
    let keys = v["keys"].as_array().unwrap();
    let standings: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k["arn"].as_str().unwrap(), k["standing"].as_str().unwrap()))
        .collect();
    assert_eq!(
        standings,
        [
            (DOOMED, "recoverable"),
            (DENIED, "unreadable"),
            (LOCKED, "recoverable"),
            (OK, "ok")
        ],
        "worst first, a locked key pending deletion before all; the AWS managed one is not judged"
    );
    assert_eq!(keys[0]["state"], "PendingDeletion");
    assert_eq!(keys[0]["deletion_date"], "2026-12-01T00:00:00Z");
    assert_eq!(
        keys[0]["findings"][1]["id"], "KL220",
        "{:#}",
        keys[0]["findings"]
    );
    assert_eq!(v["pending_deletion"][0]["arn"], DOOMED);
    assert_eq!(
        v["pending_deletion"][0]["deletion_date"],
        "2026-12-01T00:00:00Z"
    );
    assert_eq!(v["summary"]["aws_managed_skipped"], 1);
    // The follow-up repeats the run's flags, in the key's region.
    assert_eq!(
        keys[2]["follow_up"],
        format!("kmsdoctor why-locked {LOCKED} --region us-east-1 --profile audit --endpoint-url http://127.0.0.1:4566")
    );
    assert_eq!(keys[2]["findings"][0]["id"], "KS403");
    // Only the administrator role: the policy does not name the account, so not the root.
    assert_eq!(keys[2]["admins"], serde_json::json!([ADMIN]));
    snapshot!("scan__json", json);

    let mut args = flags.to_vec();
    args.extend(["--output", "sarif"]);
    let (_, sarif, _) = scan(&mut fake, &args);
    let s: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let errors = crate::check::sarif_errors(&crate::check::sarif_validator(), &s);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(s["runs"][0]["automationDetails"]["id"], "kmsdoctor/scan/");
    let base = s["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    snapshot!("scan__sarif", sarif.replace(&base, "file:///PROJECT/"));
}

/// One RCP Deny of kms:PutKeyPolicy without a condition binds every key of the account:
/// KS405 on a key whose own policy is the default, decided in analysis.
#[test]
fn scan_offline_an_rcp_that_freezes_the_account() {
    let mut fake =
        FakeAccount::new("arn:aws:iam::111122223333:role/Auditor").with_key(FakeKey::new(
            OK,
            &kmsdoctor::analysis::lockout::default_policy("aws", ACCOUNT),
        ));
    let freeze = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Freeze",
        "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}]});
    fake.rcps = vec![(
        ACCOUNT.to_string(),
        OrgRead {
            rcps: Some(vec![RecordedLevel {
                target: ACCOUNT.into(),
                policies: vec![RecordedPolicy {
                    name: "freeze".into(),
                    source: "RESOURCE_CONTROL_POLICY p-1".into(),
                    document: freeze.to_string(),
                }],
            }]),
            ..OrgRead::default()
        },
    )];
    let (code, json, _) = scan(&mut fake, &["--region", "us-east-1", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(code, 3, "{json}");
    let k = &v["keys"][0];
    assert_eq!(k["standing"], "ok");
    assert_eq!(k["findings"][0]["id"], "KS405", "{k}");
    assert_eq!(k["rcp_denials"][0]["statement"]["label"], "freeze:Freeze");
    let _: Option<OrgLevel> = None;
}

fn guard(fake: &mut FakeAccount, args: &[&str]) -> (u8, String, String) {
    let mut words = vec!["guard"];
    words.extend_from_slice(args);
    let Command::Guard(a) = cli(&words) else {
        unreachable!()
    };
    let cfg = GuardConfig::resolve(&a).expect("config");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = kmsdoctor::commands::guard::execute(&cfg, Some(fake), &mut out, &mut err, ui())
        .expect("guard runs");
    (code, text(out), text(err))
}

#[test]
fn guard_offline_over_a_scan_now() {
    let mut fake = account("arn:aws:iam::111122223333:role/Auditor");
    // Deleting the only administrator of the locked key leaves it to the root user alone.
    let (code, table, _) = guard(&mut fake, &["--delete", ADMIN, "--region", "us-east-1"]);
    snapshot!("guard__table", table);
    let (code_json, json, _) = guard(
        &mut fake,
        &[
            "--delete",
            ADMIN,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, code_json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(code, 3, "{json}");
    assert_eq!(v["safe"], false);
    let row = &v["at_risk"][0];
    assert_eq!(row["arn"], LOCKED, "{json}");
    assert_eq!(row["lost"], serde_json::json!([ADMIN]));
    assert_eq!(row["drops_to_none"], true);
    snapshot!("guard__json", json);
    assert_eq!(v["answer"], "at_risk");
    // A principal no key names deletes nothing that matters, but one key's policy could not
    // be read: the answer is unknown (exit 5), never `safe`, and that key is named.
    let (code, json, _) = guard(
        &mut fake,
        &[
            "--delete",
            "arn:aws:iam::111122223333:role/Nobody",
            "--region",
            "us-east-1",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 5, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["answer"], "unknown");
    assert_eq!(v["safe"], false);
    assert_eq!(v["unjudged"][0]["arn"], DENIED, "{json}");
    // Once every key can be read, the same deletion is safe: exit 0.
    let mut readable =
        FakeAccount::new("arn:aws:iam::111122223333:role/Auditor").with_key(FakeKey::new(
            OK,
            &kmsdoctor::analysis::lockout::default_policy("aws", ACCOUNT),
        ));
    let (code, _, _) = guard(
        &mut readable,
        &[
            "--delete",
            "arn:aws:iam::111122223333:role/Nobody",
            "--region",
            "us-east-1",
        ],
    );
    assert_eq!(code, 0);
}

/// `guard` takes what `scan` takes: `--org` is a scan flag (refused only with --scan FILE).
#[test]
fn guard_accepts_the_org_flags_of_scan() {
    let Command::Guard(a) = cli(&["guard", "--delete", ADMIN, "--org", "--role-name", "Audit"])
    else {
        unreachable!()
    };
    let cfg = GuardConfig::resolve(&a).expect("guard --org resolves");
    assert_eq!(
        cfg.scan.and_then(|s| s.org),
        Some(("Audit".to_string(), None))
    );
    let Command::Guard(a) = cli(&["guard", "--delete", ADMIN, "--org", "--scan", "scan.json"])
    else {
        unreachable!()
    };
    assert!(GuardConfig::resolve(&a)
        .unwrap_err()
        .to_string()
        .contains("--org"));
}

fn fix_cfg(args: &[&str]) -> FixConfig {
    let mut words = vec!["fix"];
    words.extend_from_slice(args);
    let Command::Fix(a) = cli(&words) else {
        unreachable!()
    };
    FixConfig::resolve(&a).expect("config")
}

fn fix(
    fake: &mut FakeAccount,
    args: &[&str],
    backup: Option<&std::path::Path>,
) -> (Result<u8, String>, String, String) {
    let cfg = fix_cfg(args);
    let given = kmsdoctor::commands::fix::Given {
        policy: None,
        backup: backup.map(|p| kmsdoctor::evidence::files::NewFile::create(p, "--backup").unwrap()),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc();
    let code = kmsdoctor::commands::fix::execute(&cfg, given, fake, now, &mut out, &mut err, ui())
        .map_err(|e| e.to_string());
    err.flush().unwrap();
    (code, text(out), text(err))
}

#[test]
fn fix_offline_dry_run_sends_nothing() {
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = LOCKED.into();
    let (code, table, _) = fix(&mut fake, &[LOCKED], None);
    assert_eq!(code, Ok(0), "{table}");
    assert!(fake.writes.is_empty(), "a dry run writes nothing");
    assert!(!fake.calls.iter().any(|c| c == "kms:PutKeyPolicy"));
    snapshot!("fix__table_dry_run", table);
    let (_, json, _) = fix(&mut fake, &[LOCKED, "--output", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict_before"], "recoverable", "{json}");
    snapshot!("fix__json_dry_run", json);
}

/// `fix KEY --apply --yes --output json --profile prod` as the key administrator, with the
/// backup at `backup`: the account after it, and the run.
fn apply_as_admin(
    key: &str,
    backup: &std::path::Path,
) -> (FakeAccount, (Result<u8, String>, String, String)) {
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = key.into();
    let run = fix(
        &mut fake,
        &[
            key,
            "--apply",
            "--yes",
            "--output",
            "json",
            "--profile",
            "prod",
        ],
        Some(backup),
    );
    (fake, run)
}

#[test]
fn fix_offline_applies_backs_up_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.json");
    let (fake, (code, json, err)) = apply_as_admin(LOCKED, &backup);
    assert_eq!(code, Ok(0), "{json}{err}");
    assert_eq!(fake.writes.len(), 1);
    let (arn, sent) = &fake.writes[0];
    assert_eq!(arn, LOCKED);
    assert!(sent.contains("Enable IAM User Permissions"), "{sent}");
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        admins_only(),
        "the policy it replaced, as KMS returned it"
    );
    // The policy in KMS was read again before the write (the guard against a change since
    // the diagnosis) and after it.
    let puts = fake
        .calls
        .iter()
        .position(|c| c == "kms:PutKeyPolicy")
        .unwrap();
    assert!(fake.calls[..puts].iter().any(|c| c == "kms:GetKeyPolicy"));
    assert!(fake.calls[puts..].iter().any(|c| c == "kms:GetKeyPolicy"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["applied"]["read_back_confirmed"], true, "{json}");
    assert_eq!(v["applied"]["verdict_now"], "ok");
    // The policy it replaced locked the account out: kmsdoctor's guards would refuse to put
    // it back, so no rollback command is printed, and the backup is kept for the record.
    assert!(err.contains("kept for the record"), "{err}");
    assert!(!err.contains("--rollback"), "{err}");
    let json = json.replace(&backup.display().to_string(), "BACKUP");
    snapshot!("fix__json_applied", json);
}

#[test]
fn fix_offline_a_refused_write_is_an_error_naming_the_safety_check() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.json");
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = LOCKED.into();
    let mut refusal = denied("PutKeyPolicy");
    refusal.code = kmsdoctor::evidence::aws::AwsCode::of(Some("MalformedPolicyDocumentException"));
    refusal.message = "MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future.".into();
    fake.put_error = Some(refusal);
    let (code, _, _) = fix(&mut fake, &[LOCKED, "--apply", "--yes"], Some(&backup));
    let e = code.unwrap_err();
    assert!(
        e.contains("kms PutKeyPolicy failed") && e.contains("lockout safety check"),
        "{e}"
    );
    assert!(fake.writes.is_empty());
    assert!(
        backup.exists(),
        "the backup is kept: the policy in force was saved first"
    );
}

/// The policy changed since the diagnosis (a colleague, a pipeline): nothing is sent.
#[test]
fn fix_offline_refuses_a_policy_changed_since_the_diagnosis() {
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = LOCKED.into();
    let (code, _, _) = fix(
        &mut fake,
        &[
            LOCKED,
            "--apply",
            "--yes",
            "--expect-policy-sha256",
            &"0".repeat(64),
        ],
        None,
    );
    assert_eq!(code, Ok(3));
    assert!(fake.writes.is_empty());
}

/// A key locked and scheduled for deletion: fix repairs the policy and says what the
/// policy does not do, with the commands (cancel the deletion before its date, then enable
/// the key), and exits 3: the key is not done with.
#[test]
fn fix_offline_leaves_no_key_pending_deletion_unsaid() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.json");
    let (fake, (code, json, err)) = apply_as_admin(DOOMED, &backup);
    assert_eq!(code, Ok(3), "{json}{err}");
    assert_eq!(fake.writes.len(), 1, "the policy is repaired");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["applied"]["verdict_now"], "ok", "{json}");
    assert_eq!(v["key_state"]["state"], "PendingDeletion", "{json}");
    assert_eq!(v["key_state"]["deletion_date"], "2026-12-01T00:00:00Z");
    let todo = v["still_to_do"].as_array().expect("still_to_do");
    assert_eq!(
        todo[0]["command"],
        format!("aws kms cancel-key-deletion --key-id {DOOMED} --region us-east-1 --profile prod")
    );
    assert!(
        todo[0]["text"]
            .as_str()
            .unwrap()
            .contains("before 2026-12-01 00:00 UTC (8 days left)"),
        "{}",
        todo[0]
    );
    assert_eq!(
        todo[1]["command"],
        format!("aws kms enable-key --key-id {DOOMED} --region us-east-1 --profile prod")
    );
    // The table says it first and last.
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = DOOMED.into();
    let (code, table, _) = fix(&mut fake, &[DOOMED], None);
    assert_eq!(code, Ok(0), "a dry run: {table}");
    assert!(
        table
            .lines()
            .nth(2)
            .unwrap_or_default()
            .starts_with("State: PendingDeletion: deleted on 2026-12-01 00:00 UTC (8 days left)"),
        "{table}"
    );
    assert!(
        table.contains("The policy does not stop the deletion: still to do"),
        "{table}"
    );
}

/// The write never shows up in KMS (the reads keep returning the old policy): the key is
/// not known to be fixed, and a script doing `fix --apply --yes && ...` must not go on.
#[test]
fn fix_offline_a_write_never_read_back_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.json");
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = LOCKED.into();
    fake.lost_writes = true;
    // The reads between attempts need not take a second here.
    std::env::set_var("KMSDOCTOR_READBACK_MS", "1");
    let (code, json, err) = fix(
        &mut fake,
        &[LOCKED, "--apply", "--yes", "--output", "json"],
        Some(&backup),
    );
    assert_eq!(code, Ok(5), "{json}{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["applied"]["read_back_confirmed"], false, "{json}");
    let (code, table, _) = fix(
        &mut fake,
        &[LOCKED, "--apply", "--yes"],
        Some(&dir.path().join("backup2.json")),
    );
    assert_eq!(code, Ok(5));
    assert!(table.contains("Sent, but not confirmed"), "{table}");
    assert!(!table.contains("Applied."), "{table}");
}

/// A key that was `ok` before: its backup passes the guards, so the way back is printed,
/// with the run's flags and --yes, ready to paste.
#[test]
fn fix_offline_prints_a_rollback_only_where_it_can_pass_the_guards() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.json");
    let mut fake = account("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice");
    fake.key_input = OK.into();
    let mut with_app = serde_json::from_str::<serde_json::Value>(
        &kmsdoctor::analysis::lockout::default_policy("aws", ACCOUNT),
    )
    .unwrap();
    with_app["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
        "Sid": "App", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/AppRole"},
        "Action": "kms:Decrypt", "Resource": "*"}));
    let doc = kmsdoctor::analysis::policy::parse_document(
        &with_app.to_string(),
        kmsdoctor::analysis::policy::PolicyKind::Key,
        "key-policy",
    )
    .unwrap();
    let cfg = fix_cfg(&[
        OK,
        "--apply",
        "--yes",
        "--profile",
        "prod",
        "--endpoint-url",
        "http://127.0.0.1:4566",
    ]);
    let given = kmsdoctor::commands::fix::Given {
        policy: Some((doc, "--policy-file")),
        backup: Some(kmsdoctor::evidence::files::NewFile::create(&backup, "--backup").unwrap()),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc();
    let code =
        kmsdoctor::commands::fix::execute(&cfg, given, &mut fake, now, &mut out, &mut err, ui());
    let (out, err) = (text(out), text(err));
    assert_eq!(code.map_err(|e| e.to_string()), Ok(0), "{out}{err}");
    let line = err
        .lines()
        .find(|l| l.contains("put it back with:"))
        .unwrap_or_else(|| panic!("no rollback line: {err}"));
    for want in [
        "--rollback",
        "--apply",
        "--yes",
        "--profile prod",
        "--region us-east-1",
        "--endpoint-url http://127.0.0.1:4566",
    ] {
        assert!(line.contains(want), "{want}: {line}");
    }
}

/// `scan` judges a policy with the key's aliases, as `why-locked` does: a delegation that
/// holds only for requests naming the key by its alias (`kms:ResourceAliases`) stands the
/// same in both (issue 24: every mode judges a policy through the same code, with the same
/// facts).
#[test]
fn scan_and_why_locked_agree_on_an_alias_condition() {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*", "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/payments"}}
        }]
    })
    .to_string();
    let mut scanned = Vec::new();
    for aliased in [true, false] {
        let key = FakeKey::new(OK, &policy);
        let key = if aliased {
            key.aliased("alias/payments")
        } else {
            key
        };
        let mut fake =
            FakeAccount::new("arn:aws:sts::111122223333:assumed-role/Auditor/ci").with_key(key);
        let (_, json, _) = scan(&mut fake, &["--region", "us-east-1", "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let k = &v["keys"][0];
        if aliased {
            assert_eq!(
                k["aliases"],
                serde_json::json!(["alias/payments"]),
                "{json}"
            );
        }
        scanned.push(k["standing"].as_str().unwrap().to_string());
        // The diagnosis of why-locked and fix (one investigation of the key, aliases
        // read) on the same account: fix's dry run says its verdict.
        fake.key_input = OK.into();
        let (_, out, _) = fix(&mut fake, &[OK, "--output", "json"], None);
        let w: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            w["verdict_before"], k["standing"],
            "aliased {aliased}: scan {json} diagnosis {out}"
        );
    }
    assert_eq!(
        scanned[0], "ok",
        "with the alias known, the delegation holds"
    );
    assert_ne!(scanned[1], "ok", "without the alias, it does not");
}
