//! `kmsdoctor fix` at the command line, before any AWS call: bad flags and bad files are
//! exit 1 naming them, and nothing is written. (Against AWS: tests/live.)

use assert_cmd::Command;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn fix(args: &[&str], dir: &std::path::Path) -> (i32, String) {
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .arg("fix")
        .args(args)
        .current_dir(dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_and_files_stop_fix_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.json");
    std::fs::write(&events, r#"{"Records": []}"#).unwrap();
    let existing = dir.path().join("backup.json");
    std::fs::write(&existing, "keep me").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![KEY, "--expect-policy-sha256", "abc"],
            "--expect-policy-sha256: `abc` is not a SHA-256 in hex (64 digits)",
        ),
        (
            vec![KEY, "--backup", "b.json"],
            "--backup: only --apply writes a backup",
        ),
        (
            vec![KEY, "--policy-file", events.to_str().unwrap()],
            "a CloudTrail log file: pass it with --events-file",
        ),
        (
            vec![
                KEY,
                "--apply",
                "--yes",
                "--backup",
                existing.to_str().unwrap(),
            ],
            "exists; kmsdoctor does not overwrite files",
        ),
        (
            vec![
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "--region",
                "us-east-1",
            ],
            "--region: `us-east-1` is not the key's region",
        ),
    ];
    for (args, want) in cases {
        let (code, err) = fix(&args, dir.path());
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert!(!dir.path().join("b.json").exists());
    // --policy-file and --rollback are one or the other.
    let (code, _) = fix(&[KEY, "--policy-file", "a", "--rollback", "b"], dir.path());
    assert_eq!(code, 2);
}
