//! The `kmsdoctor` binary: parse flags, run, map the outcome to an exit code.
//! Exit codes: 0 success (for why-locked: ok), 1 error (bad input, failed calls), 2 usage
//! (from clap); why-locked: 3 recoverable, 4 unrecoverable, 5 unknown; fix: 3 refused (nothing
//! sent) or applied but not ok.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use kmsdoctor::app::{self, Progress, Ui};
use kmsdoctor::cli::Cli;
use kmsdoctor::report::Style;

/// mimalloc: `check` and the parser allocate many small values (JSON trees, strings), and
/// glibc's malloc took over half of their time (perf); mimalloc's per-thread free lists cut it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::read(std::env::args_os()).unwrap_or_else(|e| e.exit());
    if cli.verbose() {
        // kmsdoctor's own events only: the SDK's are many and rarely what a person needs.
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("kmsdoctor", tracing::Level::DEBUG);
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(io::stderr)
                    .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
                    .with_target(false),
            )
            .with(filter)
            .init();
    }
    let stdout = io::stdout();
    let stderr = io::stderr();
    let ui = Ui {
        style: Style::detect(stdout.is_terminal()),
        progress: if stderr.is_terminal() {
            Progress::Terminal
        } else {
            Progress::Lines
        },
        interactive: io::stdin().is_terminal() && stderr.is_terminal(),
    };
    // A reader that goes away early does not change the exit code (app::TolerantPipe).
    let mut out = app::TolerantPipe::new(stdout.lock());
    // Not locked: worker threads print progress to stderr while the run goes on.
    let mut err = app::TolerantPipe::new(stderr);
    // Every error is typed (`AppError`) and says what failed and where (the file and place,
    // the flag, the AWS service and operation): it is printed as one line.
    match app::run(&cli, &mut out, &mut err, ui) {
        Ok(code) => ExitCode::from(code),
        Err(e @ app::AppError::Refused(_)) => {
            let _ = writeln!(
                err,
                "kmsdoctor: {}",
                kmsdoctor::analysis::escape::visible(&e.to_string())
            );
            ExitCode::from(3)
        }
        Err(e) => {
            // The error may quote input (a file name, an AWS message): escaped for the terminal.
            let text = e.to_string();
            let _ = writeln!(
                err,
                "kmsdoctor: error: {}",
                kmsdoctor::analysis::escape::visible(&text)
            );
            ExitCode::from(1)
        }
    }
}
