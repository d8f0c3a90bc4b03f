//! CloudTrail evidence from files: `lookup-events` output, trail log files (plain or
//! gzipped, as S3 holds them), JSON Lines. Paths may be files or folders (walked
//! recursively, in name order, skipping hidden entries and `CloudTrail-Digest` folders).
//! Files are read on all cores; the result is the same whatever the order they finish in.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use flate2::read::MultiGzDecoder;

use super::InputError;
use crate::analysis::events::PolicyEvent;
use crate::evidence::cloudtrail_records::{scan, TrailScan};

/// The memory all CloudTrail files being read at once may take, whatever the number of cores:
/// each worker reads at most its share of it from one file (after decompression). Trail files
/// are a few MB; a larger file is most likely not CloudTrail, and a decompression bomb must
/// not exhaust memory.
pub const MEMORY_BUDGET: u64 = 512 * 1024 * 1024;

/// The least a worker may read from one file: fewer workers rather than less than this.
const MIN_PER_WORKER: u64 = 128 * 1024 * 1024;

/// What the event files held, all together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFiles {
    pub events: Vec<PolicyEvent>,
    pub files: usize,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
    pub records: u64,
    pub unreadable: u64,
    /// The first skipped records, each `FILE: record N (EVENT ID): why`.
    pub skipped: Vec<String>,
}

/// Expands the given paths into the files to read. A file named directly is always read; in
/// folders, only JSON and gzip files are, and `CloudTrail-Digest` folders are skipped.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|e| {
            InputError::new(p, format!("cannot open: {}", super::files::io_reason(&e)))
        })?;
        if meta.is_dir() {
            super::files::walk(
                p,
                &|name| name == "CloudTrail-Digest",
                &|f| {
                    super::files::name_ends_with(
                        f,
                        &[".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz"],
                    )
                },
                &mut out,
            )?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Reads one file once (a pipe or process substitution works as well as a file),
/// gunzipping it when it starts like gzip, and returns its text: at most `limit` bytes after
/// decompression, so that a decompression bomb costs no more memory than that.
pub fn read_file(path: &Path, limit: u64) -> Result<String, InputError> {
    let mut file = fs::File::open(path).map_err(|e| {
        InputError::new(
            path,
            format!("cannot open: {}", super::files::io_reason(&e)),
        )
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(InputError::new(path, "is a directory"));
    }
    // The first two bytes tell gzip from JSON; they are read once, then put back in front.
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match file.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(InputError::new(
                    path,
                    format!("cannot read: {}", super::files::io_reason(&e)),
                ))
            }
        }
    }
    let whole = (&magic[..n]).chain(file);
    let read = if n == 2 && magic == [0x1f, 0x8b] {
        read_limited(MultiGzDecoder::new(whole), limit)
            .map_err(|e| InputError::new(path, format!("is not a readable gzip file: {e}")))?
    } else {
        read_limited(whole, limit).map_err(|e| {
            InputError::new(
                path,
                format!("cannot read: {}", super::files::io_reason(&e)),
            )
        })?
    };
    let Some(bytes) = read else {
        return Err(InputError::new(
            path,
            format!(
                "holds over {limit} bytes of JSON, the most read from one file (CloudTrail files read at once share {MEMORY_BUDGET} bytes): split it"
            ),
        ));
    };
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        let mut err = InputError::new(path, "is not UTF-8 text (nor gzip)");
        err.position = Some(crate::analysis::locate::position_of(&text, text.len()));
        err
    })
}

/// Reads at most `limit` bytes (`None` when there are more) in fixed chunks, then joins them
/// once: a growing buffer would be copied on every doubling, and the allocator then holds the
/// old and the new buffer at once (twice the budget at the peak).
pub(crate) fn read_limited(mut r: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    const MAX_CHUNK: usize = 8 << 20;
    let mut size = 64 << 10;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut total = 0u64;
    loop {
        let mut chunk = Vec::with_capacity(size);
        let got = (&mut r).take(size as u64).read_to_end(&mut chunk)?;
        total += got as u64;
        if total > limit {
            return Ok(None);
        }
        if got > 0 {
            chunks.push(chunk);
        }
        if got < size {
            break;
        }
        size = (size * 2).min(MAX_CHUNK);
    }
    if chunks.len() <= 1 {
        return Ok(Some(chunks.pop().unwrap_or_default()));
    }
    let mut all = Vec::with_capacity(total as usize);
    for chunk in chunks {
        all.extend_from_slice(&chunk);
    }
    Ok(Some(all))
}

