//! History past CloudTrail's 90 days of event history: the trail that delivers the key's
//! account and region (DescribeTrails, GetTrailStatus), and its log files in S3, read day by
//! day, newest first, stopping as soon as the history is settled (the key's creation, or a
//! version that was `ok`). Only the key's account and region prefixes are listed; a day's
//! files are fetched at once, decompressed within a memory budget, and parsed only when they
//! name a policy event and the key. The files that gave records are checked against the
//! trail's digest files: each digest's signature and the chain between them, and each
//! file's SHA-256 (see `evidence::digest`).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use futures_util::stream::{self, StreamExt};

use super::{Clients, ReadError};
use crate::analysis::events::{DigestValidation, EventName, PolicyEvent};
use crate::analysis::lockout::KeyRef;
use crate::evidence::archive::{decrypt_hint, may_hold_policy_events, sha256_hex, TrailLocation};
use crate::evidence::cloudtrail_records::scan;
use crate::evidence::digest::{is_backfill, link, verify, DigestFile, Link, PublicKey};
use crate::evidence::trail_files::{read_limited, MEMORY_BUDGET};
use crate::evidence::Invalid;

/// Objects fetched at once.
const CONCURRENCY: usize = 8;
/// The most one log file may take once decompressed (all at once stay within the budget
/// that CloudTrail files read from disk share).
const PER_OBJECT: u64 = MEMORY_BUDGET / CONCURRENCY as u64;
/// Most keys listed for one day before kmsdoctor calls the layout into question.
const MAX_OBJECTS_PER_DAY: usize = 100_000;

/// The trail whose S3 logs hold the key's older history: one that logs `region` (a
/// multi-Region trail, or one whose home is there), logging ones first. Its bucket's region
/// is looked up so that S3 can be asked in the right place. Notes say what else was found.
pub async fn find_trail(
    c: &Clients,
    account: &str,
    region: &str,
) -> Result<(TrailLocation, Vec<String>), ReadError> {
    let trails = c
        .cloudtrail
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| c.error("cloudtrail", "DescribeTrails", &e))?;
    let mut candidates = Vec::new();
    for t in trails.trail_list() {
        let covers = t.is_multi_region_trail() == Some(true) || t.home_region() == Some(region);
        let (Some(bucket), true) = (t.s3_bucket_name(), covers) else {
            continue;
        };
        let id = t.trail_arn().or(t.name()).unwrap_or_default().to_string();
        let logging = match c.cloudtrail.get_trail_status().name(&id).send().await {
            Ok(s) => s.is_logging().unwrap_or(false),
            // A shadow trail of another account (an organization trail seen from a member)
            // may not answer: it still delivers.
            Err(_) => true,
        };
        candidates.push((
            !logging,
            t.is_organization_trail() != Some(true),
            id,
            bucket.to_string(),
            t.s3_key_prefix().map(str::to_string),
            t.is_organization_trail() == Some(true),
            t.log_file_validation_enabled() == Some(true),
            t.kms_key_id().map(str::to_string),
        ));
    }
    candidates.sort();
    let Some((not_logging, _, trail, bucket, prefix, org, validation, kms_key)) =
        candidates.first().cloned()
    else {
        return Err(ReadError::Answer(format!(
            "no trail delivers {region}'s events to S3 (cloudtrail DescribeTrails): history older than 90 days is not kept anywhere kmsdoctor can read"
        )));
    };
    let mut notes = Vec::new();
    if not_logging {
        notes.push(format!(
            "the trail {trail} is not logging now: its bucket holds history only up to when it stopped"
        ));
    }
    if candidates.len() > 1 {
        notes.push(format!(
            "{} trails log {region}; kmsdoctor reads {trail}",
            candidates.len()
        ));
    }
    let bucket_region = match c.s3.get_bucket_location().bucket(&bucket).send().await {
        // No constraint: us-east-1; `EU`: eu-west-1 (the S3 API Reference, GetBucketLocation).
        Ok(o) => match o.location_constraint().map(|l| l.as_str()) {
            None | Some("") => "us-east-1".to_string(),
            Some("EU") => "eu-west-1".to_string(),
            Some(r) => r.to_string(),
        },
        Err(e) => {
            notes.push(format!(
                "{}: the bucket is asked in {}",
                c.error("s3", "GetBucketLocation", &e)
                    .about(bucket.as_str()),
                c.region
            ));
            c.region.clone()
        }
    };
    let org_id = if org {
        Some(org_folder(c, &bucket, prefix.as_deref(), account).await?)
    } else {
        None
    };
    Ok((
        TrailLocation {
            trail,
            bucket,
            bucket_region,
            prefix: prefix.filter(|p| !p.trim_matches('/').is_empty()),
            org_id,
            account: account.to_string(),
            region: region.to_string(),
            log_validation: validation,
            kms_key,
        },
        notes,
    ))
}

