//! Athena over the trail's logs (`--history athena`), the part without I/O: the one query
//! kmsdoctor runs, the table it expects (`kmsdoctor athena-ddl` prints it), a result row
//! back into a CloudTrail record, and sizes and cost.
//!
//! The table is the one of the Athena User Guide, "Create the table for CloudTrail logs in
//! Athena using partition projection", with `account` and `region` as injected partition
//! columns beside `timestamp` (`yyyy/MM/dd`): Athena refuses a query that does not bind the
//! injected columns, and the query binds all three, so it reads only the key's account,
//! region and days. Athena bills $5 per TB scanned, at least 10 MB a query.

use chrono::NaiveDate;

use super::Invalid;
use crate::analysis::aws_ids::{is_account_id, is_key_id, is_region};

/// What a query costs: $5 per TB scanned, 10 MB at least (Athena pricing).
pub fn cost_usd(bytes: u64) -> f64 {
    bytes.max(10_000_000) as f64 / 1e12 * 5.0
}

/// `--max-scan`: bytes, or a number with KB, MB, GB or TB (decimal, as Athena bills).
pub fn parse_size(s: &str) -> Result<u64, Invalid> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let (num, unit) = match upper.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &upper[i..]),
        None => (t, ""),
    };
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(Invalid(format!(
                "`{other}` is not a size unit (B, KB, MB, GB, TB)"
            )))
        }
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| Invalid(format!("`{s}` is not a size such as 5GB")))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(Invalid(format!("`{s}` is not a size above zero")));
    }
    Ok((n * mult as f64) as u64)
}

/// A database, table or workgroup name kmsdoctor will put in a query: letters, digits,
/// underscores (and hyphens for workgroups, which are not in the query).
pub fn is_identifier(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The columns the query selects, in order: [`record_from_row`] reads them back.
pub const COLUMNS: &[&str] = &[
    "eventversion",
    "useridentity.type",
    "useridentity.principalid",
    "useridentity.arn",
    "useridentity.accountid",
    "useridentity.invokedby",
    "useridentity.sessioncontext.sessionissuer.type",
    "useridentity.sessioncontext.sessionissuer.arn",
    "eventtime",
    "eventsource",
    "eventname",
    "awsregion",
    "sourceipaddress",
    "useragent",
    "errorcode",
    "errormessage",
    "requestparameters",
    "responseelements",
    "eventid",
    "array_join(transform(resources, r -> r.arn), ' ')",
    "recipientaccountid",
    "\"$path\"",
];

/// What the query is about.
#[derive(Debug, Clone)]
pub struct HistoryQuery<'a> {
    pub database: &'a str,
    pub table: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub key_id: &'a str,
    pub oldest: NaiveDate,
    pub newest: NaiveDate,
}

