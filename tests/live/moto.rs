//! End-to-end tests of live mode against a moto server on loopback (KMS, IAM, STS), started
//! by `scripts/test`, which sets `KMSDOCTOR_MOTO_ENDPOINT`. moto does not enforce key
//! policies and has no CloudTrail LookupEvents (it answers 500): these tests check the real
//! request and reply shapes, alias resolution, IAM existence checks, the read-only guard on
//! the wire, and that a missing CloudTrail leaves the diagnosis marked incomplete.

use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use kmsdoctor::evidence::aws::{http_client, is_allowed, Clients, LookupPacing};

const ACCOUNT: &str = "123456789012"; // moto's

fn endpoint() -> String {
    std::env::var("KMSDOCTOR_MOTO_ENDPOINT")
        .expect("KMSDOCTOR_MOTO_ENDPOINT is not set: run the tests with `bash scripts/test`, which starts the moto server")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config() -> SdkConfig {
    runtime().block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint())
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "kmsdoctor-tests",
            ))
            .load(),
    )
}

/// Unguarded clients, for setting the scene (creating keys, roles, policies).
fn setup_kms() -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&config())
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn delegation() -> serde_json::Value {
    serde_json::json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"})
}

fn admin(role: &str) -> serde_json::Value {
    serde_json::json!({"Sid": format!("Admin{role}"), "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/{role}")}, "Action": "kms:*", "Resource": "*"})
}

fn create_key(policy: Option<serde_json::Value>) -> String {
    let kms = setup_kms();
    let rt = runtime();
    let mut req = kms.create_key().description("kmsdoctor test");
    if let Some(p) = policy {
        req = req
            .policy(p.to_string())
            .bypass_policy_lockout_safety_check(true);
    }
    let out = rt.block_on(req.send()).expect("CreateKey on moto");
    out.key_metadata().unwrap().arn().unwrap().to_string()
}

fn create_role(name: &str) {
    let iam = aws_sdk_iam::Client::new(&config());
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
    runtime()
        .block_on(
            iam.create_role()
                .role_name(name)
                .assume_role_policy_document(trust.to_string())
                .send(),
        )
        .expect("CreateRole on moto");
}

/// Runs the binary against moto, as a person would, with moto's dummy credentials.
fn kmsdoctor(args: &[&str]) -> Output {
    kmsdoctor_with(&[], args)
}

/// [`kmsdoctor`] with more environment (credentials of another principal, settings).
fn kmsdoctor_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::cargo_bin("kmsdoctor").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KMSDOCTOR_LOOKUP_BACKOFF_MS", "1")
        .env("KMSDOCTOR_READBACK_MS", "10")
        .env("KMSDOCTOR_ATHENA_POLL_MS", "10");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args)
        .args(["--endpoint-url", &endpoint(), "--region", "us-east-1"])
        .output()
        .unwrap()
}

/// `why-locked KEY --from BUNDLE --output json --now NOW`, offline: the JSON.
fn offline_json(key: &str, bundle: &std::path::Path, now: &str) -> serde_json::Value {
    let out = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args(["why-locked", key, "--from", bundle.to_str().unwrap()])
        .args(["--output", "json", "--now", now])
        .output()
        .unwrap();
    json(&out)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_healthy_key_is_ok_and_the_missing_cloudtrail_is_said() {
    let arn = create_key(None);
    let id = arn.rsplit('/').next().unwrap().to_string();
    let out = kmsdoctor(&["why-locked", &id, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["key"]["arn"], arn.as_str());
    assert_eq!(v["policy_source"], "current");
    assert_eq!(v["evidence"]["source"], "aws");
    // moto has no LookupEvents: the history is incomplete, and the output says so.
    assert_eq!(v["evidence"]["complete"], false);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "KL215"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: cloudtrail LookupEvents"), "{err}");
    // stderr is not a terminal here: each retry is still a line (issue 15, item 8).
    assert!(
        err.contains("kmsdoctor: CloudTrail LookupEvents (PutKeyPolicy) failed ("),
        "{err}"
    );
    assert!(err.contains("): attempt 2 of "), "{err}");

    // --verbose logs every call and retry; without colour, as stderr is not a terminal.
    let out = kmsdoctor(&["why-locked", &id, "--output", "json", "--verbose"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("aws call") && err.contains("GetKeyPolicy"),
        "{err}"
    );
    assert!(err.contains("LookupEvents retry"), "{err}");
    assert!(!err.contains('\x1b'), "{err}");
}

#[test]
fn a_replaced_policy_without_the_delegation_is_recoverable_by_an_existing_role() {
    let keeper = unique("KeyAdmin");
    let gone = unique("Departed");
    create_role(&keeper);
    let policy =
        serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&keeper), admin(&gone)]});
    let arn = create_key(Some(
        serde_json::json!({"Version": "2012-10-17", "Statement": [delegation()]}),
    ));
    runtime()
        .block_on(
            setup_kms()
                .put_key_policy()
                .key_id(&arn)
                .policy_name("default")
                .policy(policy.to_string())
                .bypass_policy_lockout_safety_check(true)
                .send(),
        )
        .expect("PutKeyPolicy on moto");
    // A grant made before (issue 28): ListGrants lists it live, a data path whatever the
    // policy says.
    let grant = runtime()
        .block_on(
            setup_kms()
                .create_grant()
                .key_id(&arn)
                .grantee_principal(format!("arn:aws:iam::{ACCOUNT}:role/App"))
                .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
                .operations(aws_sdk_kms::types::GrantOperation::GenerateDataKey)
                .send(),
        )
        .expect("CreateGrant on moto");
    let grant_id = grant.grant_id().unwrap().to_string();

    let out = kmsdoctor(&["why-locked", &arn, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["verdict"], "recoverable");
    let admins = v["recoverable_admins"].as_array().unwrap();
    let find = |name: &str| {
        admins
            .iter()
            .find(|a| a["principal"].as_str().unwrap().ends_with(name))
            .cloned()
    };
    let kept = find(&keeper).expect("the existing role");
    assert_eq!(kept["exists"], "yes");
    assert!(
        !kept["notes"].to_string().contains("must still exist"),
        "IAM said it exists: {kept}"
    );
    assert!(
        find(&gone).is_none(),
        "a deleted role cannot recover anything"
    );
    let listed = v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grant_id"] == grant_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("the grant, listed: {}", v["grants"]));
    assert_eq!(listed["status"], "live");
    assert!(v["grants_note"]
        .as_str()
        .unwrap()
        .contains("ListGrants listed"));
    let path = v["data_paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["grant_id"] == grant_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("a data path by the grant: {}", v["data_paths"]));
    assert_eq!(path["via"], "grant");
    assert_eq!(
        path["operations"],
        serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"])
    );
    let kl206 = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "KL206")
        .expect("KL206");
    assert!(kl206["message"].as_str().unwrap().contains(&gone));
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "KL201"));
}

#[test]
fn only_deleted_admins_left_is_unrecoverable() {
    let gone = unique("Gone");
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&gone)]});
    let arn = create_key(Some(policy));
    let out = kmsdoctor(&["why-locked", &arn, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["verdict"], "unrecoverable");
    assert!(v["recoverable_admins"].as_array().unwrap().is_empty());
    let kl206 = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "KL206")
        .expect("KL206");
    assert!(
        kl206["message"]
            .as_str()
            .unwrap()
            .contains("nobody else can"),
        "{kl206}"
    );
}