/// The `o-...` folder of an organization trail that holds `account`'s logs.
async fn org_folder(
    c: &Clients,
    bucket: &str,
    prefix: Option<&str>,
    account: &str,
) -> Result<String, ReadError> {
    let base = match prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(p) => format!("{p}/AWSLogs/"),
        None => "AWSLogs/".to_string(),
    };
    let out =
        c.s3.list_objects_v2()
            .bucket(bucket)
            .prefix(&base)
            .delimiter("/")
            .send()
            .await
            .map_err(|e| {
                c.error("s3", "ListObjectsV2", &e)
                    .about(format!("s3://{bucket}/{base}"))
            })?;
    let orgs: Vec<String> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .filter_map(|p| p.strip_prefix(&base))
        .map(|p| p.trim_end_matches('/').to_string())
        .filter(|p| p.starts_with("o-"))
        .collect();
    match orgs.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ReadError::Answer(format!(
            "the organization trail's bucket s3://{bucket}/{base} has no o-... folder for account {account}"
        ))),
        many => Ok(many[0].clone()),
    }
}

/// What reading the archive gave.
#[derive(Debug, Clone, Default)]
pub struct ArchiveScan {
    pub events: Vec<PolicyEvent>,
    /// Where each event's record came from: event id to `s3://BUCKET/KEY`.
    pub sources: BTreeMap<String, String>,
    /// Days listed, newest first: the first and the last.
    pub newest_day: Option<NaiveDate>,
    pub oldest_day: Option<NaiveDate>,
    pub days: u32,
    pub lists: u32,
    pub gets: u32,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
    pub records: u64,
    /// The scan stopped because the history was settled (the key's creation, or a version
    /// that was `ok`); false when it read down to its oldest day without that.
    pub settled: bool,
    /// Log files that gave records, checked against the trail's digests.
    pub digests_checked: u32,
    /// What the digests were found to be (signatures, chain), when any were read.
    pub validation: Option<DigestValidation>,
    pub problems: Vec<String>,
}

/// One log file's part in the scan.
struct FileRead {
    key: String,
    events: Vec<PolicyEvent>,
    bytes: u64,
    records: u64,
    /// SHA-256 of the decompressed content, for files that gave the key's events.
    hash: Option<String>,
    problem: Option<String>,
}

/// An object's content: gunzipped when it is gzip, at most [`PER_OBJECT`] bytes.
fn content(bytes: &[u8]) -> Result<Vec<u8>, Invalid> {
    let read = if bytes.starts_with(&[0x1f, 0x8b]) {
        read_limited(flate2::read::MultiGzDecoder::new(bytes), PER_OBJECT)
            .map_err(|e| Invalid(format!("is not a readable gzip file: {e}")))?
    } else {
        read_limited(bytes, PER_OBJECT).map_err(|e| Invalid(format!("cannot be read: {e}")))?
    };
    read.ok_or_else(|| Invalid(format!("holds over {PER_OBJECT} bytes once decompressed")))
}

