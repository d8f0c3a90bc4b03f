//! Reads a trail bucket's logs with kmsdoctor's archive scan, for `bench/archive_s3.sh`:
//! every day from NEWEST back to OLDEST (no policy event settles the history, so all are
//! read), then prints days, GETs, bytes and time. VALIDATE `on` checks the files that gave
//! records against the trail's digests, their signatures (CloudTrail's ListPublicKeys, which
//! moto lacks, answered by a mock with the tests' key) and chain; `off` reads a trail
//! without log file validation.
//!
//! usage: archive_bench ENDPOINT BUCKET ACCOUNT REGION NEWEST OLDEST [on|off]

use aws_config::{BehaviorVersion, Region};
use chrono::NaiveDate;
use kmsdoctor::analysis::lockout::KeyRef;
use kmsdoctor::evidence::archive::TrailLocation;
use kmsdoctor::evidence::aws::{archive::scan_archive, http_client, Clients};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 && a.len() != 8 {
        eprintln!("usage: archive_bench ENDPOINT BUCKET ACCOUNT REGION NEWEST OLDEST [on|off]");
        std::process::exit(1);
    }
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a YYYY-MM-DD date");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = rt.block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new(a[4].clone()))
            .endpoint_url(&a[1])
            .load(),
    );
    let validate = a.get(7).map(String::as_str) == Some("on");
    let mut clients = Clients::new(&config);
    if validate {
        clients.cloudtrail = public_keys(&clients);
    }
    let loc = TrailLocation {
        trail: "bench".into(),
        bucket: a[2].clone(),
        bucket_region: a[4].clone(),
        prefix: None,
        org_id: None,
        account: a[3].clone(),
        region: a[4].clone(),
        log_validation: validate,
        kms_key: None,
    };
    let key = KeyRef::parse(&format!(
        "arn:aws:kms:{}:{}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        a[4], a[3]
    ))
    .expect("key ARN");
    let started = std::time::Instant::now();
    let scan = rt.block_on(scan_archive(
        &clients,
        &loc,
        &key,
        day(&a[5]),
        day(&a[6]),
        &[],
        &|_| false,
        &|_| {},
    ));
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} days, {} lists, {} GETs, {} MB of JSON in {:.2} s: {:.0} MB/s",
        scan.days,
        scan.lists,
        scan.gets,
        scan.bytes / 1_000_000,
        secs,
        scan.bytes as f64 / 1e6 / secs
    );
    if let Some(v) = &scan.validation {
        println!(
            "{} files checked: {} digests, {} signatures verified, {} chain links, {} files verified",
            scan.digests_checked, v.digests, v.signatures_verified, v.chain_links_verified, v.log_files_verified
        );
    }
    for p in scan.problems.iter().take(3) {
        eprintln!("problem: {p}");
    }
}

/// A CloudTrail client whose ListPublicKeys answers the tests' public key (through the guard).
fn public_keys(c: &Clients) -> aws_sdk_cloudtrail::Client {
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
    let private =
        rsa::PrivateKey::from_pkcs1_der(include_bytes!("../fixtures/digests/test-signing-key.der"))
            .expect("the test key");
    let der = private
        .to_public_key()
        .to_pkcs1_der()
        .expect("DER")
        .as_bytes()
        .to_vec();
    let rule = mock!(aws_sdk_cloudtrail::Client::list_public_keys).then_output(move || {
        aws_sdk_cloudtrail::operation::list_public_keys::ListPublicKeysOutput::builder()
            .public_key_list(
                aws_sdk_cloudtrail::types::PublicKey::builder()
                    .fingerprint("31e8b5433410dfb61a9dc45cc65b22ff")
                    .value(aws_smithy_types::Blob::new(der.clone()))
                    .build(),
            )
            .build()
    });
    let guard = kmsdoctor::evidence::aws::ReadOnlyGuard::new(c.calls.clone(), &c.region);
    mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[&rule], move |b| {
        kmsdoctor::evidence::aws::cloudtrail_config(b, &guard)
    })
}
