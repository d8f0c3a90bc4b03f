//! The offline integration tests, in one binary (one link of the AWS SDK instead of five):
//! the real `kmsdoctor` binary driven on fixtures, the lockout scenarios and the evaluation
//! corpus. Snapshots are insta's, in `tests/snapshots/` and each scenario's folder.

/// `insta::assert_snapshot!` under a fixed name in `tests/snapshots/`, whatever the module.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
        }, {
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
mod scan;
mod scenarios;
mod why_locked;
