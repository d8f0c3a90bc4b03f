//! `kmsdoctor guard --delete ARN...`: which keys would lose their last administrator if
//! these principals were deleted; over a scan's JSON, or a scan made now. Exit 3 when one
//! would drop to no one or below `--min-admins`, 5 when some keys could not be judged (or
//! part of the account was not scanned), 0 only when every key was judged safe: a
//! pre-delete hook stops unless 0.

use std::io::Write;

use super::{AppError, Ui};
use crate::analysis::guard::{guard, GuardKey};
use crate::cli::{GuardArgs, OutputFormat};
use crate::config::GuardConfig;
use crate::evidence::aws::scan::AwsInventory;
use crate::evidence::scan_file::read_scan;
use crate::evidence::source::KeyInventory;
use crate::report::guard::{self as report, GuardReport};

pub fn run(
    args: &GuardArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let cfg = GuardConfig::resolve(args)?;
    let mut aws = cfg.scan.as_ref().map(|s| AwsInventory {
        connection: s.connection.clone(),
    });
    let inventory = aws.as_mut().map(|a| a as &mut dyn KeyInventory);
    execute(&cfg, inventory, out, err, ui)
}

/// `guard` over a scan file, or a scan now through `inventory` (AWS, or the in-memory
/// account of the tests).
pub fn execute(
    cfg: &GuardConfig,
    inventory: Option<&mut dyn KeyInventory>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ui: Ui,
) -> Result<u8, AppError> {
    let (keys, source, problems) = match (&cfg.scan_file, &cfg.scan, inventory) {
        (Some(path), _, _) => (read_scan(path)?, path.display().to_string(), Vec::new()),
        (None, Some(scan), Some(inventory)) => {
            let s = super::scan::gather(scan, inventory, ui)?;
            super::warn_problems(err, &s.problems)?;
            if !s.problems.is_empty() {
                writeln!(
                    err,
                    "kmsdoctor: warning: part of the account was not scanned: keys there are not judged, and the answer is unknown"
                )?;
            }
            let keys = s.keys.into_iter().map(GuardKey::from).collect();
            (keys, format!("a scan now as {}", s.caller.arn), s.problems)
        }
        _ => {
            return Err(AppError::Refused(
                "guard needs a scan: give --scan FILE, or the flags of a scan now".into(),
            ))
        }
    };
    let rows = guard(&keys, &cfg.delete, cfg.min_admins);
    let r = GuardReport {
        deleted: &cfg.delete,
        min_admins: cfg.min_admins,
        source: &source,
        rows: &rows,
        problems: &problems,
    };
    match cfg.output {
        OutputFormat::Json => report::render_json(out, &r)?,
        OutputFormat::Table => report::render_table(out, &r, ui.style)?,
    }
    out.flush()?;
    Ok(r.answer().exit_code())
}
