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

mod check;
mod eval_corpus;
mod explain;
mod fuzz;
mod hostile;
mod scenarios;
mod why_locked;
