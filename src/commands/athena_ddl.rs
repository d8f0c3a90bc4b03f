//! `kmsdoctor athena-ddl`: the CREATE TABLE `why-locked --history athena` expects, for the
//! user to run. kmsdoctor itself never creates tables.

use std::io::Write;

use super::AppError;
use crate::cli::AthenaDdlArgs;
use crate::config::FlagError;
use crate::evidence::athena::{ddl, DdlOptions};

pub fn run(args: &AthenaDdlArgs, out: &mut dyn Write) -> Result<u8, AppError> {
    let start = match &args.start {
        None => chrono::Utc::now().date_naive() - chrono::Duration::days(730),
        Some(s) => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .or_else(|_| chrono::NaiveDate::parse_from_str(s.trim(), "%Y/%m/%d"))
            .map_err(|_| FlagError {
                flag: "--start",
                message: format!("`{s}` is not a date (YYYY-MM-DD)"),
            })?,
    };
    let text = ddl(&DdlOptions {
        table: &args.table,
        bucket: &args.bucket,
        prefix: args.prefix.as_deref(),
        org_id: args.org_id.as_deref(),
        start,
    })
    .map_err(|e| {
        use crate::evidence::athena::DdlField;
        // Name the flag the value came from.
        let flag = match e.field {
            DdlField::Table => "--table",
            DdlField::Bucket => "--bucket",
            DdlField::Prefix => "--prefix",
            DdlField::OrgId => "--org-id",
        };
        FlagError {
            flag,
            message: e.message,
        }
    })?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}