/// The one query for the key's CreateKey, PutKeyPolicy and ReplicateKey records, its
/// partition columns always bound (account, region, days). Every value is checked for what
/// it is before it goes in: nothing from outside is written into the SQL unchecked.
pub fn history_sql(q: &HistoryQuery<'_>) -> Result<String, Invalid> {
    if !is_identifier(q.database) {
        return Err(Invalid(format!(
            "`{}` is not an Athena database name",
            q.database
        )));
    }
    if !is_identifier(q.table) {
        return Err(Invalid(format!(
            "`{}` is not an Athena table name",
            q.table
        )));
    }
    if !is_account_id(q.account) {
        return Err(Invalid(format!("`{}` is not an account id", q.account)));
    }
    if !is_region(q.region) {
        return Err(Invalid(format!("`{}` is not a region", q.region)));
    }
    if !is_key_id(q.key_id) {
        return Err(Invalid(format!("`{}` is not a key id", q.key_id)));
    }
    if q.oldest > q.newest {
        return Err(Invalid("the oldest day is after the newest".into()));
    }
    Ok(format!(
        "SELECT {}\nFROM \"{}\".\"{}\"\nWHERE account = '{}'\n  AND region = '{}'\n  AND \"timestamp\" BETWEEN '{}' AND '{}'\n  AND eventsource = 'kms.amazonaws.com'\n  AND eventname IN ({names})\n  AND (strpos(requestparameters, '{key}') > 0 OR strpos(responseelements, '{key}') > 0)",
        COLUMNS.join(", "),
        q.database,
        q.table,
        q.account,
        q.region,
        q.oldest.format("%Y/%m/%d"),
        q.newest.format("%Y/%m/%d"),
        key = q.key_id,
        // Not the grant events: RetireGrant's record names its grant in
        // additionalEventData and its key only in resources, which the table's columns read
        // here do not carry; a retirement missed would leave a grant taken for live.
        names = crate::analysis::events::EventName::ALL
            .iter()
            .filter(|e| !e.is_grant())
            .map(|e| format!("'{}'", e.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

/// One result row back into a CloudTrail record (the fields kmsdoctor reads), and the S3
/// object it came from (`$path`).
pub fn record_from_row(
    cells: &[Option<String>],
) -> Result<(serde_json::Value, Option<String>), Invalid> {
    use serde_json::{json, Map, Value};
    if cells.len() != COLUMNS.len() {
        return Err(Invalid(format!(
            "a row has {} columns, not the {} asked for",
            cells.len(),
            COLUMNS.len()
        )));
    }
    let s = |i: usize| cells[i].clone().filter(|v| !v.is_empty());
    let text = |i: usize| s(i).map(Value::String);
    // requestParameters and responseElements are JSON text in the table.
    let nested = |i: usize| -> Result<Option<Value>, Invalid> {
        match s(i) {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| Invalid(format!("column {} is not JSON: {e}", COLUMNS[i]))),
        }
    };
    let mut identity = Map::new();
    for (i, k) in [
        (1, "type"),
        (2, "principalId"),
        (3, "arn"),
        (4, "accountId"),
        (5, "invokedBy"),
    ] {
        if let Some(v) = text(i) {
            identity.insert(k.into(), v);
        }
    }
    if s(7).is_some() {
        let mut issuer = Map::new();
        if let Some(v) = text(6) {
            issuer.insert("type".into(), v);
        }
        if let Some(v) = text(7) {
            issuer.insert("arn".into(), v);
        }
        identity.insert("sessionContext".into(), json!({ "sessionIssuer": issuer }));
    }
    let mut r = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            r.insert(k.into(), v);
        }
    };
    put("eventVersion", text(0));
    put("userIdentity", Some(Value::Object(identity)));
    put("eventTime", text(8));
    put("eventSource", text(9));
    put("eventName", text(10));
    put("awsRegion", text(11));
    put("sourceIPAddress", text(12));
    put("userAgent", text(13));
    put("errorCode", text(14));
    put("errorMessage", text(15));
    put("requestParameters", nested(16)?);
    put("responseElements", nested(17)?);
    put("eventID", text(18));
    put(
        "resources",
        s(19).map(|arns| {
            Value::Array(
                arns.split_whitespace()
                    .map(|a| json!({ "ARN": a }))
                    .collect(),
            )
        }),
    );
    put("recipientAccountId", text(20));
    Ok((Value::Object(r), s(21)))
}

/// What `kmsdoctor athena-ddl` is told.
#[derive(Debug, Clone)]
pub struct DdlOptions<'a> {
    pub table: &'a str,
    pub bucket: &'a str,
    pub prefix: Option<&'a str>,
    /// For an organization trail.
    pub org_id: Option<&'a str>,
    /// The first day partition projection covers (`yyyy/MM/dd`).
    pub start: NaiveDate,
}

/// Checks what goes into the DDL: a bucket name, a prefix of key characters, an `o-` id.
/// Which option of the table a value is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlField {
    Table,
    Bucket,
    Prefix,
    OrgId,
}

/// A value the table cannot be written with: which option, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DdlError {
    pub field: DdlField,
    pub message: String,
}

