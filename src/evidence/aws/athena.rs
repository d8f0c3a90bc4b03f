//! `--history athena`: what the query will scan (the sizes of the key's account, region and
//! days in the trail bucket, which is what Athena bills for gzipped JSON), and the one query
//! (StartQueryExecution, GetQueryExecution until it ends, GetQueryResults page by page).
//! StartQueryExecution writes the results to the workgroup's output location: the one call
//! of this mode that is not a read, allowed only to these clients (`Mode::Athena`).

use std::time::Duration;

use chrono::{Datelike, NaiveDate};

use super::{Clients, ReadError};
use crate::evidence::archive::TrailLocation;

/// What the query will read: the log files of the key's account, region and days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    pub bytes: u64,
    pub objects: u64,
    pub lists: u32,
}

/// Sums the sizes of the log files under the key's account and region from `oldest` to
/// `newest`: one listing a month, keeping the days in range.
pub async fn estimate(
    c: &Clients,
    loc: &TrailLocation,
    newest: NaiveDate,
    oldest: NaiveDate,
) -> Result<Estimate, ReadError> {
    let mut e = Estimate::default();
    let mut month = NaiveDate::from_ymd_opt(oldest.year(), oldest.month(), 1)
        .ok_or_else(|| ReadError::Answer("no such month".into()))?;
    while month <= newest {
        let day_prefix = loc.day_prefix(month);
        // `.../YYYY/MM/01/` without its day: the month.
        let prefix = day_prefix.trim_end_matches('/');
        let prefix = &prefix[..prefix.len() - 2];
        let mut token: Option<String> = None;
        loop {
            e.lists += 1;
            let page =
                c.s3.list_objects_v2()
                    .bucket(&loc.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|err| {
                        c.error("s3", "ListObjectsV2", &err)
                            .about(format!("s3://{}/{prefix}", loc.bucket))
                    })?;
            for o in page.contents() {
                let day = o.key().and_then(|k| super::archive::day_of(loc, k));
                if day.is_some_and(|d| d >= oldest && d <= newest) {
                    e.objects += 1;
                    e.bytes += o.size().unwrap_or(0).max(0) as u64;
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) && token.as_deref() != Some(t) => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| ReadError::Answer("no such month".into()))?;
    }
    Ok(e)
}

/// A finished query: its id, result rows (the header row left out), and what Athena says
/// it scanned and took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryRun {
    pub id: String,
    pub rows: Vec<Vec<Option<String>>>,
    pub scanned_bytes: Option<u64>,
    pub millis: Option<u64>,
    pub calls: u32,
}

/// How long to wait between GetQueryExecution calls, and for the query at all.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub first: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Polling {
    /// 1 s doubling to 5 s, 15 minutes at most; `KMSDOCTOR_ATHENA_POLL_MS` sets the first
    /// and the most (for emulators).
    pub fn from_env() -> Polling {
        let mut p = Polling {
            first: Duration::from_secs(1),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(900),
        };
        if let Some(ms) = std::env::var("KMSDOCTOR_ATHENA_POLL_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            p.first = Duration::from_millis(ms);
            p.max = Duration::from_millis(ms);
        }
        p
    }
}

/// Most result rows taken (a key has a handful of policy events; more is not believed).
const MAX_ROWS: usize = 100_000;

/// Runs `sql`, waits for it, and reads every page of its results.
pub async fn run_query(
    c: &Clients,
    s: &crate::evidence::settings::AthenaSettings,
    sql: &str,
    polling: Polling,
) -> Result<QueryRun, ReadError> {
    use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
    let mut run = QueryRun::default();
    let mut start = c
        .athena
        .start_query_execution()
        .query_string(sql)
        .query_execution_context(
            QueryExecutionContext::builder()
                .database(&s.database)
                .build(),
        )
        .work_group(&s.workgroup);
    if let Some(o) = &s.output_location {
        start =
            start.result_configuration(ResultConfiguration::builder().output_location(o).build());
    }
    run.calls += 1;
    let started = start
        .send()
        .await
        .map_err(|e| c.error("athena", "StartQueryExecution", &e))?;
    run.id = started
        .query_execution_id()
        .ok_or_else(|| ReadError::Answer("athena StartQueryExecution returned no query id".into()))?
        .to_string();
    let began = std::time::Instant::now();
    let mut wait = polling.first;
    loop {
        run.calls += 1;
        let got = c
            .athena
            .get_query_execution()
            .query_execution_id(&run.id)
            .send()
            .await
            .map_err(|e| {
                c.error("athena", "GetQueryExecution", &e)
                    .about(run.id.as_str())
            })?;
        let q = got.query_execution();
        let status = q.and_then(|q| q.status());
        let reason = status
            .and_then(|s| s.state_change_reason())
            .unwrap_or("no reason given");
        match status.and_then(|s| s.state()) {
            Some(QueryExecutionState::Succeeded) => {
                let stats = q.and_then(|q| q.statistics());
                run.scanned_bytes = stats
                    .and_then(|s| s.data_scanned_in_bytes())
                    .map(|b| b.max(0) as u64);
                run.millis = stats
                    .and_then(|s| s.total_execution_time_in_millis())
                    .map(|m| m.max(0) as u64);
                break;
            }
            Some(QueryExecutionState::Failed) => {
                return Err(ReadError::Answer(format!(
                    "the Athena query {} failed: {reason}",
                    run.id
                )))
            }
            Some(QueryExecutionState::Cancelled) => {
                return Err(ReadError::Answer(format!(
                    "the Athena query {} was cancelled: {reason}",
                    run.id
                )))
            }
            _ => {}
        }
        if began.elapsed() > polling.timeout {
            return Err(ReadError::Answer(format!(
                "the Athena query {} did not finish within {} s (it may still run: see the Athena console)",
                run.id,
                polling.timeout.as_secs()
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(polling.max);
    }
    let mut token: Option<String> = None;
    let mut first_page = true;
    loop {
        run.calls += 1;
        let page = c
            .athena
            .get_query_results()
            .query_execution_id(&run.id)
            .max_results(1000)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                c.error("athena", "GetQueryResults", &e)
                    .about(run.id.as_str())
            })?;
        let rows = page.result_set().map(|r| r.rows()).unwrap_or_default();
        // The first row of the first page holds the column names.
        let skip = usize::from(first_page && !rows.is_empty());
        first_page = false;
        for row in &rows[skip..] {
            run.rows.push(
                row.data()
                    .iter()
                    .map(|d| d.var_char_value().map(str::to_string))
                    .collect(),
            );
        }
        if run.rows.len() > MAX_ROWS {
            return Err(ReadError::Answer(format!(
                "the Athena query {} returned over {MAX_ROWS} rows: not believed",
                run.id
            )));
        }
        match page.next_token() {
            Some(t) if token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => return Ok(run),
        }
    }
}
