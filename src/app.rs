//! Runs a parsed command line: dispatches to the command, which resolves its settings,
//! gathers evidence, analyses and reports.

use std::io::Write;

use crate::cli::{Cli, Command};
pub use crate::commands::{AppError, Progress, Ui};

/// Standard output (or error) for a run: when the reader goes away (`kmsdoctor check | head`), what is
/// left to write is dropped and the run goes on to its own exit code. A closed pipe must not
/// turn a failing check into success for a script with `pipefail`, nor end the run with
/// another code than the one its result calls for.
pub struct TolerantPipe<W: Write> {
    inner: W,
    closed: bool,
}

impl<W: Write> TolerantPipe<W> {
    pub fn new(inner: W) -> Self {
        TolerantPipe {
            inner,
            closed: false,
        }
    }

    /// Whether the reader closed the pipe.
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl<W: Write> Write for TolerantPipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Runs the command and returns the process exit code. Results go to `out`; warnings and
/// progress to `err`.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write, ui: Ui) -> Result<u8, AppError> {
    use crate::commands::{
        athena_ddl, check, collect, docs, explain, fix, guard, scan, why_locked,
    };
    match &cli.command {
        Command::Explain(args) => explain::run(args, out, err, ui.style),
        Command::WhyLocked(args) => why_locked::run(args, out, err, ui),
        Command::History(args) => why_locked::run_history(args, out, err, ui),
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
