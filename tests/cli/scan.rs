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
