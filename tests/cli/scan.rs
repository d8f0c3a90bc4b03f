//! `kmsdoctor scan` flags, checked before any AWS call. (Against AWS: tests/live.)

use assert_cmd::Command;

#[test]
fn bad_scan_flags_are_exit_1_before_any_call() {
    for (args, want) in [
        (vec!["--rate", "0"], "--rate: give 1 to 1000 calls a second"),
        (
            vec!["--regions", "us-east-1,not a region"],
            "--regions: `not a region` is not a region name",
        ),
        (
            vec!["--since", "30"],
            "--since: scan reads each key's current policy",
        ),
        (
            vec!["--regions", "us-east-1", "--region", "eu-west-1"],
            "--region: give the regions to scan with --regions alone",
        ),
        // A mistyped region is a usage error before any call (issue 24), not a scan
        // failure that CI would read as a key at risk.
        (
            vec!["--regions", "us-east-1,us-esat-1"],
            "--regions: `us-esat-1` is not a region kmsdoctor knows (did you mean `us-east-1`?)",
        ),
        (
            vec!["--region", "eu-wset-1"],
            "--region: `eu-wset-1` is not a region kmsdoctor knows (did you mean `eu-west-1`?)",
        ),
    ] {
        let out = Command::cargo_bin("kmsdoctor")
            .expect("binary")
            .arg("scan")
            .args(&args)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A region AWS opened after this release: refused, unless --any-region says it is meant.
#[test]
fn an_unknown_region_needs_any_region() {
    let (code, _, err) = kmsdoctor(&[
        "why-locked",
        "arn:aws:kms:xx-newland-9:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--any-region"), "{err}");
    let (code, _, err) = kmsdoctor(&[
        "scan",
        "--regions",
        "xx-newland-9",
        "--any-region",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert!(!err.contains("is not a region"), "{code}: {err}");
}

fn kmsdoctor(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `guard` over a scan's JSON (issue 11, item 4): deleting a key's only administrator is
/// exit 3 naming the key; deleting someone else is exit 0; a file that is not a scan is
/// exit 1 naming it.
#[test]
fn guard_over_a_scan_file() {
    let dir = tempfile::tempdir().unwrap();
    let glass = "arn:aws:iam::111122223333:role/BreakGlass";
    let scan = serde_json::json!({
        "kind": "kmsdoctor-scan", "schema_version": 1,
        "keys": [
            {"arn": "arn:aws:kms:us-east-1:111122223333:key/1111abcd-12ab-34cd-56ef-1234567890ab",
             "region": "us-east-1", "standing": "recoverable", "can_recover": 1, "admins": [glass]},
            {"arn": "arn:aws:kms:us-east-1:111122223333:key/2222abcd-12ab-34cd-56ef-1234567890ab",
             "region": "us-east-1", "standing": "ok", "can_recover": 1,
             "admins": ["arn:aws:iam::111122223333:root"]}
        ]
    });
    let file = dir.path().join("scan.json");
    std::fs::write(&file, scan.to_string()).unwrap();
    let f = file.to_str().unwrap();

    let (code, out, err) =
        kmsdoctor(&["guard", "--delete", glass, "--scan", f, "--output", "json"]);
    assert_eq!(code, 3, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["safe"], false);
    assert_eq!(v["at_risk"][0]["drops_to_none"], true);
    assert!(v["at_risk"][0]["arn"]
        .as_str()
        .unwrap()
        .contains("1111abcd"));
    assert_eq!(v["keys_judged"], 2);

    let (code, out, err) = kmsdoctor(&[
        "guard",
        "--delete",
        "arn:aws:iam::111122223333:role/Unrelated",
        "--scan",
        f,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Safe:"), "{out}");

    let (code, _, err) = kmsdoctor(&["guard", "--delete", "not-an-arn", "--scan", f]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--delete: `not-an-arn` is not a user or role ARN"),
        "{err}"
    );

    let other = dir.path().join("policy.json");
    std::fs::write(&other, r#"{"Statement": []}"#).unwrap();
    let (code, _, err) = kmsdoctor(&[
        "guard",
        "--delete",
        glass,
        "--scan",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("policy.json") && err.contains("not the JSON of `kmsdoctor scan"),
        "{err}"
    );
}

/// Completions and man pages come from the flags themselves (issue 11, item 6).
#[test]
fn completions_and_man_pages_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = kmsdoctor(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for word in [
            "why-locked",
            "guard",
            "expect-policy-sha256",
            "assume-deleted",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, _, err) = kmsdoctor(&["manpages", "--out-dir", d]);
    assert_eq!(code, 0, "{err}");
    for page in [
        "kmsdoctor",
        "kmsdoctor-why-locked",
        "kmsdoctor-fix",
        "kmsdoctor-scan",
        "kmsdoctor-guard",
        "kmsdoctor-check",
    ] {
        let text = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    // Every page has EXAMPLES and EXIT STATUS (issue 24).
    for page in ["kmsdoctor-why-locked", "kmsdoctor-guard", "kmsdoctor-fix"] {
        let text = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).unwrap();
        assert!(
            text.contains(".SH EXAMPLES") && text.contains(".SH \"EXIT STATUS\""),
            "{page}"
        );
        assert!(!text.contains(".SH EXTRA"), "{page}");
    }
    // Again, as after an upgrade: kmsdoctor's own pages are replaced.
    let (code, _, err) = kmsdoctor(&["manpages", "--out-dir", d]);
    assert_eq!(code, 0, "its own pages are replaced: {err}");
    // A file of the same name that is not one of its pages is never overwritten.
    std::fs::write(dir.path().join("kmsdoctor-fix.1"), "mine").unwrap();
    let (code, _, err) = kmsdoctor(&["manpages", "--out-dir", d]);
    assert_eq!(code, 1);
    assert!(
        err.contains("exists; kmsdoctor does not overwrite files"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("kmsdoctor-fix.1")).unwrap(),
        "mine"
    );
    let (code, _, _) = kmsdoctor(&["manpages", "--out-dir", &format!("{d}/no/such")]);
    assert_eq!(code, 1);
}

/// A scan file whose keys lack `admins` is refused: read leniently, every key would look
/// safe to delete from.
#[test]
fn a_scan_file_without_admins_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.json");
    std::fs::write(
        &file,
        r#"{"kind": "kmsdoctor-scan", "schema_version": 1, "keys": [
            {"arn": "arn:aws:kms:us-east-1:111122223333:key/1111abcd-12ab-34cd-56ef-1234567890ab",
             "region": "us-east-1", "standing": "recoverable", "can_recover": 1}]}"#,
    )
    .unwrap();
    let (code, _, err) = kmsdoctor(&[
        "guard",
        "--delete",
        "arn:aws:iam::111122223333:role/BreakGlass",
        "--scan",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("old.json") && err.contains("admins"), "{err}");
}

/// Issue 24, item 9: `-h` is short (the request-chain and Athena flags only in `--help`),
/// and both end with examples and the exit codes.
#[test]
fn short_help_is_short_and_long_help_is_whole() {
    let (_, short, _) = kmsdoctor(&["why-locked", "-h"]);
    let (_, long, _) = kmsdoctor(&["why-locked", "--help"]);
    assert!(
        !short.contains("--athena-workgroup") && !short.contains("--scp"),
        "{short}"
    );
    assert!(
        long.contains("--athena-workgroup") && long.contains("--scp"),
        "{long}"
    );
    for text in [&short, &long] {
        assert!(
            text.contains("Examples:") && text.contains("Exit codes:"),
            "{text}"
        );
    }
    assert!(short.lines().count() < long.lines().count() / 2, "{short}");
}
