//! Reading back the JSON `kmsdoctor scan --output json` wrote, for `guard --scan FILE`.

use std::path::Path;

use serde::Deserialize;

use super::InputError;
use crate::analysis::guard::GuardKey;
use crate::analysis::locate::json_error;

/// A scan of many regions can be large, but not larger than this.
const SCAN_FILE_LIMIT: u64 = 256 * 1024 * 1024;

#[derive(Deserialize)]
struct ScanFile {
    schema_version: Option<u32>,
    keys: Vec<GuardKey>,
}

pub fn read_scan(path: &Path) -> Result<Vec<GuardKey>, InputError> {
    let text = super::files::read_text(path, SCAN_FILE_LIMIT)?;
    let kind: Option<String> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string));
    if kind.as_deref() != Some(crate::analysis::scan::SCAN_KIND) {
        return Err(InputError::new(
            path,
            "not the JSON of `kmsdoctor scan --output json` (no \"kind\": \"kmsdoctor-scan\")",
        ));
    }
    let file: ScanFile = serde_json::from_str(&text).map_err(|e| {
        let (message, position) = json_error(&e);
        InputError {
            position,
            ..InputError::new(path, format!("not a kmsdoctor scan: {message}"))
        }
    })?;
    // Version 1 differs only in the shape of findings, which guard does not read.
    if !matches!(file.schema_version, Some(v) if (1..=crate::analysis::scan::SCAN_SCHEMA_VERSION).contains(&v))
    {
        return Err(InputError::new(
            path,
            format!(
                "a scan of schema_version {:?}: this kmsdoctor reads {}",
                file.schema_version,
                crate::analysis::scan::SCAN_SCHEMA_VERSION
            ),
        ));
    }
    Ok(file.keys)
}
