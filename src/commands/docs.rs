//! `kmsdoctor completions SHELL` and `kmsdoctor manpages --out-dir DIR`: generated from the
//! flags themselves (clap_complete, clap_mangen), so they never drift from them.

use std::io::Write;

use clap::CommandFactory;

use super::AppError;
use crate::cli::{Cli, CompletionsArgs, ManpagesArgs};
use crate::evidence::files::NewFile;

pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<u8, AppError> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "kmsdoctor", &mut buf);
    out.write_all(&buf)?;
    out.flush()?;
    Ok(0)
}

pub fn manpages(args: &ManpagesArgs, err: &mut dyn Write) -> Result<u8, AppError> {
    let root = Cli::command();
    let mut pages: Vec<(String, clap::Command)> = vec![("kmsdoctor".into(), root.clone())];
    for sub in root.get_subcommands() {
        let name = format!("kmsdoctor-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    // Every file is created before any is written: one that exists stops the run whole.
    let mut files = Vec::new();
    for (name, cmd) in pages {
        let path = args.out_dir.join(format!("{name}.1"));
        files.push((NewFile::create(&path, "--out-dir")?, cmd));
    }
    let n = files.len();
    for (file, cmd) in files {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        file.finish(&String::from_utf8_lossy(&buf))?;
    }
    writeln!(
        err,
        "kmsdoctor: wrote {n} man pages to {}",
        crate::analysis::escape::visible(&args.out_dir.display().to_string())
    )?;
    Ok(0)
}