#[test]
fn an_alias_resolves_to_its_key() {
    let arn = create_key(None);
    let alias = format!("alias/{}", unique("kmsdoctor-test"));
    runtime()
        .block_on(
            setup_kms()
                .create_alias()
                .alias_name(&alias)
                .target_key_id(&arn)
                .send(),
        )
        .expect("CreateAlias on moto");
    let out = kmsdoctor(&["why-locked", &alias, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["key"]["arn"], arn.as_str());
}

#[test]
fn collect_then_diagnose_offline_gives_the_same_verdict() {
    let gone = unique("Gone");
    let arn = create_key(Some(
        serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&gone)]}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.json");
    let out = kmsdoctor(&["collect", &arn, "--out", bundle.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));

    let live = json(&kmsdoctor(&[
        "why-locked",
        &arn,
        "--output",
        "json",
        "--now",
        "2026-11-23T00:00:00Z",
    ]));
    let offline = Command::cargo_bin("kmsdoctor")
        .unwrap()
        .args([
            "why-locked",
            &arn,
            "--from",
            bundle.to_str().unwrap(),
            "--output",
            "json",
            "--now",
            "2026-11-23T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(4));
    let offline = json(&offline);
    assert_eq!(offline["verdict"], live["verdict"]);
    assert_eq!(offline["recoverable_admins"], live["recoverable_admins"]);
    assert_eq!(offline["evidence"]["source"], "bundle");

    // collect never overwrites.
    let again = kmsdoctor(&["collect", &arn, "--out", bundle.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
}

#[test]
fn a_missing_key_is_a_one_line_error() {
    let out = kmsdoctor(&["why-locked", "1234abcd-12ab-34cd-56ef-1234567890ab"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NotFoundException"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Everything the live path sends is a read; a mutating call through kmsdoctor's clients is
/// refused before it leaves, and the key on the server is unchanged.
#[test]
fn live_collection_only_reads_and_the_guard_holds_on_the_wire() {
    let arn = create_key(None);
    let clients = Clients::new(&config());
    let req = kmsdoctor::evidence::aws_source::Request {
        connection: Default::default(),
        key_input: arn.clone(),
        since: std::time::Duration::from_secs(86_400),
        now: chrono::Utc::now(),
        pacing: LookupPacing {
            interval: std::time::Duration::from_millis(1),
            backoff: std::time::Duration::from_millis(1),
            max_attempts: 2,
        },
        history: Default::default(),
        archive: Default::default(),
    };
    let rt = runtime();
    let calls_log = clients.calls.clone();
    let mut source =
        kmsdoctor::evidence::aws_source::AwsSource::over(clients.clone(), req, &|_| {}).unwrap();
    kmsdoctor::commands::collect::gather(&mut source, chrono::Utc::now()).unwrap();
    let bundle = source.bundle().unwrap();
    assert!(bundle.key_facts.policy.is_some());
    let calls = calls_log.calls();
    assert!(calls.len() >= 5, "{calls:?}");
    assert!(
        calls.iter().all(|c| is_allowed(&c.service, &c.operation)),
        "{calls:?}"
    );

    let before = rt
        .block_on(
            setup_kms()
                .get_key_policy()
                .key_id(&arn)
                .policy_name("default")
                .send(),
        )
        .unwrap();
    let refused = rt.block_on(
        clients
            .kms
            .put_key_policy()
            .key_id(&arn)
            .policy_name("default")
            .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send(),
    );
    assert!(
        format!("{refused:?}").contains("kmsdoctor is read-only"),
        "{refused:?}"
    );
    // A name that starts like a read is not enough: only the allow-list passes.
    let token = rt.block_on(clients.sts.get_session_token().send());
    assert!(
        format!("{token:?}").contains("kmsdoctor is read-only"),
        "{token:?}"
    );
    let after = rt
        .block_on(
            setup_kms()
                .get_key_policy()
                .key_id(&arn)
                .policy_name("default")
                .send(),
        )
        .unwrap();
    assert_eq!(
        before.policy(),
        after.policy(),
        "the server's policy is unchanged"
    );
}

#[test]
fn missing_region_and_missing_credentials_are_one_line_errors() {
    let home = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = Command::cargo_bin("kmsdoctor").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args([
                "why-locked",
                "1234abcd-12ab-34cd-56ef-1234567890ab",
                "--endpoint-url",
                &endpoint(),
            ]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no AWS region"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let out = run(&[("AWS_REGION", "us-east-1")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no AWS credentials"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    // A key ARN names its region: no region needed from elsewhere (issue 15, item 3).
    let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let bin = || {
        let mut cmd = Command::cargo_bin("kmsdoctor").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    };
    let out = bin()
        .args(["why-locked", arn, "--endpoint-url", &endpoint()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no AWS credentials"),
        "region from the ARN: {err}"
    );
    // A --region that contradicts the ARN is a flag error, before any call.
    let out = bin()
        .args(["why-locked", arn, "--region", "us-east-1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--region: `us-east-1` is not the key's region: its ARN is in eu-west-1"),
        "{err}"
    );
}

/// Errors in words a user can act on (issue 15, item 4): a profile that is not in the
/// config files names the files and the profiles they have; an endpoint that cannot be
/// reached names it and the reason, in one line, without the SDK's internals.
#[test]
fn a_missing_profile_and_an_unreachable_endpoint_are_plain_one_line_errors() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    std::fs::write(
        &config,
        "[profile ops]\nregion = us-east-1\n[profile audit]\nregion = eu-west-1\n",
    )
    .unwrap();
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = Command::cargo_bin("kmsdoctor").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["why-locked", "alias/x", "--region", "us-east-1"])
            .args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (args, envs, source) in [
        (&["--profile", "nosuch"][..], &[][..], "--profile"),
        (&[][..], &[("AWS_PROFILE", "nosuch")][..], "AWS_PROFILE"),
    ] {
        let (code, err) = run(args, envs);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "no profile `nosuch` ({source}) in {}",
                config.display()
            )),
            "{err}"
        );
        assert!(err.contains("the profiles there are audit, ops"), "{err}");
        assert!(!err.contains("IMDS"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // The profile exists but gives no credentials: it is named.
    let (code, err) = run(&["--profile", "ops"], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no AWS credentials from the profile `ops`"),
        "{err}"
    );

    // Nothing listens on the port: refused, named, one line.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (code, err) = run(
        &["--endpoint-url", &url],
        &[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot reach {url}: tcp connect error: Connection refused"
        )),
        "{err}"
    );
    assert!(
        !err.contains("DispatchFailure") && !err.contains("ConnectorError"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn key_policy_now(arn: &str) -> String {
    runtime()
        .block_on(
            setup_kms()
                .get_key_policy()
                .key_id(arn)
                .policy_name("default")
                .send(),
        )
        .unwrap()
        .policy()
        .unwrap()
        .to_string()
}

/// `fix` on a key whose delegation was removed (issue 12): the dry run sends nothing; --apply
/// without a terminal needs --yes; with it, the old policy is saved, the repaired one put and
/// read back, and the key is ok. Putting the locked policy back is refused by the same guards,
/// and so is a policy that changed since the fingerprint given.
#[test]
fn fix_puts_the_delegation_back_with_a_backup() {
    let role = unique("FixAdmin");
    create_role(&role);
    let locked = serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&role)]});
    let arn = create_key(Some(locked.clone()));
    let before = key_policy_now(&arn);

    let out = kmsdoctor(&["fix", &arn, "--output", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v = json(&out);
    assert_eq!(v["mode"], "dry_run");
    assert_eq!(v["verdict_before"], "recoverable");
    assert_eq!(v["plan"]["verdict_after"], "ok");
    assert!(v["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["statement"] == "Enable IAM User Permissions" && c["change"] == "added"));
    assert_eq!(key_policy_now(&arn), before, "a dry run sends nothing");

    let out = kmsdoctor(&["fix", &arn, "--apply"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not on a terminal") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(key_policy_now(&arn), before);

    let other = "0".repeat(64);
    let out = kmsdoctor(&[
        "fix",
        &arn,
        "--apply",
        "--yes",
        "--expect-policy-sha256",
        &other,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("changed since"),
        "{err}"
    );
    assert_eq!(key_policy_now(&arn), before);

    let dir = tempfile::tempdir().unwrap();
    // A file name with shell syntax: the printed way back quotes it.
    let backup = dir.path().join("my backup $(id).json");
    let out = kmsdoctor(&[
        "fix",
        &arn,
        "--apply",
        "--yes",
        "--backup",
        backup.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v = json(&out);
    assert_eq!(v["mode"], "applied");
    assert_eq!(v["applied"]["read_back_confirmed"], true);
    assert_eq!(v["applied"]["verdict_now"], "ok");
    // For the key's sources: no CloudFormation tags here, and the Terraform resource.
    assert!(v["sources"]["cloudformation_stack"].is_null());
    assert!(v["sources"]["terraform"]
        .as_str()
        .unwrap()
        .contains("resource \"aws_kms_key_policy\""));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
    let now: serde_json::Value = serde_json::from_str(&key_policy_now(&arn)).unwrap();
    assert!(
        now.to_string().contains("Enable IAM User Permissions"),
        "{now}"
    );
    // The replaced policy locked the account out: the guards would refuse it back, so no
    // rollback command is printed and the backup is kept for the record.
    assert!(err.contains("kept for the record"), "{err}");
    assert!(!err.contains("--rollback"), "{err}");

    // The old, locked policy back: refused (not ok), nothing sent.
    let out = kmsdoctor(&[
        "fix",
        &arn,
        "--rollback",
        backup.to_str().unwrap(),
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not ok"));
    assert!(key_policy_now(&arn).contains("Enable IAM User Permissions"));
}

/// `scan` over two regions (issue 11): each customer-managed key judged on its policy,
/// worst first, with the command to look closer; a key pending deletion listed apart; exit 3
/// as one key is not ok.
#[test]
fn scan_judges_every_key_worst_first() {
    let ok = create_key(None);
    let role = unique("ScanAdmin");
    create_role(&role);
    let locked = create_key(Some(
        serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&role)]}),
    ));
    let doomed = create_key(None);
    runtime()
        .block_on(
            setup_kms()
                .schedule_key_deletion()
                .key_id(doomed.rsplit('/').next().unwrap())
                .pending_window_in_days(7)
                .send(),
        )
        .unwrap();
    let out = kmsdoctor(&[
        "scan",
        "--regions",
        "us-east-1,eu-west-1",
        "--output",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let v = json(&out);
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["regions"], serde_json::json!(["us-east-1", "eu-west-1"]));
    let keys = v["keys"].as_array().unwrap();
    let find = |arn: &str| keys.iter().position(|k| k["arn"] == arn);
    let (ok_at, locked_at) = (
        find(&ok).expect("the ok key"),
        find(&locked).expect("the locked key"),
    );
    assert!(locked_at < ok_at, "worst first");
    assert_eq!(keys[ok_at]["standing"], "ok");
    assert_eq!(keys[locked_at]["standing"], "recoverable");
    assert_eq!(keys[locked_at]["can_recover"], 1);
    assert!(keys[locked_at]["findings"].to_string().contains("KL201"));
    assert_eq!(
        keys[locked_at]["follow_up"],
        // The run's endpoint too: pasted, the follow-up reads the same (emulated) account.
        format!(
            "kmsdoctor why-locked {locked} --region us-east-1 --endpoint-url {}",
            endpoint()
        )
    );
    // A key pending deletion is judged too (GetKeyPolicy works in every state), with its
    // state and date; an ok one sorts with the ok keys.
    let doomed_at = find(&doomed).expect("the key pending deletion");
    assert_eq!(keys[doomed_at]["state"], "PendingDeletion");
    assert!(
        keys[doomed_at]["deletion_date"].is_string(),
        "{}",
        keys[doomed_at]
    );
    assert!(v["pending_deletion"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["arn"] == doomed.as_str()));

    let table = kmsdoctor(&["scan"]);
    let text = String::from_utf8_lossy(&table.stdout);
    let id = locked.rsplit('/').next().unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("recoverable") && l.contains(id)),
        "{text}"
    );
    assert!(text.contains("Pending deletion"), "{text}");

    // Live guard: the locked key's only administrator may not be deleted; its scan JSON,
    // saved, gives the same answer offline.
    let admin_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let g = kmsdoctor(&["guard", "--delete", &admin_arn, "--output", "json"]);
    assert_eq!(
        g.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&g.stderr)
    );
    let gv = json(&g);
    assert!(gv["at_risk"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["arn"] == locked.as_str() && k["drops_to_none"] == true));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scan.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let g = kmsdoctor(&[
        "guard",
        "--delete",
        &admin_arn,
        "--scan",
        file.to_str().unwrap(),
    ]);
    assert_eq!(g.status.code(), Some(3));
}

/// `scan --org` (issue 11, item 1): the organization's accounts through the role assumed in
/// each; the caller's own account with its own credentials.
/// A configuration acting in the member account `m`, through the role `scan --org` assumes
/// there.
fn member_config(m: &str) -> SdkConfig {
    let creds = runtime()
        .block_on(
            aws_sdk_sts::Client::new(&config())
                .assume_role()
                .role_arn(format!(
                    "arn:aws:iam::{m}:role/OrganizationAccountAccessRole"
                ))
                .role_session_name("setup")
                .send(),
        )
        .expect("AssumeRole on moto")
        .credentials()
        .cloned()
        .unwrap();
    config()
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "member",
            )),
        )
        .build()
}

/// A new member account of the organization (made once per test run's organization).
fn new_member(org: &aws_sdk_organizations::Client) -> Option<String> {
    let _ = runtime().block_on(org.create_organization().send());
    runtime()
        .block_on(
            org.create_account()
                .email(format!("{}@example.com", unique("member")))
                .account_name(unique("member"))
                .send(),
        )
        .expect("CreateAccount on moto")
        .create_account_status()
        .and_then(|s| s.account_id())
        .map(str::to_string)
}

/// Enables a policy type in the organization's root (already enabled is fine); the root id.
fn enable_in_root(
    org: &aws_sdk_organizations::Client,
    ty: aws_sdk_organizations::types::PolicyType,
) -> String {
    let rt = runtime();
    let root = rt
        .block_on(org.list_roots().send())
        .expect("ListRoots on moto")
        .roots()[0]
        .id()
        .unwrap()
        .to_string();
    let _ = rt.block_on(
        org.enable_policy_type()
            .root_id(&root)
            .policy_type(ty)
            .send(),
    );
    root
}

#[test]
fn scan_org_covers_every_account_of_the_organization() {
    let org = aws_sdk_organizations::Client::new(&config());
    let rt = runtime();
    let member = new_member(&org);
    let mine = create_key(None);
    // A key in the member account, made through the role scan --org assumes there.
    let member_key = member.as_ref().map(|m| {
        let out = rt
            .block_on(
                aws_sdk_kms::Client::new(&member_config(m))
                    .create_key()
                    .send(),
            )
            .expect("CreateKey in the member account");
        out.key_metadata().unwrap().arn().unwrap().to_string()
    });
    let out = kmsdoctor(&["scan", "--org", "--output", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{err}");
    let v = json(&out);
    let accounts = v["accounts"].as_array().unwrap();
    assert!(accounts.iter().any(|a| a == ACCOUNT), "{v}");
    if let Some(m) = &member {
        assert!(accounts.iter().any(|a| *a == serde_json::json!(m)), "{v}");
    }
    let keys = v["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["arn"] == mine.as_str()));
    if let Some(mk) = &member_key {
        assert!(
            mk.contains(&format!(":{}:", member.as_deref().unwrap())),
            "moto made the key in the member account: {mk}"
        );
        assert!(keys.iter().any(|k| k["arn"] == mk.as_str()), "{v}");
    }
    // --role-name without --org is a flag error.
    let out = kmsdoctor(&["scan", "--role-name", "Other"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The request chain live (issue 13): a role whose inline policy allows kms:* but whose
/// permissions boundary omits kms:PutKeyPolicy. The key policy delegates to IAM, so the key
/// is ok; kmsdoctor reads the role's inline and managed policies and its boundary from IAM
/// (URL-encoded, as IAM returns them) and names the boundary as the layer that denies. The
/// bundle `collect` writes keeps the layers, and `--from` says the same offline.
#[test]
fn the_caller_denied_by_its_permissions_boundary_is_named_live_and_offline() {
    let rt = runtime();
    let iam = aws_sdk_iam::Client::new(&config());
    let role = unique("Bounded");
    let boundary = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["kms:GetKeyPolicy", "kms:DescribeKey", "kms:List*"], "Resource": "*"}]});
    let boundary_arn = rt
        .block_on(
            iam.create_policy()
                .policy_name(unique("KmsReadOnly"))
                .policy_document(boundary.to_string())
                .send(),
        )
        .expect("CreatePolicy on moto")
        .policy()
        .and_then(|p| p.arn())
        .unwrap()
        .to_string();
    let managed_arn = rt
        .block_on(
            iam.create_policy()
                .policy_name(unique("StsRead"))
                .policy_document(
                    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Action": "sts:GetCallerIdentity", "Resource": "*"}]})
                    .to_string(),
                )
                .send(),
        )
        .expect("CreatePolicy on moto")
        .policy()
        .and_then(|p| p.arn())
        .unwrap()
        .to_string();
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
    rt.block_on(
        iam.create_role()
            .role_name(&role)
            .assume_role_policy_document(trust.to_string())
            .permissions_boundary(&boundary_arn)
            .send(),
    )
    .expect("CreateRole on moto");
    // A '%' and a space in the document: IAM URL-encodes them, and kmsdoctor decodes.
    let inline = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Kms Admin 100%",
        "Effect": "Allow", "Action": "kms:*", "Resource": "*"}]});
    rt.block_on(
        iam.put_role_policy()
            .role_name(&role)
            .policy_name("kms-admin")
            .policy_document(inline.to_string())
            .send(),
    )
    .expect("PutRolePolicy on moto");
    rt.block_on(
        iam.attach_role_policy()
            .role_name(&role)
            .policy_arn(&managed_arn)
            .send(),
    )
    .expect("AttachRolePolicy on moto");
    let creds = rt
        .block_on(
            aws_sdk_sts::Client::new(&config())
                .assume_role()
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
                .role_session_name("alice")
                .send(),
        )
        .expect("AssumeRole on moto")
        .credentials()
        .cloned()
        .unwrap();
    let key = create_key(None);
    let role_env = [
        ("AWS_ACCESS_KEY_ID", creds.access_key_id()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key()),
        ("AWS_SESSION_TOKEN", creds.session_token()),
    ];
    let as_role = |args: &[&str]| kmsdoctor_with(&role_env, args);
    let now = "2026-11-23T00:00:00Z";
    let out = as_role(&["why-locked", &key, "--output", "json", "--now", now]);
    let v = json(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(v["verdict"], "ok", "{v}\n{err}");
    let caller = &v["caller"];
    assert!(
        caller["principal"]
            .as_str()
            .unwrap()
            .contains(&format!("assumed-role/{role}/alice")),
        "{caller}"
    );
    assert_eq!(caller["denied_by"], "boundary", "{caller}\n{err}");
    assert_eq!(caller["can_put_key_policy"], false, "{caller}");
    assert_eq!(caller["can_get_key_policy"], true, "{caller}");
    let layers = caller["layers"].as_array().expect("layers");
    let identity = layers.iter().find(|l| l["layer"] == "identity").unwrap();
    assert_eq!(identity["status"], "evaluated", "{identity}");
    assert!(
        identity["deciding_statements"]
            .to_string()
            .contains("kms-admin:Kms Admin 100%"),
        "the inline policy, URL-decoded: {identity}"
    );
    // Not in an organization, or the management account: SCPs and RCPs bind nothing.
    assert!(
        layers
            .iter()
            .filter(|l| l["layer"] == "scp" || l["layer"] == "rcp")
            .all(|l| l["status"] != "not_known"),
        "{caller}"
    );
    // The plan says who can change the boundary.
    let plan = v["recovery_plan"].to_string();
    assert!(plan.contains("permissions boundary"), "{plan}");

    // The role is asked about once: for the ARN behind the session and for its boundary.
    let out = as_role(&[
        "why-locked",
        &key,
        "--output",
        "json",
        "--now",
        now,
        "--verbose",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    let get_role = err.matches("operation=GetRole ").count();
    assert_eq!(get_role, 1, "{err}");

    // The bundle keeps the layers: the same answer offline, without AWS.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.json");
    let out = as_role(&["collect", &key, "--out", bundle.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(
        saved["layers"]["boundary"]["policy"]["source"], boundary_arn,
        "{}",
        saved["layers"]
    );
    let offline = offline_json(&key, &bundle, now);
    assert_eq!(offline["caller"]["denied_by"], "boundary", "{offline}");
    assert_eq!(offline["caller"]["layers"], caller["layers"]);
}

/// An RCP that denies kms:PutKeyPolicy to everyone, attached to a member account: `scan
/// --org` (from the management account, which may read RCPs) reports every key of that
/// account as locked by it (KS405), with the statement and its level, and exits 3 (issue 13).
#[test]
fn scan_org_reports_an_rcp_that_denies_everyone() {
    use aws_sdk_organizations::types::PolicyType;
    let org = aws_sdk_organizations::Client::new(&config());
    let rt = runtime();
    let member = new_member(&org).expect("moto names the new account");
    enable_in_root(&org, PolicyType::ResourceControlPolicy);
    let name = unique("FreezeKeyPolicies");
    let rcp = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Freeze",
        "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}]});
    let policy_id = rt
        .block_on(
            org.create_policy()
                .name(&name)
                .description("kmsdoctor test")
                .r#type(PolicyType::ResourceControlPolicy)
                .content(rcp.to_string())
                .send(),
        )
        .expect("CreatePolicy (RCP) on moto")
        .policy()
        .and_then(|p| p.policy_summary())
        .and_then(|s| s.id())
        .unwrap()
        .to_string();
    rt.block_on(
        org.attach_policy()
            .policy_id(&policy_id)
            .target_id(&member)
            .send(),
    )
    .expect("AttachPolicy on moto");
    let key = rt
        .block_on(
            aws_sdk_kms::Client::new(&member_config(&member))
                .create_key()
                .send(),
        )
        .expect("CreateKey in the member account")
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();

    let out = kmsdoctor(&["scan", "--org", "--output", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let v = json(&out);
    let k = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["arn"] == key.as_str())
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(
        k["standing"], "ok",
        "the key policy itself is the default: {k}"
    );
    assert!(
        k["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "KS405"),
        "{k}"
    );
    let d = &k["rcp_denials"][0];
    assert_eq!(d["action"], "kms:PutKeyPolicy", "{k}");
    assert_eq!(d["target"], member.as_str(), "{k}");
    assert_eq!(d["statement"]["label"], format!("{name}:Freeze"), "{k}");
    assert_eq!(d["statement"]["sid"], "Freeze", "{k}");
    assert_eq!(d["everyone"], true, "{k}");

    // The table says who can lift it.
    let out = kmsdoctor(&["scan", "--org"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("denies kms:PutKeyPolicy to every principal"),
        "{table}"
    );
}

/// The SCP levels of a member account, read over the real Organizations protocol from the
/// management account (issue 13): root first, each level's policies with their content, a
/// custom SCP at the account; the management account itself is exempt and reads nothing.
#[test]
fn scp_levels_of_a_member_account_are_read_root_first() {
    use aws_sdk_organizations::types::PolicyType;
    let org = aws_sdk_organizations::Client::new(&config());
    let rt = runtime();
    let member = new_member(&org).expect("moto names the new account");
    // SCPs bind only once enabled in the root (moto starts without).
    let root = enable_in_root(&org, PolicyType::ServiceControlPolicy);
    let name = unique("DenyKeyPolicy");
    let scp = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoPut",
        "Effect": "Deny", "Action": "kms:PutKeyPolicy", "Resource": "*"}]});
    let id = rt
        .block_on(
            org.create_policy()
                .name(&name)
                .description("kmsdoctor test")
                .r#type(PolicyType::ServiceControlPolicy)
                .content(scp.to_string())
                .send(),
        )
        .expect("CreatePolicy (SCP) on moto")
        .policy()
        .and_then(|p| p.policy_summary())
        .and_then(|s| s.id())
        .unwrap()
        .to_string();
    rt.block_on(org.attach_policy().policy_id(&id).target_id(&member).send())
        .expect("AttachPolicy on moto");

    let clients = Clients::new(&config());
    let read = rt.block_on(kmsdoctor::evidence::aws::read_org_policies(
        &clients, &member,
    ));
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert_eq!(read.management_account.as_deref(), Some(ACCOUNT));
    let scps = read.scps.expect("SCPs read");
    assert_eq!(scps[0].target, root, "root first: {scps:?}");
    assert_eq!(scps.last().unwrap().target, member);
    let at_account: Vec<&str> = scps
        .last()
        .unwrap()
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert!(at_account.contains(&name.as_str()), "{at_account:?}");
    let ours = scps
        .last()
        .unwrap()
        .policies
        .iter()
        .find(|p| p.name == name)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ours.document).unwrap(),
        scp
    );
    assert!(
        clients
            .calls
            .calls()
            .iter()
            .all(|c| is_allowed(&c.service, &c.operation)),
        "{:?}",
        clients.calls.calls()
    );

    // The management account's own principals are not bound: nothing is read for it.
    let before = clients.calls.calls().len();
    let mine = rt.block_on(kmsdoctor::evidence::aws::read_org_policies(
        &clients, ACCOUNT,
    ));
    assert_eq!(mine.scps.as_deref().map(<[_]>::len), Some(0));
    assert_eq!(mine.rcps.as_deref().map(<[_]>::len), Some(0));
    assert_eq!(
        clients.calls.calls().len(),
        before + 1,
        "DescribeOrganization only"
    );
}

/// `text`, gzipped.
fn gz_text(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// The fingerprint CloudTrail's test key goes by in these tests.
const DIGEST_KEY_FINGERPRINT: &str = "31e8b5433410dfb61a9dc45cc65b22ff";

/// The tests' stand-in for CloudTrail's private key of a region (made with openssl for
/// these tests only).
fn digest_signing_key() -> rsa::PrivateKey {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    rsa::PrivateKey::from_pkcs1_der(include_bytes!(
        "../../fixtures/digests/test-signing-key.der"
    ))
    .unwrap()
}

/// A digest file as CloudTrail writes it: `fields` completed with where it lies, gzipped,
/// its signature over the data signing string in the object's metadata (unless `signed` is
/// false). Returns the uncompressed text and the signature (hex).
fn put_digest(
    rt: &tokio::runtime::Runtime,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    mut fields: serde_json::Value,
    signed: bool,
) -> (String, String) {
    use rsa::signature::{SignatureEncoding, Signer};
    fields["digestS3Bucket"] = serde_json::json!(bucket);
    fields["digestS3Object"] = serde_json::json!(key);
    fields["digestPublicKeyFingerprint"] = serde_json::json!(DIGEST_KEY_FINGERPRINT);
    fields["digestSignatureAlgorithm"] = serde_json::json!("SHA256withRSA");
    if fields.get("previousDigestSignature").is_none() {
        fields["previousDigestSignature"] = serde_json::Value::Null;
    }
    let raw = fields.to_string();
    let to_sign = format!(
        "{}\n{bucket}/{key}\n{}\n{}",
        fields["digestEndTime"].as_str().unwrap(),
        kmsdoctor::evidence::archive::sha256_hex(raw.as_bytes()),
        fields["previousDigestSignature"].as_str().unwrap_or("null")
    );
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(digest_signing_key());
    let signature: String = signer
        .sign(to_sign.as_bytes())
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(gz_text(&raw).into());
    if signed {
        put = put
            .metadata("signature", &signature)
            .metadata("signature-algorithm", "SHA256withRSA");
    }
    if key.ends_with("_backfill.json.gz") {
        put = put.metadata(
            "backfill-generation-timestamp",
            fields["digestEndTime"].as_str().unwrap(),
        );
    }
    rt.block_on(put.send()).expect("PutObject on moto");
    (raw, signature)
}

/// `c` with CloudTrail's ListPublicKeys (not in moto) answered by a mock, through the
/// guard: one key, `fingerprint`, whose value is the tests' public key (DER).
fn with_public_keys(mut c: Clients, fingerprint: &'static str) -> Clients {
    use aws_sdk_cloudtrail::operation::list_public_keys::ListPublicKeysOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use rsa::pkcs1::EncodeRsaPublicKey;
    let der = digest_signing_key()
        .to_public_key()
        .to_pkcs1_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let rule = mock!(aws_sdk_cloudtrail::Client::list_public_keys).then_output(move || {
        ListPublicKeysOutput::builder()
            .public_key_list(
                aws_sdk_cloudtrail::types::PublicKey::builder()
                    .fingerprint(fingerprint)
                    .value(aws_smithy_types::Blob::new(der.clone()))
                    .build(),
            )
            .build()
    });
    let guard = kmsdoctor::evidence::aws::ReadOnlyGuard::new(c.calls.clone(), "us-east-1");
    c.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[&rule], move |b| {
        kmsdoctor::evidence::aws::cloudtrail_config(b, &guard)
    });
    c
}

/// A gzipped trail log file holding `records`.
fn gz(records: &[serde_json::Value]) -> Vec<u8> {
    gz_text(&serde_json::json!({ "Records": records }).to_string())
}

/// A CloudTrail record of a policy event (or any other event) of `key`.
fn trail_record(
    name: &str,
    id: &str,
    time: &str,
    key: &str,
    policy: Option<&serde_json::Value>,
) -> serde_json::Value {
    let mut params = serde_json::json!({"keyId": key, "policyName": "default", "bypassPolicyLockoutSafetyCheck": false});
    if let Some(p) = policy {
        params["policy"] = serde_json::json!(p.to_string());
    }
    let mut r = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/a"), "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/Admin")}}},
        "eventTime": time, "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.1", "requestParameters": params, "eventID": id,
        "resources": [{"ARN": key, "type": "AWS::KMS::Key"}], "recipientAccountId": ACCOUNT
    });
    if name == "CreateKey" {
        r["responseElements"] = serde_json::json!({"keyMetadata": {"keyId": key.rsplit('/').next().unwrap(), "arn": key}});
        r["requestParameters"] = serde_json::json!({});
    }
    r
}

/// What the archive scan makes of one day's log file and the digests a case gives it.
struct DigestCase {
    /// The digests to write: (hour it ends, backfill day offset or 0, fields), before the
    /// location and signature are added. `LOG` in a hash value is the log file's SHA-256.
    digests: Vec<(u32, i64, serde_json::Value)>,
    /// Whether to sign each digest (by index), and a log text other than the one hashed.
    unsigned: Vec<usize>,
    tampered_log: bool,
    /// A digest's text changed after it was signed (by index).
    rewritten: Option<usize>,
    /// The previous signature a digest records, replaced (by index).
    wrong_previous: Option<usize>,
    fingerprint: &'static str,
}

fn digest_case(case: DigestCase) -> (kmsdoctor::evidence::aws::archive::ArchiveScan, String) {
    use chrono::NaiveDate;
    use kmsdoctor::analysis::lockout::{history_settled, KeyRef};
    use kmsdoctor::evidence::archive::{sha256_hex, TrailLocation};
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config())
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("digests").to_lowercase();
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .expect("CreateBucket on moto");
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let log_key = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/07/01/{ACCOUNT}_CloudTrail_us-east-1_20260701T0905Z_a.json.gz"
    );
    let delegation = serde_json::json!({"Version": "2012-10-17", "Statement": [delegation()]});
    let records = vec![trail_record(
        "PutKeyPolicy",
        "ev-ok",
        "2026-07-01T09:00:00Z",
        &key,
        Some(&delegation),
    )];
    let text = serde_json::json!({ "Records": records }).to_string();
    let hash = sha256_hex(text.as_bytes());
    let stored = if case.tampered_log {
        text.replace("203.0.113.1", "203.0.113.9")
    } else {
        text
    };
    rt.block_on(
        s3.put_object()
            .bucket(&bucket)
            .key(&log_key)
            .body(gz_text(&stored).into())
            .send(),
    )
    .unwrap();
    let mut previous: Option<(String, String, String)> = None; // key, raw, signature
    for (i, (hour, later, mut fields)) in case.digests.into_iter().enumerate() {
        let d = day + chrono::Duration::days(later);
        let end = format!("{d}T{hour:02}:00:00Z");
        fields["digestStartTime"] = serde_json::json!(format!("{d}T{:02}:00:00Z", hour - 1));
        fields["digestEndTime"] = serde_json::json!(end);
        let text = fields
            .to_string()
            .replace("LOGKEY", &log_key)
            .replace("LOG", &hash);
        let mut fields: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some((pk, praw, psig)) = &previous {
            fields["previousDigestS3Bucket"] = serde_json::json!(bucket);
            fields["previousDigestS3Object"] = serde_json::json!(pk);
            fields["previousDigestHashValue"] = serde_json::json!(sha256_hex(praw.as_bytes()));
            fields["previousDigestHashAlgorithm"] = serde_json::json!("SHA-256");
            fields["previousDigestSignature"] =
                serde_json::json!(if case.wrong_previous == Some(i) {
                    "00".repeat(256)
                } else {
                    psig.clone()
                });
        }
        let dk = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/{}/{ACCOUNT}_CloudTrail-Digest_us-east-1_t_us-east-1_{}T{hour:02}0000Z{}.json.gz",
            d.format("%Y/%m/%d"),
            d.format("%Y%m%d"),
            if later > 1 { "_backfill" } else { "" }
        );
        let (raw, sig) = put_digest(&rt, &s3, &bucket, &dk, fields, !case.unsigned.contains(&i));
        if case.rewritten == Some(i) {
            // The log file's hash rewritten to the tampered text's, the signature left.
            let forged = raw.replace(&hash, &"ab".repeat(32));
            rt.block_on(
                s3.put_object()
                    .bucket(&bucket)
                    .key(&dk)
                    .body(gz_text(&forged).into())
                    .metadata("signature", &sig)
                    .metadata("signature-algorithm", "SHA256withRSA")
                    .send(),
            )
            .unwrap();
        }
        previous = Some((dk, raw, sig));
    }
    let loc = TrailLocation {
        trail: format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/t"),
        bucket: bucket.clone(),
        bucket_region: "us-east-1".into(),
        prefix: None,
        org_id: None,
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        log_validation: true,
        kms_key: None,
    };
    let clients = with_public_keys(Clients::new(&config()), case.fingerprint);
    let key_ref = KeyRef::parse(&key).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc();
    let settled = |found: &[kmsdoctor::analysis::events::PolicyEvent]| {
        history_settled(&key_ref, ACCOUNT, now, None, found)
    };
    let scan = rt.block_on(kmsdoctor::evidence::aws::archive::scan_archive(
        &clients,
        &loc,
        &key_ref,
        day,
        day,
        &[],
        &settled,
        &|_| {},
    ));
    assert_eq!(scan.events.len(), 1, "{:?}", scan.problems);
    let calls = clients.calls.calls();
    assert!(
        calls.iter().all(|c| is_allowed(&c.service, &c.operation)),
        "{calls:?}"
    );
    (scan, log_key)
}

fn hourly(hour: u32, lists_log: bool) -> (u32, i64, serde_json::Value) {
    let files = if lists_log {
        serde_json::json!([{"s3Bucket": "b", "s3Object": "LOGKEY", "hashValue": "LOG", "hashAlgorithm": "SHA-256"}])
    } else {
        serde_json::json!([])
    };
    (
        hour,
        0,
        serde_json::json!({"awsAccountId": ACCOUNT, "logFiles": files}),
    )
}

fn case(digests: Vec<(u32, i64, serde_json::Value)>) -> DigestCase {
    DigestCase {
        digests,
        unsigned: vec![],
        tampered_log: false,
        rewritten: None,
        wrong_previous: None,
        fingerprint: DIGEST_KEY_FINGERPRINT,
    }
}

/// Digest validation as CloudTrail defines it (issue 25), over moto's S3 with CloudTrail's
/// ListPublicKeys mocked: signatures verified with the key of the digests' period, the chain
/// followed through `previousDigestSignature`, each log file's hash checked against a
/// verified digest, backfill digests found days later. Each break is a named problem.
#[test]
fn digest_signatures_and_the_chain_are_validated() {
    // Whole: three hourly digests chained, the second lists the log file.
    let (scan, _) = digest_case(case(vec![
        hourly(9, false),
        hourly(10, true),
        hourly(11, false),
    ]));
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    let v = scan.validation.clone().unwrap();
    assert_eq!(
        (
            v.digests,
            v.signatures_verified,
            v.chain_links_verified,
            v.log_files_verified
        ),
        (3, 3, 2, 1)
    );
    assert_eq!(v.covered_from.as_deref(), Some("2026-07-01T08:00:00Z"));
    assert_eq!(v.covered_to.as_deref(), Some("2026-07-01T11:00:00Z"));

    // The log file changed after delivery: its hash differs from the verified digest's.
    let mut c = case(vec![hourly(9, false), hourly(10, true)]);
    c.tampered_log = true;
    let (scan, log) = digest_case(c);
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    assert!(
        scan.problems[0].contains(&log) && scan.problems[0].contains("does not match its digest")
    );

    // The digest rewritten to list another hash: its signature fails, and the file is listed
    // only in a digest that does not verify.
    let mut c = case(vec![hourly(9, false), hourly(10, true)]);
    c.rewritten = Some(1);
    let (scan, _) = digest_case(c);
    let all = scan.problems.join("\n");
    assert!(all.contains("signature that does not verify"), "{all}");
    assert!(
        all.contains("listed only in a digest that does not verify"),
        "{all}"
    );
    assert_eq!(scan.validation.unwrap().signatures_verified, 1);

    // An unsigned digest: said.
    let mut c = case(vec![hourly(10, true)]);
    c.unsigned = vec![0];
    let (scan, _) = digest_case(c);
    assert!(
        scan.problems.join("\n").contains("carries no signature"),
        "{:?}",
        scan.problems
    );

    // Broken chain: the 10:00 digest records a signature for 09:00 that is not its own
    // (validly signed over that, as a digest planted with a stolen key would be).
    let mut c = case(vec![hourly(9, false), hourly(10, true)]);
    c.wrong_previous = Some(1);
    let (scan, _) = digest_case(c);
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    assert!(
        scan.problems[0].contains("digest chain is broken"),
        "{:?}",
        scan.problems
    );
    assert_eq!(scan.validation.unwrap().chain_links_verified, 0);

    // The key of another period: CloudTrail lists no key with the digests' fingerprint.
    let mut c = case(vec![hourly(10, true)]);
    c.fingerprint = "0000aaaa0000aaaa0000aaaa0000aaaa";
    let (scan, _) = digest_case(c);
    let all = scan.problems.join("\n");
    assert!(
        all.contains("not one of CloudTrail's public keys for its period"),
        "{all}"
    );
    assert!(
        all.contains("listed only in a digest that does not verify"),
        "{all}"
    );

    // Backfill: no hourly digest lists the file; a backfill digest three days later does.
    let (scan, _) = digest_case(case(vec![hourly(10, false), (12, 3, hourly(0, true).2)]));
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    let v = scan.validation.unwrap();
    assert_eq!((v.backfill_digests, v.log_files_verified), (1, 1));

    // Listed nowhere within the backfill window: said with the window.
    let (scan, _) = digest_case(case(vec![hourly(10, false)]));
    assert!(
        scan.problems
            .join("\n")
            .contains("listed in no digest file of its day, the next, or the 6 days after"),
        "{:?}",
        scan.problems
    );
}

/// History past 90 days from the trail's S3 logs (issue 10), over moto's S3: an
/// organization trail's layout with months of days, other accounts and regions holding the
/// same key id, other keys' events and Decrypt noise, digest folders. Read newest first, the
/// scan stops at the first version that was ok: older days are never listed nor fetched
/// (counted by the guard's call log); the file that gave the lockout is checked against its
/// digest, and a tampered one is named.
#[test]
fn the_trail_archive_is_read_newest_first_and_stops_at_an_ok_version() {
    use chrono::NaiveDate;
    use kmsdoctor::analysis::lockout::{history_settled, KeyRef};
    use kmsdoctor::evidence::archive::{sha256_hex, TrailLocation};
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config())
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("trail").to_lowercase();
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .expect("CreateBucket on moto");
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let other = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/9999abcd-12ab-34cd-56ef-1234567890ab");
    let org = "o-test123456";
    let put = |k: String, body: Vec<u8>| {
        rt.block_on(
            s3.put_object()
                .bucket(&bucket)
                .key(k)
                .body(body.into())
                .send(),
        )
        .expect("PutObject on moto");
    };
    let file = |acct: &str, region: &str, day: NaiveDate, n: u32| {
        format!(
            "logs/AWSLogs/{org}/{acct}/CloudTrail/{region}/{}/{acct}_CloudTrail_{region}_{}T0{n}05Z_x{n}.json.gz",
            day.format("%Y/%m/%d"),
            day.format("%Y%m%d")
        )
    };
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let delegation = serde_json::json!({"Version": "2012-10-17", "Statement": [delegation()]});
    let locked = serde_json::json!({"Version": "2012-10-17", "Statement": [admin("Gone")]});
    // The key is created 2026-05-10 (default policy: ok), a PutKeyPolicy keeps the delegation
    // on 2026-06-01 (ok), the lockout comes on 2026-07-01. Noise every few days until today.
    let mut digests: Vec<(NaiveDate, String, String)> = Vec::new();
    let mut put_events = |day: &str, n: u32, records: Vec<serde_json::Value>, digest: bool| {
        let k = file(ACCOUNT, "us-east-1", d(day), n);
        let body = gz(&records);
        if digest {
            let text = serde_json::json!({ "Records": records }).to_string();
            digests.push((d(day), k.clone(), sha256_hex(text.as_bytes())));
        }
        put(k, body);
    };
    put_events(
        "2026-05-10",
        1,
        vec![trail_record(
            "CreateKey",
            "ev-create",
            "2026-05-10T09:00:00Z",
            &key,
            None,
        )],
        true,
    );
    put_events(
        "2026-06-01",
        1,
        vec![trail_record(
            "PutKeyPolicy",
            "ev-ok",
            "2026-06-01T09:00:00Z",
            &key,
            Some(&delegation),
        )],
        true,
    );
    put_events(
        "2026-07-01",
        1,
        vec![
            trail_record("Decrypt", "ev-noise", "2026-07-01T08:00:00Z", &key, None),
            trail_record(
                "PutKeyPolicy",
                "ev-lockout",
                "2026-07-01T09:00:00Z",
                &key,
                Some(&locked),
            ),
        ],
        true,
    );
    // Another key's change, the same key id in another account and another region: not ours.
    put_events(
        "2026-08-15",
        2,
        vec![trail_record(
            "PutKeyPolicy",
            "ev-other",
            "2026-08-15T09:00:00Z",
            &other,
            Some(&locked),
        )],
        false,
    );
    put(
        file("999988887777", "us-east-1", d("2026-08-15"), 3),
        gz(&[trail_record(
            "PutKeyPolicy",
            "ev-acct",
            "2026-08-15T09:00:00Z",
            &key,
            Some(&locked),
        )]),
    );
    put(
        file(ACCOUNT, "eu-west-1", d("2026-08-15"), 3),
        gz(&[trail_record(
            "PutKeyPolicy",
            "ev-region",
            "2026-08-15T09:00:00Z",
            &key,
            Some(&locked),
        )]),
    );
    let mut day = d("2026-05-01");
    let mut noise_files = 0;
    while day <= d("2026-09-30") {
        put(
            file(ACCOUNT, "us-east-1", day, 5),
            gz(&[trail_record(
                "Decrypt",
                &format!("n-{day}"),
                &format!("{day}T10:00:00Z"),
                &key,
                None,
            )]),
        );
        noise_files += 1;
        day += chrono::Duration::days(7);
    }
    // One digest an hour after each file; the 06-01 file is listed with a wrong hash.
    for (day, k, hash) in &digests {
        let hash = if day == &d("2026-06-01") {
            "00".repeat(32)
        } else {
            hash.clone()
        };
        let digest = serde_json::json!({"awsAccountId": ACCOUNT,
            "digestStartTime": format!("{day}T09:00:00Z"), "digestEndTime": format!("{day}T10:00:00Z"),
            "logFiles": [
            {"s3Bucket": bucket, "s3Object": k, "hashValue": hash, "hashAlgorithm": "SHA-256"}]});
        let dk = format!(
            "logs/AWSLogs/{org}/{ACCOUNT}/CloudTrail-Digest/us-east-1/{}/{ACCOUNT}_CloudTrail-Digest_us-east-1_org_us-east-1_{}T100000Z.json.gz",
            day.format("%Y/%m/%d"),
            day.format("%Y%m%d")
        );
        put_digest(&rt, &s3, &bucket, &dk, digest, true);
    }
    assert!(noise_files > 20);

    let loc = TrailLocation {
        trail: "arn:aws:cloudtrail:us-east-1:123456789012:trail/org".into(),
        bucket: bucket.clone(),
        bucket_region: "us-east-1".into(),
        prefix: Some("logs".into()),
        org_id: Some(org.into()),
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        log_validation: true,
        kms_key: None,
    };
    let clients = with_public_keys(Clients::new(&config()), DIGEST_KEY_FINGERPRINT);
    let key_ref = KeyRef::parse(&key).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc();
    let judged = std::sync::atomic::AtomicUsize::new(0);
    let settled = |found: &[kmsdoctor::analysis::events::PolicyEvent]| {
        judged.fetch_add(found.len(), std::sync::atomic::Ordering::Relaxed);
        history_settled(&key_ref, ACCOUNT, now, None, found)
    };
    let scan = rt.block_on(kmsdoctor::evidence::aws::archive::scan_archive(
        &clients,
        &loc,
        &key_ref,
        d("2026-08-25"),
        d("2026-01-01"),
        &[],
        &settled,
        &|_| {},
    ));
    let ids: Vec<&str> = scan.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["ev-lockout", "ev-ok"], "{:?}", scan.problems);
    assert!(scan.settled);
    assert_eq!(
        judged.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "each event judged once, over {} days",
        scan.days
    );
    assert_eq!(
        scan.oldest_day,
        Some(d("2026-06-01")),
        "stopped at the ok version"
    );
    assert_eq!(
        scan.days,
        (d("2026-08-25") - d("2026-06-01")).num_days() as u32 + 1
    );
    let calls = clients.calls.calls();
    assert!(
        calls.iter().all(|c| is_allowed(&c.service, &c.operation)),
        "{calls:?}"
    );
    // GETs: the files of the days read (our three, the other key's, noise on those days) and
    // the digests of the days that gave records; never a file of May, another account or
    // region.
    let noise_read = (0..)
        .map(|w| d("2026-05-01") + chrono::Duration::days(7 * w))
        .take_while(|x| *x <= d("2026-09-30"))
        .filter(|x| *x >= d("2026-06-01") && *x <= d("2026-08-25"))
        .count() as u32;
    assert_eq!(scan.gets, 2 + 1 + noise_read + 2, "{calls:?}");
    assert_eq!(
        calls.iter().filter(|c| c.operation == "GetObject").count() as u32,
        scan.gets
    );
    assert_eq!(scan.digests_checked, 2);
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    assert!(
        scan.problems[0].contains("2026/06/01")
            && scan.problems[0].contains("does not match its digest"),
        "{:?}",
        scan.problems
    );
    assert_eq!(
        scan.sources["ev-lockout"],
        format!(
            "s3://{bucket}/{}",
            file(ACCOUNT, "us-east-1", d("2026-07-01"), 1)
        )
    );

    // Without an ok version in reach, it reads down to the oldest day and says so.
    let clients = Clients::new(&config());
    let scan = rt.block_on(kmsdoctor::evidence::aws::archive::scan_archive(
        &clients,
        &loc,
        &key_ref,
        d("2026-08-25"),
        d("2026-06-15"),
        &[],
        &settled,
        &|_| {},
    ));
    assert_eq!(scan.events.len(), 1);
    assert!(
        !scan.settled,
        "read to its oldest day without an ok version"
    );
    assert_eq!(scan.oldest_day, Some(d("2026-06-15")));

    // Were the key a replica of a primary in eu-west-1, its creation is the ReplicateKey
    // logged there (awsRegion the primary's, replicaRegion ours: KMS Developer Guide,
    // CloudTrail entry "ReplicateKey"). The days around its creation are read there, and only
    // that event is kept: the primary's own PutKeyPolicy the same day is not the replica's.
    let primary_arn = key.replace(":us-east-1:", ":eu-west-1:");
    let mut replicate = trail_record(
        "ReplicateKey",
        "ev-replicate",
        "2026-04-20T09:00:00Z",
        &primary_arn,
        None,
    );
    replicate["awsRegion"] = serde_json::json!("eu-west-1");
    replicate["requestParameters"] =
        serde_json::json!({"keyId": primary_arn, "replicaRegion": "us-east-1"});
    replicate["responseElements"] = serde_json::json!({"replicaKeyMetadata": {"arn": key, "keyId": key.rsplit('/').next().unwrap()}});
    let mut primary_put = trail_record(
        "PutKeyPolicy",
        "ev-primary-put",
        "2026-04-20T10:00:00Z",
        &primary_arn,
        Some(&delegation),
    );
    primary_put["awsRegion"] = serde_json::json!("eu-west-1");
    put(
        file(ACCOUNT, "eu-west-1", d("2026-04-20"), 1),
        gz(&[replicate, primary_put]),
    );
    let clients = Clients::new(&config());
    let found = rt.block_on(kmsdoctor::evidence::aws::archive::scan_replica_creation(
        &clients,
        &loc,
        &key_ref,
        "eu-west-1",
        d("2026-04-20"),
        &[],
        &settled,
        &|_| {},
    ));
    let ids: Vec<&str> = found.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["ev-replicate"], "{:?}", found.problems);
    assert!(found.settled, "the replica's creation settles its history");
    assert_eq!(
        found.days, 2,
        "the day after (empty), then the creation day, where it stops"
    );
    assert_eq!(found.sources.len(), 1);
    assert!(found.sources["ev-replicate"].contains("/CloudTrail/eu-west-1/2026/04/20/"));
}