/// Fetches and reads one log file.
async fn read_object(c: &Clients, loc: &TrailLocation, key: String, key_id: &str) -> FileRead {
    let bucket = loc.bucket.as_str();
    let mut read = FileRead {
        key,
        events: Vec::new(),
        bytes: 0,
        records: 0,
        hash: None,
        problem: None,
    };
    let fail = |read: &mut FileRead, why: String| {
        read.problem = Some(format!("s3://{bucket}/{}: {why}", read.key));
    };
    let out = match c
        .s3
        .get_object()
        .bucket(&loc.bucket)
        .key(&read.key)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let e = c.error("s3", "GetObject", &e);
            let hint = decrypt_hint(loc, e.is_access_denied(), &e.message);
            fail(
                &mut read,
                match hint {
                    Some(h) => format!("{e} ({h})"),
                    None => e.to_string(),
                },
            );
            return read;
        }
    };
    if out.content_length().unwrap_or(0) as u64 > PER_OBJECT {
        fail(
            &mut read,
            "larger than kmsdoctor reads from one log file".into(),
        );
        return read;
    }
    let body = match out.body.collect().await {
        Ok(b) => b.into_bytes(),
        Err(e) => {
            fail(&mut read, format!("cannot be read: {e}"));
            return read;
        }
    };
    let text = match content(&body) {
        Ok(t) => t,
        Err(why) => {
            fail(&mut read, why.0);
            return read;
        }
    };
    read.bytes = text.len() as u64;
    let Ok(s) = std::str::from_utf8(&text) else {
        fail(&mut read, "is not UTF-8 text".into());
        return read;
    };
    if !may_hold_policy_events(s, key_id) {
        return read;
    }
    match scan(s) {
        Ok(found) => {
            read.records = found.records;
            read.events = found.events;
            if !read.events.is_empty() {
                read.hash = Some(sha256_hex(&text));
            }
        }
        Err(e) => fail(
            &mut read,
            format!("is not CloudTrail records: {}", e.message),
        ),
    }
    read
}

/// Lists the keys under `prefix`, every page.
async fn list_keys(
    c: &Clients,
    bucket: &str,
    prefix: &str,
    lists: &mut u32,
) -> Result<Vec<String>, ReadError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        *lists += 1;
        let page =
            c.s3.list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    c.error("s3", "ListObjectsV2", &e)
                        .about(format!("s3://{bucket}/{prefix}"))
                })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_string),
        );
        if keys.len() > MAX_OBJECTS_PER_DAY {
            return Err(ReadError::Answer(format!(
                "s3://{bucket}/{prefix} lists over {MAX_OBJECTS_PER_DAY} objects for one day"
            )));
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) && token.as_deref() != Some(t) => {
                token = Some(t.to_string())
            }
            _ => return Ok(keys),
        }
    }
}

/// `c` with its S3 client in `region` (the bucket's).
pub fn in_bucket_region(c: &Clients, region: &str) -> Clients {
    let mut out = c.clone();
    out.s3 = aws_sdk_s3::Client::from_conf(
        c.s3.config()
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    );
    out
}

impl ArchiveScan {
    /// Adds another scan's events, sources, calls and problems (the days stay this scan's).
    pub fn absorb(&mut self, other: ArchiveScan) {
        self.settled |= other.settled;
        self.events.extend(other.events);
        self.sources.extend(other.sources);
        self.lists += other.lists;
        self.gets += other.gets;
        self.bytes += other.bytes;
        self.records += other.records;
        self.digests_checked += other.digests_checked;
        if let Some(o) = other.validation {
            let v = self
                .validation
                .get_or_insert_with(DigestValidation::default);
            v.digests += o.digests;
            v.backfill_digests += o.backfill_digests;
            v.signatures_verified += o.signatures_verified;
            v.chain_links_verified += o.chain_links_verified;
            v.log_files_verified += o.log_files_verified;
            v.covered_from = v
                .covered_from
                .take()
                .into_iter()
                .chain(o.covered_from)
                .min();
            v.covered_to = v.covered_to.take().into_iter().chain(o.covered_to).max();
        }
        self.problems.extend(other.problems);
    }
}

