//! Runs a parsed command line: dispatches to the command, which resolves its settings,
//! gathers evidence, analyses and reports.

use std::io::Write;

use crate::cli::{Cli, Command};
pub use crate::commands::{AppError, Progress, Ui};

/// Runs the command and returns the process exit code. Results go to `out`; warnings and
/// progress to `err`.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write, ui: Ui) -> Result<u8, AppError> {
    use crate::commands::{
        athena_ddl, check, collect, docs, explain, fix, guard, scan, why_locked,
    };
    match &cli.command {
        Command::Explain(args) => explain::run(args, out, err, ui.style),
        Command::WhyLocked(args) => why_locked::run(args, out, err, ui),
        Command::Collect(args) => collect::run(args, err, ui),
        Command::Check(args) => check::run(args, out, err, ui.style),
        Command::Fix(args) => fix::run(args, out, err, ui),
        Command::Scan(args) => scan::run(args, out, err, ui),
        Command::Guard(args) => guard::run(args, out, err, ui),
        Command::AthenaDdl(args) => athena_ddl::run(args, out),
        Command::Completions(args) => docs::completions(args, out),
        Command::Manpages(args) => docs::manpages(args, err),
    }
}