fn scan_file(path: &Path, limit: u64) -> Result<(u64, TrailScan), InputError> {
    let text = read_file(path, limit)?;
    let s = scan(&text).map_err(|e| InputError {
        file: path.to_path_buf(),
        position: e.position,
        pointer: None,
        message: e.message,
    })?;
    Ok((text.len() as u64, s))
}

/// Each file's result, by its place in the list.
type FileResults = Mutex<Vec<(usize, Result<(u64, TrailScan), InputError>)>>;

/// Reads every file; `progress` is called after each file with (files done, files in all).
pub fn read_all(
    paths: &[PathBuf],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<EventFiles, InputError> {
    let files = expand(paths)?;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: FileResults = Mutex::new(Vec::with_capacity(files.len()));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1))
        .min((MEMORY_BUDGET / MIN_PER_WORKER) as usize);
    let limit = MEMORY_BUDGET / workers as u64;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else {
                    break;
                };
                let r = scan_file(path, limit);
                let failed = r.is_err();
                if let Ok(mut v) = results.lock() {
                    v.push((i, r));
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, files.len());
                if failed {
                    // Stop handing out work: the run fails on the first bad file anyway.
                    next.store(files.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mut out = EventFiles {
        files: files.len(),
        ..EventFiles::default()
    };
    for (i, r) in results {
        let (bytes, s) = r?;
        out.bytes += bytes;
        out.records += s.records;
        out.unreadable += s.unreadable;
        for k in &s.skipped {
            if out.skipped.len() < super::cloudtrail_records::SKIPPED_SAID {
                out.skipped.push(format!(
                    "{}: {}",
                    crate::analysis::escape::visible(&files[i].display().to_string()),
                    k.words()
                ));
            }
        }
        out.events.extend(s.events);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_in_chunks_up_to_the_limit() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let limit = data.len() as u64;
        assert_eq!(
            super::read_limited(&data[..], limit).unwrap().as_deref(),
            Some(&data[..])
        );
        assert_eq!(super::read_limited(&data[..], limit - 1).unwrap(), None);
        assert_eq!(super::read_limited(&b""[..], 0).unwrap(), Some(Vec::new()));
        // Exactly one chunk's size, then end of input.
        let one = vec![7u8; 64 << 10];
        assert_eq!(super::read_limited(&one[..], 1 << 20).unwrap(), Some(one));
    }

    use super::*;
    use std::io::Write;

    #[test]
    fn walks_folders_and_reads_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/02");
        fs::create_dir_all(&sub).unwrap();
        fs::create_dir_all(dir.path().join("AWSLogs/111122223333/CloudTrail-Digest")).unwrap();
        fs::write(
            dir.path()
                .join("AWSLogs/111122223333/CloudTrail-Digest/d.json.gz"),
            b"junk",
        )
        .unwrap();
        fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(
            br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#,
        )
        .unwrap();
        fs::write(sub.join("a.json.gz"), gz.finish().unwrap()).unwrap();
        let r = read_all(&[dir.path().to_path_buf()], &|_, _| {}).unwrap();
        assert_eq!((r.files, r.records), (1, 1));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json.gz");
        fs::write(&p, [0x1f, 0x8b, 0, 1, 2]).unwrap();
        let e = read_all(&[p], &|_, _| {}).unwrap_err();
        assert!(
            e.to_string()
                .contains("x.json.gz: is not a readable gzip file"),
            "{e}"
        );
        let missing = dir.path().join("missing");
        assert!(read_all(&[missing], &|_, _| {})
            .unwrap_err()
            .to_string()
            .contains("no such file"));
    }
}
