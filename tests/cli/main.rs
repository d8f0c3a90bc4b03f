//! The offline integration tests, in one binary (one link of the AWS SDK instead of five):
//! the real `kmsdoctor` binary driven on fixtures, the lockout scenarios and the evaluation
//! corpus. Snapshots are insta's, in `tests/snapshots/` and each scenario's folder.

/// `insta::assert_snapshot!` under a fixed name in `tests/snapshots/`, whatever the module.
/// A reviewed output in `tests/snapshots/COMMAND__CASE.snap` (one naming scheme: the
/// command, two underscores, what the case shows); `tests/snapshots` holds nothing else.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            debug_assert!(
                $name.split_once("__").is_some_and(|(c, case)| !c.is_empty() && !case.is_empty()),
                "snapshot names are COMMAND__CASE"
            );
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// Whether a table line fits 80 columns, a single word longer than a line (an ARN kept
/// whole for copying) excepted.
fn fits_80_columns(line: &str) -> bool {
    line.chars().count() <= 80 || !line.trim().contains(' ')
}

mod check;
mod eval_corpus;
mod explain;
mod fix;
mod fuzz;
mod hostile;
mod key_state;
mod offline;
mod scan;
mod scenarios;
mod why_locked;

/// Every command of a why-locked JSON plan, in order, each step's alternative after it.
fn plan_commands(doc: &serde_json::Value) -> Vec<String> {
    doc["recovery_plan"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| [&s["command"], &s["alternative"]["command"]])
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}
