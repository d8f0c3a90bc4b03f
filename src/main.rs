//! The `kmsdoctor` binary: parse flags, run, map the outcome to an exit code.
//! Exit codes: 0 success, 1 error (bad input, failed calls), 2 usage (from clap).

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use kmsdoctor::app;
use kmsdoctor::cli::Cli;
use kmsdoctor::report::Style;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let style = Style::detect(stdout.is_terminal());
    let mut out = stdout.lock();
    match app::run(&cli, &mut out, style).map_err(anyhow::Error::from) {
        Ok(code) => ExitCode::from(code),
        Err(e)
            if e.downcast_ref::<app::AppError>()
                .is_some_and(app::AppError::is_broken_pipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kmsdoctor: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
