//! Key states (issue 27): a key pending deletion, disabled, without key material... as
//! DescribeKey tells it, through a bundle (the same `KeyFacts` the live run reads). The
//! facts are the KMS Developer Guide's, "Key states of AWS KMS keys" (its key state table)
//! and "Cancel key deletion": PutKeyPolicy works in every state; CancelKeyDeletion only on
//! a key pending deletion and leaves it Disabled; EnableKey fails while deletion is pending.

use super::hostile::kmsdoctor;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const NOW: &str = "2026-11-23T00:00:00Z";
const ADMIN: &str = "arn:aws:iam::111122223333:role/KeyAdmin";

/// A policy that names key administrators and no IAM delegation; `admin_actions` is what
/// the administrator role may do.
fn admins_only(admin_actions: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Key administrators", "Effect": "Allow", "Principal": {"AWS": ADMIN},
             "Action": admin_actions, "Resource": "*"}
        ]
    })
    .to_string()
}

/// The lockout of a destructive attack: the policy grants only another account.
fn other_account_only() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Attacker", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
             "Action": "kms:*", "Resource": "*"}
        ]
    })
    .to_string()
}

/// A bundle as `collect` writes it, with the current policy and DescribeKey's state.
fn bundle(dir: &std::path::Path, policy: &str, properties: serde_json::Value) -> String {
    let b = serde_json::json!({
        "kind": "kmsdoctor-evidence-bundle",
        "schema_version": 1,
        "collected_at": NOW,
        "region": "us-east-1",
        "key_input": KEY,
        "key": {"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "arn": KEY, "account": "111122223333", "region": "us-east-1"},
        "caller": {"arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice", "account": "111122223333", "user_id": "AROAEXAMPLE"},
        "caller_principal_arn": null,
        "key_facts": {"resolved_by": "describe_key", "creation_date": null,
            "key_state": properties.get("state").cloned(), "key_manager": "CUSTOMER",
            "policy": policy, "policy_error": null, "aliases": null,
            "properties": properties, "problems": []},
        "records": [],
        "lookup": {"calls": 0, "pages": 0, "records": 0, "unreadable": 0, "complete": true, "problems": []},
        "existence": {},
        "simulation": null,
        "problems": []
    });
    let path = dir.join("bundle.json");
    std::fs::write(&path, b.to_string()).unwrap();
    path.display().to_string()
}

fn pending(date: &str) -> serde_json::Value {
    serde_json::json!({"key_manager": "CUSTOMER", "state": "PendingDeletion",
        "deletion_date": date, "pending_window_days": 7})
}

fn why_locked(path: &str, output: &str) -> (i32, String, String) {
    kmsdoctor(&[
        "why-locked",
        "--from",
        path,
        KEY,
        "--now",
        NOW,
        "--output",
        output,
    ])
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The key administrator role's entry among the recoverable administrators.
fn admin_role(doc: &serde_json::Value) -> serde_json::Value {
    doc["recoverable_admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["principal"] == ADMIN)
        .cloned()
        .expect("the admin role")
}

/// The plan's commands, in order, each step's alternative after it.
fn commands(doc: &serde_json::Value) -> Vec<String> {
    crate::plan_commands(doc)
}

fn position(cmds: &[String], needle: &str) -> usize {
    cmds.iter()
        .position(|c| c.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in {cmds:#?}"))
}

/// Lock the key, then schedule its deletion: the state and date come first in the table,
/// the JSON says them, the first finding names the deadline, and the AWS Support step says
/// the date in its first line.
#[test]
fn a_locked_key_pending_deletion_says_its_deadline_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle(
        dir.path(),
        &other_account_only(),
        pending("2026-11-30T00:00:00Z"),
    );
    let (code, out, err) = why_locked(&path, "json");
    assert_eq!(code, 4, "unrecoverable: {err}");
    let doc = json(&out);
    assert_eq!(doc["verdict"], "unrecoverable");
    assert_eq!(doc["key"]["state"], "PendingDeletion");
    assert_eq!(doc["key"]["deletion_date"], "2026-11-30T00:00:00Z");
    assert_eq!(doc["key"]["pending_window_days"], 7);
    assert_eq!(doc["key"]["days_left"], 7);
    assert_eq!(doc["findings"][0]["id"], "KL220", "{:#}", doc["findings"]);
    let first = doc["recovery_plan"][0]["text"].as_str().unwrap();
    assert!(
        first.contains("2026-11-30 00:00 UTC (7 days left)") && first.contains("AWS Support"),
        "{first}"
    );
    assert!(first.contains("before that date"), "{first}");

    let (_, table, _) = why_locked(&path, "table");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[1]
            .starts_with("State: PendingDeletion: deleted on 2026-11-30 00:00 UTC (7 days left)"),
        "{table}"
    );
    assert!(lines[2].starts_with("Verdict: unrecoverable"), "{table}");
}

/// A key administrator that may cancel the deletion does so first, then repairs the
/// policy, then enables the key (EnableKey fails while deletion is pending).
#[test]
fn recoverable_and_pending_deletion_cancels_first_then_repairs_then_enables() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle(
        dir.path(),
        &admins_only(&["kms:*"]),
        pending("2026-11-30T00:00:00Z"),
    );
    let (code, out, err) = why_locked(&path, "json");
    assert_eq!(code, 3, "recoverable: {err}{out}");
    let doc = json(&out);
    let admin = admin_role(&doc);
    assert_eq!(admin["can_cancel_key_deletion"], true);
    assert_eq!(admin["can_enable_key"], true);
    let cmds = commands(&doc);
    let cancel = position(&cmds, "aws kms cancel-key-deletion");
    let put = position(&cmds, "aws kms put-key-policy");
    let enable = position(&cmds, "aws kms enable-key");
    assert!(cancel < put && put < enable, "{cmds:#?}");
    assert!(
        cmds[cancel].contains("--region us-east-1"),
        "{}",
        cmds[cancel]
    );
    assert!(cmds[cancel].contains(KEY), "{}", cmds[cancel]);
}

/// An administrator that may change the policy but not cancel the deletion: the repair
/// comes first, and the cancellation right after it, through the delegation put back.
#[test]
fn an_admin_without_cancel_repairs_first_then_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle(
        dir.path(),
        &admins_only(&["kms:PutKeyPolicy", "kms:GetKeyPolicy"]),
        pending("2026-11-30T00:00:00Z"),
    );
    let (code, out, err) = why_locked(&path, "json");
    assert_eq!(code, 3, "recoverable: {err}{out}");
    let doc = json(&out);
    let admin = admin_role(&doc);
    assert_eq!(admin["can_cancel_key_deletion"], false, "{admin:#}");
    let cmds = commands(&doc);
    let put = position(&cmds, "aws kms put-key-policy");
    let cancel = position(&cmds, "aws kms cancel-key-deletion");
    let enable = position(&cmds, "aws kms enable-key");
    assert!(put < cancel && cancel < enable, "{cmds:#?}");
}

/// Every other state that keeps the key from use is named (KL221), with what it needs;
/// a state the table does not list is never taken for Enabled; one that is not a word is
/// not repeated.
#[test]
fn every_state_that_keeps_the_key_from_use_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for (state, says) in [
        ("Disabled", "EnableKey"),
        ("PendingImport", "key material"),
        ("Unavailable", "custom key store"),
        ("PendingReplicaDeletion", "replicas"),
        ("Creating", "being created"),
        ("Frozen", "not taken for Enabled"),
        ("Pend\u{1b}[31mX", "(not a state name)"),
    ] {
        let path = bundle(
            dir.path(),
            &admins_only(&["kms:*"]),
            serde_json::json!({"key_manager": "CUSTOMER", "state": state}),
        );
        let (code, out, err) = why_locked(&path, "json");
        assert_eq!(code, 3, "{state}: {err}{out}");
        let doc = json(&out);
        let f = &doc["findings"][0];
        let id = if state == "PendingReplicaDeletion" {
            "KL220"
        } else {
            "KL221"
        };
        assert_eq!(f["id"], id, "{state}: {:#}", doc["findings"]);
        assert!(
            f["message"].as_str().unwrap().contains(says),
            "{state}: {f:#}"
        );
        let (_, table, _) = why_locked(&path, "table");
        assert!(!table.contains('\u{1b}'), "{table}");
        if state == "Disabled" {
            let cmds = commands(&doc);
            assert!(
                position(&cmds, "aws kms put-key-policy") < position(&cmds, "aws kms enable-key")
            );
        }
    }
    // Enabled and Updating keys are usable: no state finding.
    for state in ["Enabled", "Updating"] {
        let path = bundle(
            dir.path(),
            &admins_only(&["kms:*"]),
            serde_json::json!({"state": state}),
        );
        let (_, out, _) = why_locked(&path, "json");
        let doc = json(&out);
        assert!(
            doc["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["id"] != "KL221" && f["id"] != "KL220"),
            "{state}: {:#}",
            doc["findings"]
        );
        assert!(commands(&doc).iter().all(|c| !c.contains("enable-key")));
    }
}