fn check_ddl(o: &DdlOptions<'_>) -> Result<(), DdlError> {
    let bad = |field, message: String| Err(DdlError { field, message });
    if !is_identifier(o.table) {
        return bad(
            DdlField::Table,
            format!("`{}` is not an Athena table name", o.table),
        );
    }
    let bucket_ok = (3..=63).contains(&o.bucket.len())
        && o.bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return bad(
            DdlField::Bucket,
            format!("`{}` is not an S3 bucket name", o.bucket),
        );
    }
    if let Some(p) = o.prefix {
        let ok = p.len() <= 200
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./!*()".contains(&b));
        if !ok || p.contains("..") {
            return bad(
                DdlField::Prefix,
                format!("`{p}` is not a trail S3 key prefix kmsdoctor writes into a table"),
            );
        }
    }
    if let Some(id) = o.org_id {
        let ok = id.strip_prefix("o-").is_some_and(|r| {
            (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !ok {
            return bad(
                DdlField::OrgId,
                format!("`{id}` is not an organization id (o-...)"),
            );
        }
    }
    Ok(())
}

/// The CREATE EXTERNAL TABLE for the trail's logs, with partition projection over
/// `account` and `region` (injected: every query must bind them) and `timestamp` (days).
pub fn ddl(o: &DdlOptions<'_>) -> Result<String, DdlError> {
    check_ddl(o)?;
    let mut base = format!("s3://{}/", o.bucket);
    if let Some(p) = o
        .prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        base.push_str(p);
        base.push('/');
    }
    base.push_str("AWSLogs/");
    if let Some(id) = o.org_id {
        base.push_str(id);
        base.push('/');
    }
    Ok(format!(
        r#"CREATE EXTERNAL TABLE {table} (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        sessioncontext: STRUCT<
            attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>>>,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING
)
PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{base}'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'injected',
    'projection.region.type' = 'injected',
    'projection.timestamp.type' = 'date',
    'projection.timestamp.format' = 'yyyy/MM/dd',
    'projection.timestamp.range' = '{start},NOW',
    'projection.timestamp.interval' = '1',
    'projection.timestamp.interval.unit' = 'DAYS',
    'storage.location.template' = '{base}${{account}}/CloudTrail/${{region}}/${{timestamp}}'
);
"#,
        table = o.table,
        start = o.start.format("%Y/%m/%d"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q<'a>(key: &'a str, table: &'a str) -> HistoryQuery<'a> {
        HistoryQuery {
            database: "security",
            table,
            account: "111122223333",
            region: "eu-west-1",
            key_id: key,
            oldest: NaiveDate::from_ymd_opt(2025, 1, 31).unwrap(),
            newest: NaiveDate::from_ymd_opt(2026, 8, 25).unwrap(),
        }
    }

    /// The partition columns are always bound, to single values and a day range.
    #[test]
    fn the_query_binds_every_partition_column() {
        let sql = history_sql(&q(
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "cloudtrail_logs",
        ))
        .unwrap();
        assert!(
            sql.contains("FROM \"security\".\"cloudtrail_logs\""),
            "{sql}"
        );
        assert!(sql.contains("WHERE account = '111122223333'"), "{sql}");
        assert!(sql.contains("AND region = 'eu-west-1'"), "{sql}");
        assert!(
            sql.contains("AND \"timestamp\" BETWEEN '2025/01/31' AND '2026/08/25'"),
            "{sql}"
        );
        assert!(sql.contains("eventname IN ('CreateKey', 'PutKeyPolicy', 'ReplicateKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'DisableKey', 'EnableKey')"));
        assert!(sql.contains("strpos(requestparameters, '1234abcd-12ab-34cd-56ef-1234567890ab')"));
        assert!(history_sql(&q("mrk-1234abcd12ab34cd56ef1234567890ab", "t")).is_ok());
    }

    #[test]
    fn nothing_unchecked_reaches_the_sql() {
        for (key, table) in [
            ("1234abcd' OR '1'='1", "t"),
            (
                "1234abcd-12ab-34cd-56ef-1234567890ab",
                "t\"; DROP TABLE x; --",
            ),
            ("1234abcd-12ab-34cd-56ef-1234567890ab", ""),
        ] {
            assert!(history_sql(&q(key, table)).is_err(), "{key} {table}");
        }
        let mut bad = q("1234abcd-12ab-34cd-56ef-1234567890ab", "t");
        bad.region = "us-east-1' --";
        assert!(history_sql(&bad).is_err());
    }

    #[test]
    fn a_row_becomes_the_record_it_came_from() {
        let mut row: Vec<Option<String>> = vec![None; COLUMNS.len()];
        row[1] = Some("AssumedRole".into());
        row[3] = Some("arn:aws:sts::111122223333:assumed-role/Admin/a".into());
        row[7] = Some("arn:aws:iam::111122223333:role/Admin".into());
        row[8] = Some("2025-03-01T10:00:00Z".into());
        row[9] = Some("kms.amazonaws.com".into());
        row[10] = Some("PutKeyPolicy".into());
        row[16] = Some(r#"{"keyId":"k","policy":"{}"}"#.into());
        row[18] = Some("ev-1".into());
        row[19] = Some("arn:aws:kms:eu-west-1:111122223333:key/k".into());
        row[21] = Some("s3://b/AWSLogs/x.json.gz".into());
        let (r, path) = record_from_row(&row).unwrap();
        assert_eq!(r["eventName"], "PutKeyPolicy");
        assert_eq!(r["requestParameters"]["keyId"], "k");
        assert_eq!(
            r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
            "arn:aws:iam::111122223333:role/Admin"
        );
        assert_eq!(
            r["resources"][0]["ARN"],
            "arn:aws:kms:eu-west-1:111122223333:key/k"
        );
        assert_eq!(path.as_deref(), Some("s3://b/AWSLogs/x.json.gz"));
        row[16] = Some("{broken".into());
        assert!(record_from_row(&row).is_err());
        assert!(record_from_row(&row[..3]).is_err());
    }

    #[test]
    fn sizes_and_cost() {
        assert_eq!(parse_size("5GB").unwrap(), 5_000_000_000);
        assert_eq!(parse_size("1.5 tb").unwrap(), 1_500_000_000_000);
        assert_eq!(parse_size("700").unwrap(), 700);
        assert!(parse_size("5 GiB").is_err());
        assert!(parse_size("-1GB").is_err());
        assert!((cost_usd(1_000_000_000_000) - 5.0).abs() < 1e-9);
        assert!((cost_usd(1) - 0.00005).abs() < 1e-12, "10 MB at least");
    }

    #[test]
    fn the_ddl_binds_projection_to_the_trail_layout() {
        let o = DdlOptions {
            table: "cloudtrail_logs",
            bucket: "org-trail-logs",
            prefix: Some("ct"),
            org_id: Some("o-abc1234567"),
            start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        };
        let d = ddl(&o).unwrap();
        assert!(
            d.contains("LOCATION 's3://org-trail-logs/ct/AWSLogs/o-abc1234567/'"),
            "{d}"
        );
        assert!(d.contains("'storage.location.template' = 's3://org-trail-logs/ct/AWSLogs/o-abc1234567/${account}/CloudTrail/${region}/${timestamp}'"), "{d}");
        assert!(d.contains("'projection.account.type' = 'injected'"));
        assert!(d.contains("'projection.timestamp.range' = '2024/01/01,NOW'"));
        for bad in [
            DdlOptions {
                bucket: "Bad Bucket",
                ..o.clone()
            },
            DdlOptions {
                prefix: Some("x' ) --"),
                ..o.clone()
            },
            DdlOptions {
                org_id: Some("o-';"),
                ..o.clone()
            },
        ] {
            assert!(ddl(&bad).is_err());
        }
    }
}