/// For a multi-Region replica: its creation, the ReplicateKey logged in its primary's region
/// (KMS Developer Guide, CloudTrail entry "ReplicateKey": `awsRegion` is the primary's,
/// `replicaRegion` the replica's), read from the days around
/// `created` (DescribeKey's CreationDate, a day of margin each side). Only ReplicateKey events
/// are kept: the primary's own policy changes are not the replica's.
#[allow(clippy::too_many_arguments)]
pub async fn scan_replica_creation(
    c: &Clients,
    loc: &TrailLocation,
    key: &KeyRef,
    primary: &str,
    created: NaiveDate,
    known: &[PolicyEvent],
    settled: &(dyn Fn(&[PolicyEvent]) -> bool + Sync),
    progress: &(dyn Fn(super::LookupProgress<'_>) + Sync),
) -> ArchiveScan {
    let there = TrailLocation {
        region: primary.to_string(),
        ..loc.clone()
    };
    let newest = created + Days::days(1);
    let oldest = created - Days::days(1);
    let mut found = scan_archive(c, &there, key, newest, oldest, known, settled, progress).await;
    found.events.retain(|e| e.name == EventName::ReplicateKey);
    let ids: HashSet<&str> = found.events.iter().map(|e| e.event_id.as_str()).collect();
    found.sources.retain(|id, _| ids.contains(id.as_str()));
    found.settled &= !found.events.is_empty();
    found
}

/// Reads the trail's log files for `key` from `newest` back to `oldest` (days, inclusive),
/// newest first, until `settled` says the history so far (the `known` events and those
/// found) is enough. Only events not in `known` are returned. `progress` is told each day
/// done.
///
/// `settled` holds of a list when it holds of some part of it (see `history_settled`), so
/// each event is judged once: the known ones first, then each day's new ones. Time stays
/// linear in the events found, however many days are read.
#[allow(clippy::too_many_arguments)]
pub async fn scan_archive(
    c: &Clients,
    loc: &TrailLocation,
    key: &KeyRef,
    newest: NaiveDate,
    oldest: NaiveDate,
    known: &[PolicyEvent],
    settled: &(dyn Fn(&[PolicyEvent]) -> bool + Sync),
    progress: &(dyn Fn(super::LookupProgress<'_>) + Sync),
) -> ArchiveScan {
    let mut out = ArchiveScan::default();
    let mut seen: HashSet<String> = known.iter().map(|e| e.event_id.clone()).collect();
    let mut done = settled(known);
    let mut hashes: Vec<(String, String)> = Vec::new();
    let mut day = newest;
    while day >= oldest {
        let prefix = loc.day_prefix(day);
        let keys = match list_keys(c, &loc.bucket, &prefix, &mut out.lists).await {
            Ok(k) => k,
            Err(m) => {
                out.problems.push(m.to_string());
                return out;
            }
        };
        out.newest_day.get_or_insert(day);
        out.oldest_day = Some(day);
        out.days += 1;
        let files = keys.len();
        let reads: Vec<FileRead> = stream::iter(keys)
            .map(|k| read_object(c, loc, k, &key.id))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        out.gets += files as u32;
        let mut reads = reads;
        // The same order whatever order the files finished in.
        reads.sort_by(|a, b| a.key.cmp(&b.key));
        let today = out.events.len();
        for r in reads {
            out.bytes += r.bytes;
            out.records += r.records;
            if let Some(p) = r.problem {
                out.problems.push(p);
            }
            let mine: Vec<PolicyEvent> = r
                .events
                .into_iter()
                .filter(|e| e.is_for(key))
                .filter(|e| seen.insert(e.event_id.clone()))
                .collect();
            if mine.is_empty() {
                continue;
            }
            for e in &mine {
                out.sources.insert(e.event_id.clone(), loc.uri(&r.key));
            }
            if let Some(h) = r.hash {
                hashes.push((r.key.clone(), h));
            }
            out.events.extend(mine);
        }
        progress(super::LookupProgress::ArchiveDay {
            day,
            files,
            days: out.days,
        });
        done = done || settled(&out.events[today..]);
        if done {
            out.settled = true;
            break;
        }
        day -= Days::days(1);
    }
    check_digests(c, loc, &hashes, &mut out).await;
    out
}

/// How many days after a log file's day kmsdoctor looks for a backfill digest that lists
/// it, when no hourly digest of its day or the next does. CloudTrail delivers backfill
/// digests "when CloudTrail needs to include log files not referenced in original digests
/// due to processing delays"; the bound keeps the listing to a week of digest folders.
pub const BACKFILL_DAYS: i64 = 7;

/// One digest file as read from S3.
struct DigestRead {
    key: String,
    /// The uncompressed content, as signed.
    raw: Vec<u8>,
    file: DigestFile,
    /// Object metadata: `signature`, `signature-algorithm`, and for a backfill digest
    /// `backfill-generation-timestamp`.
    signature: Option<String>,
    algorithm: Option<String>,
    generated: Option<String>,
}

async fn read_digest(c: &Clients, loc: &TrailLocation, key: &str) -> Result<DigestRead, ReadError> {
    let o = match c.s3.get_object().bucket(&loc.bucket).key(key).send().await {
        Ok(o) => o,
        Err(e) => {
            let e = c.error("s3", "GetObject", &e);
            return Err(match decrypt_hint(loc, e.is_access_denied(), &e.message) {
                Some(h) => ReadError::Answer(format!("{e} ({h})")),
                None => ReadError::Call(e),
            });
        }
    };
    let meta = |name: &str| o.metadata().and_then(|m| m.get(name)).cloned();
    let (signature, algorithm, generated) = (
        meta("signature"),
        meta("signature-algorithm"),
        meta("backfill-generation-timestamp"),
    );
    let body = o
        .body
        .collect()
        .await
        .map_err(|e| ReadError::Answer(e.to_string()))?
        .into_bytes();
    let raw = content(&body)?;
    let file = DigestFile::parse(&raw)?;
    Ok(DigestRead {
        key: key.to_string(),
        raw,
        file,
        signature,
        algorithm,
        generated,
    })
}

/// Reads every digest under the day folders `days` (only backfill digests when
/// `backfill_only`), skipping keys already read; [`CONCURRENCY`] at once, kept in key order.
async fn read_digest_days(
    c: &Clients,
    loc: &TrailLocation,
    days: &[NaiveDate],
    backfill_only: bool,
    read: &mut Vec<DigestRead>,
    out: &mut ArchiveScan,
) {
    let mut wanted: Vec<String> = Vec::new();
    for d in days {
        let prefix = loc.digest_prefix(*d);
        match list_keys(c, &loc.bucket, &prefix, &mut out.lists).await {
            Ok(keys) => wanted.extend(keys.into_iter().filter(|k| {
                (is_backfill(k) || !backfill_only) && !read.iter().any(|r| &r.key == k)
            })),
            Err(m) => out.problems.push(m.to_string()),
        }
    }
    out.gets += wanted.len() as u32;
    let mut got: Vec<(String, Result<DigestRead, ReadError>)> = stream::iter(wanted)
        .map(|k| async move {
            let r = read_digest(c, loc, &k).await;
            (k, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    got.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, r) in got {
        match r {
            Ok(r) => read.push(r),
            Err(m) => out
                .problems
                .push(format!("the digest {} cannot be read: {m}", loc.uri(&k))),
        }
    }
}

/// CloudTrail's public keys valid in `from..to` (ListPublicKeys, every page).
async fn public_keys(
    c: &Clients,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PublicKey>, ReadError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .cloudtrail
            .list_public_keys()
            .start_time(aws_smithy_types::DateTime::from_secs(from.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(to.timestamp()))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| c.error("cloudtrail", "ListPublicKeys", &e))?;
        keys.extend(
            page.public_key_list()
                .iter()
                .filter_map(|k| Some(PublicKey::new(k.fingerprint()?, k.value()?.as_ref()))),
        );
        match page.next_token() {
            Some(t) if token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => return Ok(keys),
        }
    }
}

/// Validates the trail's digest files for the log files that gave records, as CloudTrail
/// defines it (see `evidence::digest`): the digests of each file's day and the next (a
/// digest lists the files delivered in the hour before it), and for a file none of them
/// lists, the backfill digests of the [`BACKFILL_DAYS`] after; each digest's signature with
/// CloudTrail's public key of its period; each link of the chain between digests read; each
/// file's SHA-256 against a digest whose signature verified. A file no verified digest
/// lists, a hash that differs, a signature that does not verify or a broken link is a
/// problem: the records may have been changed or planted.
async fn check_digests(
    c: &Clients,
    loc: &TrailLocation,
    files: &[(String, String)],
    out: &mut ArchiveScan,
) {
    if files.is_empty() {
        return;
    }
    if !loc.log_validation {
        out.problems.push(format!(
            "the trail {} does not write digest files (log file validation is off): the {} log file(s) that gave records are not checked",
            loc.trail,
            files.len()
        ));
        return;
    }
    let file_days = |fs: &[&(String, String)], offsets: std::ops::RangeInclusive<i64>| {
        let mut days: Vec<NaiveDate> = fs
            .iter()
            .filter_map(|(k, _)| day_of(loc, k))
            .flat_map(|d| offsets.clone().map(move |o| d + Days::days(o)))
            .collect();
        days.sort();
        days.dedup();
        days
    };
    let all: Vec<&(String, String)> = files.iter().collect();
    let mut read: Vec<DigestRead> = Vec::new();
    let hourly_days = file_days(&all, 0..=1);
    read_digest_days(c, loc, &hourly_days, false, &mut read, out).await;
    let unlisted: Vec<&(String, String)> = files
        .iter()
        .filter(|(k, _)| {
            !read
                .iter()
                .any(|r| r.file.log_files.iter().any(|e| &e.s3_object == k))
        })
        .collect();
    if !unlisted.is_empty() {
        let later: Vec<NaiveDate> = file_days(&unlisted, 2..=BACKFILL_DAYS)
            .into_iter()
            .filter(|d| !hourly_days.contains(d))
            .collect();
        read_digest_days(c, loc, &later, true, &mut read, out).await;
    }
    let mut v = DigestValidation {
        digests: read.len() as u32,
        backfill_digests: read.iter().filter(|r| is_backfill(&r.key)).count() as u32,
        ..DigestValidation::default()
    };
    // The public keys of the period the digests cover (a backfill digest is signed when it
    // was generated), an hour of margin each side.
    let times = read.iter().flat_map(|r| {
        [
            parse_time(&r.file.digest_start_time),
            r.file.end(),
            r.generated.as_deref().and_then(parse_time),
        ]
    });
    let times: Vec<DateTime<Utc>> = times.flatten().collect();
    let keys = match (times.iter().min(), times.iter().max()) {
        (Some(from), Some(to)) => {
            match public_keys(c, *from - Days::hours(1), *to + Days::hours(1)).await {
                Ok(k) => k,
                Err(e) => {
                    out.problems
                        .push(format!("the digests' signatures cannot be checked: {e}"));
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    let mut verified: Vec<&DigestRead> = Vec::new();
    for r in &read {
        if keys.is_empty() {
            break;
        }
        match verify(
            &r.file,
            &r.raw,
            &loc.bucket,
            &r.key,
            r.signature.as_deref(),
            r.algorithm.as_deref(),
            &keys,
        ) {
            Ok(()) => verified.push(r),
            Err(fault) => out
                .problems
                .push(format!("the digest {} {fault}", loc.uri(&r.key))),
        }
    }
    v.signatures_verified = verified.len() as u32;
    // The chain: each verified digest's record of the one before it, when that one was read.
    for r in &verified {
        let (Some(pb), Some(pk)) = (
            r.file.previous_digest_s3_bucket.as_deref(),
            r.file.previous_digest_s3_object.as_deref(),
        ) else {
            continue;
        };
        let Some(prev) = read.iter().find(|p| pb == loc.bucket && p.key == pk) else {
            continue;
        };
        match link(&r.file, &prev.raw, prev.signature.as_deref()) {
            Link::Holds => v.chain_links_verified += 1,
            Link::SignatureDiffers => out.problems.push(format!(
                "the digest chain is broken at {}: the signature it records for {} is not that digest's signature",
                loc.uri(&r.key),
                loc.uri(pk)
            )),
            Link::HashDiffers => out.problems.push(format!(
                "the digest chain is broken at {}: the SHA-256 it records for {} is not that digest's",
                loc.uri(&r.key),
                loc.uri(pk)
            )),
        }
    }
    v.covered_from = verified
        .iter()
        .map(|r| r.file.digest_start_time.clone())
        .min();
    v.covered_to = verified
        .iter()
        .map(|r| r.file.digest_end_time.clone())
        .max();
    let listed = |digests: &[&DigestRead], key: &str| -> Option<String> {
        digests
            .iter()
            .flat_map(|r| r.file.sha256_entries())
            .find(|(k, _)| *k == key)
            .map(|(_, h)| h)
    };
    let unverified: Vec<&DigestRead> = read
        .iter()
        .filter(|r| !verified.iter().any(|v| v.key == r.key))
        .collect();
    for (key, hash) in files {
        out.digests_checked += 1;
        match listed(&verified, key) {
            Some(h) if &h == hash => v.log_files_verified += 1,
            Some(_) => out.problems.push(format!(
                "{} does not match its digest (SHA-256 differs): its records may have been changed",
                loc.uri(key)
            )),
            None if listed(&unverified, key).is_some() => out.problems.push(format!(
                "{} is listed only in a digest that does not verify: its records cannot be checked",
                loc.uri(key)
            )),
            None => out.problems.push(format!(
                "{} is listed in no digest file of its day, the next, or the {} days after (backfill): its records cannot be checked",
                loc.uri(key),
                BACKFILL_DAYS - 1
            )),
        }
    }
    out.validation = Some(v);
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
}

/// The day a log file's key is filed under.
pub(crate) fn day_of(loc: &TrailLocation, key: &str) -> Option<NaiveDate> {
    let base = loc.day_prefix(NaiveDate::from_ymd_opt(2000, 1, 1)?);
    let head = base.strip_suffix("2000/01/01/")?;
    let rest = key.strip_prefix(head)?;
    let mut parts = rest.splitn(4, '/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}