/// The one trail of moto's account (its bucket), created once: kmsdoctor picks the trail
/// that logs the region, so tests that go through it take turns (the guard).
fn shared_trail() -> (String, std::sync::MutexGuard<'static, ()>) {
    static TRAIL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let bucket = TRAIL
        .get_or_init(|| {
            let rt = runtime();
            let bucket = unique("trail-e2e").to_lowercase();
            rt.block_on(
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&config())
                        .force_path_style(true)
                        .build(),
                )
                .create_bucket()
                .bucket(&bucket)
                .send(),
            )
            .expect("CreateBucket on moto");
            rt.block_on(
                aws_sdk_cloudtrail::Client::new(&config())
                    .create_trail()
                    .name(unique("kmsdoctor-trail"))
                    .s3_bucket_name(&bucket)
                    .is_multi_region_trail(true)
                    .send(),
            )
            .expect("CreateTrail on moto");
            bucket
        })
        .clone();
    (bucket, turn)
}

/// `--history s3` end to end (issue 10): the trail found with DescribeTrails, its logs read
/// from S3 back to the key's creation, the evidence saying what was read; `collect` records
/// where each record came from, and `--from` gives the same verdict offline. Without
/// `--history s3`, kmsdoctor says where the older history is.
#[test]
fn history_from_the_trail_bucket_end_to_end() {
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config())
            .force_path_style(true)
            .build(),
    );
    let (bucket, _one_at_a_time) = shared_trail();
    let gone = unique("Gone");
    let locked = serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&gone)]});
    let key = create_key(Some(locked.clone()));
    let today = chrono::Utc::now();
    let day = today.format("%Y/%m/%d");
    let stamp = today.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let records = vec![
        trail_record("CreateKey", "e2e-create", &stamp, &key, None),
        trail_record("PutKeyPolicy", "e2e-lockout", &stamp, &key, Some(&locked)),
    ];
    let object = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day}/{ACCOUNT}_CloudTrail_us-east-1_x.json.gz"
    );
    rt.block_on(
        s3.put_object()
            .bucket(&bucket)
            .key(&object)
            .body(gz(&records).into())
            .send(),
    )
    .expect("PutObject on moto");

    let now = stamp.as_str();
    let out = kmsdoctor(&[
        "why-locked",
        &key,
        "--history",
        "s3",
        "--output",
        "json",
        "--now",
        now,
    ]);
    let v = json(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let archive = &v["evidence"]["archive"];
    assert!(
        archive["location"]
            .as_str()
            .unwrap_or_default()
            .contains(&bucket),
        "{v}\n{err}"
    );
    assert_eq!(archive["events"], 2, "{archive}\n{err}");
    assert_eq!(archive["settled"], true, "{archive}");
    assert_eq!(v["evidence"]["events_for_key"], 2, "{v}");
    assert!(
        v["lockout_event"]["event_id"] == "e2e-lockout" || v["lockout_event"].is_null(),
        "{v}"
    );
    // The trail does not write digests here: said, and the evidence is marked incomplete.
    let problems = v["evidence"]["problems"].to_string();
    assert!(
        problems.contains("does not write digest files"),
        "{problems}"
    );

    // The bundle says where each record came from; offline gives the same verdict.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.json");
    let out = kmsdoctor(&[
        "collect",
        &key,
        "--history",
        "s3",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(
        saved["sources"]["e2e-lockout"],
        format!("s3://{bucket}/{object}"),
        "{}",
        saved["sources"]
    );
    assert_eq!(saved["archive"]["events"], 2);
    let offline = offline_json(&key, &bundle, now);
    assert_eq!(offline["verdict"], v["verdict"]);
    assert_eq!(offline["evidence"]["events_for_key"], 2);
    assert_eq!(offline["evidence"]["archive"], saved["archive"]);

    // The archive read with a role of the log archive account (issue 25): assumed through
    // the guarded STS client (AssumeRole in the call log), the S3 reads made with it, and
    // the evidence saying whose credentials read what.
    let role = "arn:aws:iam::123456789012:role/LogArchiveReader";
    let out = kmsdoctor(&[
        "why-locked",
        &key,
        "--history",
        "s3",
        "--archive-role-arn",
        role,
        "--archive-external-id",
        "incident-2026",
        "--output",
        "json",
        "--now",
        now,
        "--verbose",
    ]);
    let v = json(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AssumeRole"), "{err}");
    let archive = &v["evidence"]["archive"];
    assert_eq!(archive["events"], 2, "{archive}\n{err}");
    assert_eq!(
        archive["credentials"],
        format!("the role {role}, assumed with the run's credentials"),
        "{archive}"
    );
    let table = kmsdoctor(&[
        "why-locked",
        &key,
        "--history",
        "s3",
        "--archive-role-arn",
        role,
        "--now",
        now,
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(&format!("read with the role {role}")),
        "{text}"
    );

    // Without --history s3: where the older history is, and the flag to read it.
    let out = kmsdoctor(&["why-locked", &key, "--output", "json", "--now", now]);
    let v = json(&out);
    let problems = v["evidence"]["problems"].to_string();
    assert!(problems.contains("--history s3"), "{problems}");
    assert!(
        problems.contains(&format!(
            "s3://{bucket}/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/"
        )),
        "{problems}"
    );

    // --since past 90 days needs --history s3; a date is taken with it.
    let out = kmsdoctor(&["why-locked", &key, "--since", "400"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--history s3"));
    let out = kmsdoctor(&[
        "why-locked",
        &key,
        "--since",
        "2025-01-31",
        "--history",
        "s3",
        "--output",
        "json",
    ]);
    assert_ne!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["evidence"]["archive"]["settled"], true);
}

/// `--history athena` end to end (issue 10), over moto's Athena (which returns seeded
/// results and runs no SQL): the estimate is the size of the key's account, region and days
/// in the trail bucket, nothing else; over `--max-scan`, nothing runs; the query's rows
/// become the key's history, each record's source names the query and the S3 object.
#[test]
fn history_from_athena_end_to_end() {
    let rt = runtime();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config())
            .force_path_style(true)
            .build(),
    );
    let (bucket, _one_at_a_time) = shared_trail();
    let gone = unique("Gone");
    let locked = serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&gone)]});
    let key = create_key(Some(locked.clone()));
    let today = chrono::Utc::now();
    let stamp = today.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let day = today.format("%Y/%m/%d");
    let put = |k: String, body: Vec<u8>| {
        rt.block_on(
            s3.put_object()
                .bucket(&bucket)
                .key(k)
                .body(body.into())
                .send(),
        )
        .expect("PutObject on moto");
    };
    let noise = gz(&[trail_record("Decrypt", "a-noise", &stamp, &key, None)]);
    put(
        format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day}/{}_a.json.gz",
            unique("f")
        ),
        noise.clone(),
    );
    put(
        format!("AWSLogs/999988887777/CloudTrail/us-east-1/{day}/x.json.gz"),
        noise.clone(),
    );
    put(
        format!("AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/{day}/x.json.gz"),
        noise,
    );
    // What the query's partitions hold: the account's and region's files of yesterday and today.
    let mut expected = 0i64;
    for d in [today - chrono::Duration::days(1), today] {
        let prefix = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{}/",
            d.format("%Y/%m/%d")
        );
        let listed = rt
            .block_on(s3.list_objects_v2().bucket(&bucket).prefix(prefix).send())
            .unwrap();
        expected += listed
            .contents()
            .iter()
            .filter_map(|o| o.size())
            .sum::<i64>();
    }

    // Over --max-scan: the estimate is said, and nothing runs.
    let out = kmsdoctor(&[
        "why-locked",
        &key,
        "--history",
        "athena",
        "--max-scan",
        "1B",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Athena will scan about") && err.contains("over --max-scan"),
        "{err}"
    );

    // The rows the query returns, seeded (header row first).
    let cells = |r: &serde_json::Value, path: &str| -> Vec<serde_json::Value> {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::Null => serde_json::json!({}),
            serde_json::Value::String(s) => serde_json::json!({"VarCharValue": s}),
            other => serde_json::json!({"VarCharValue": other.to_string()}),
        };
        let ui = &r["userIdentity"];
        [
            r["eventVersion"].clone(),
            ui["type"].clone(),
            serde_json::Value::Null,
            ui["arn"].clone(),
            ui["accountId"].clone(),
            serde_json::Value::Null,
            ui["sessionContext"]["sessionIssuer"]["type"].clone(),
            ui["sessionContext"]["sessionIssuer"]["arn"].clone(),
            r["eventTime"].clone(),
            r["eventSource"].clone(),
            r["eventName"].clone(),
            r["awsRegion"].clone(),
            r["sourceIPAddress"].clone(),
            serde_json::Value::Null,
            serde_json::Value::Null,
            serde_json::Value::Null,
            serde_json::json!(r["requestParameters"].to_string()),
            if r["responseElements"].is_null() {
                serde_json::Value::Null
            } else {
                serde_json::json!(r["responseElements"].to_string())
            },
            r["eventID"].clone(),
            serde_json::json!(key),
            r["recipientAccountId"].clone(),
            serde_json::json!(path),
        ]
        .iter()
        .map(text)
        .collect()
    };
    let header: Vec<serde_json::Value> = (0..22)
        .map(|i| serde_json::json!({"VarCharValue": format!("_col{i}")}))
        .collect();
    let path = format!("s3://{bucket}/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day}/q.json.gz");
    let rows = vec![
        serde_json::json!({"Data": header}),
        serde_json::json!({"Data": cells(&trail_record("CreateKey", "ath-create", &stamp, &key, None), &path)}),
        serde_json::json!({"Data": cells(&trail_record("PutKeyPolicy", "ath-lockout", &stamp, &key, Some(&locked)), &path)}),
    ];
    // Two queries' results: collect's, then why-locked's.
    let seed = serde_json::json!({"account_id": ACCOUNT, "region": "us-east-1", "results": [
        {"rows": rows, "column_info": []}, {"rows": rows, "column_info": []}]});
    // Python is there (moto runs on it): its urllib posts the seed.
    let post = "import sys, urllib.request\nr = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={'Content-Type': 'application/json'}, method='POST')\nprint(urllib.request.urlopen(r).status)";
    let out = std::process::Command::new("python3")
        .args(["-c", post])
        .arg(format!(
            "{}/moto-api/static/athena/query-results",
            endpoint()
        ))
        .arg(seed.to_string())
        .output()
        .expect("python3 runs");
    let seeded = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(seeded, "201");

    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("b.json");
    let out = kmsdoctor(&[
        "collect",
        &key,
        "--history",
        "athena",
        "--athena-database",
        "security",
        "--out",
        written.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    let archive = &saved["archive"];
    assert_eq!(archive["method"], "athena", "{archive}");
    assert_eq!(archive["events"], 2, "{archive}\n{err}");
    assert_eq!(archive["settled"], true, "{archive}");
    assert_eq!(archive["estimated_bytes"], expected, "{archive}");
    let qid = archive["query_id"].as_str().unwrap();
    assert_eq!(
        saved["sources"]["ath-lockout"],
        format!("athena:{qid} {path}"),
        "{}",
        saved["sources"]
    );

    // The table says what Athena was asked and what it scanned.
    let out = kmsdoctor_with(
        &[("COLUMNS", "400")],
        &[
            "why-locked",
            &key,
            "--history",
            "athena",
            "--athena-database",
            "security",
        ],
    );
    let table = String::from_utf8_lossy(&out.stdout).replace("\n  ", " ");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(table.contains("Athena query "), "{table}\n{err}");
    assert!(table.contains("2 policy event(s) for this key"), "{table}");
    assert!(err.contains("Athena will scan about"), "{err}");
}

/// Issue 27 on the wire: the policy replaced (safety check bypassed) by one that grants
/// only a role, then the key scheduled for deletion in 7 days. moto's DescribeKey reports
/// PendingDeletion and the date: the JSON key carries them, KL220 comes first, and the
/// plan cancels the deletion before it repairs the policy and enables the key after.
#[test]
fn a_locked_key_then_scheduled_for_deletion_says_the_deadline() {
    let role = unique("DoomAdmin");
    create_role(&role);
    let arn = create_key(None);
    let kms = setup_kms();
    let rt = runtime();
    rt.block_on(
        kms.put_key_policy()
            .key_id(&arn)
            .policy_name("default")
            .policy(
                serde_json::json!({"Version": "2012-10-17", "Statement": [admin(&role)]})
                    .to_string(),
            )
            .bypass_policy_lockout_safety_check(true)
            .send(),
    )
    .expect("PutKeyPolicy on moto");
    let scheduled = rt
        .block_on(
            // moto answers ScheduleKeyDeletion by key id only (a 500 for the ARN).
            kms.schedule_key_deletion()
                .key_id(arn.rsplit('/').next().unwrap())
                .pending_window_in_days(7)
                .send(),
        )
        .expect("ScheduleKeyDeletion on moto");
    let date = scheduled.deletion_date().expect("a deletion date").secs();

    let out = kmsdoctor(&["why-locked", &arn, "--output", "json"]);
    let v = json(&out);
    assert_eq!(v["verdict"], "recoverable", "{v:#}");
    assert_eq!(v["key"]["state"], "PendingDeletion", "{:#}", v["key"]);
    let said: chrono::DateTime<chrono::Utc> = v["key"]["deletion_date"]
        .as_str()
        .expect("deletion_date")
        .parse()
        .unwrap();
    assert_eq!(said.timestamp(), date);
    assert_eq!(v["findings"][0]["id"], "KL220", "{:#}", v["findings"]);
    // Each step's command, then its alternative (applying by hand).
    let cmds: Vec<String> = v["recovery_plan"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| [&s["command"], &s["alternative"]["command"]])
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    let at = |needle: &str| {
        cmds.iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {cmds:#?}"))
    };
    assert!(
        at("cancel-key-deletion") < at("put-key-policy"),
        "{cmds:#?}"
    );
    assert!(at("put-key-policy") < at("enable-key"), "{cmds:#?}");
    assert!(
        cmds[at("cancel-key-deletion")].contains(&format!("--endpoint-url {}", endpoint())),
        "{cmds:#?}"
    );
}
