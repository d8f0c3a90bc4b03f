//! Reads a trail bucket's logs with kmsdoctor's archive scan, for `bench/archive_s3.sh`:
//! every day from NEWEST back to OLDEST (no policy event settles the history, so all are
//! read), then prints days, GETs, bytes and time.
//!
//! usage: archive_bench ENDPOINT BUCKET ACCOUNT REGION NEWEST OLDEST

use aws_config::{BehaviorVersion, Region};
use chrono::NaiveDate;
use kmsdoctor::analysis::lockout::KeyRef;
use kmsdoctor::evidence::archive::TrailLocation;
use kmsdoctor::evidence::aws::{archive::scan_archive, http_client, Clients};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        eprintln!("usage: archive_bench ENDPOINT BUCKET ACCOUNT REGION NEWEST OLDEST");
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
    let clients = Clients::new(&config);
    let loc = TrailLocation {
        trail: "bench".into(),
        bucket: a[2].clone(),
        bucket_region: a[4].clone(),
        prefix: None,
        org_id: None,
        account: a[3].clone(),
        region: a[4].clone(),
        log_validation: false,
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
    for p in scan.problems.iter().take(3) {
        eprintln!("problem: {p}");
    }
}
