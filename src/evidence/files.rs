//! Files in and out: text read with a size limit, policies (a bare document or
//! `aws kms get-key-policy` output), folders walked, and new output files written (never over
//! an existing one).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::shape::Shape;
use super::InputError;
use crate::analysis::chain::{levels, LayerPolicies, OrgLevel};
use crate::analysis::policy::{
    document_from_value, parse_json, Policy, PolicyDocument, PolicyError, PolicyKind,
};

/// The largest policy file read, by every command (`why-locked --policy-file`, `check`,
/// `explain`, `fix --policy-file`). KMS key policies are at most 32 KB (KMS Developer
/// Guide, "Key policies": the quota on a key policy document) and IAM policies smaller; a
/// file 32 times that, pretty-printed or escaped as get-key-policy prints it, is not a
/// policy, and reading it whole would only cost memory.
pub const MAX_POLICY_FILE_BYTES: u64 = 1024 * 1024;

/// Why a policy file over [`MAX_POLICY_FILE_BYTES`] is refused, in the same words everywhere.
pub fn policy_file_too_large(size: u64) -> String {
    format!(
        "is {size} bytes; a policy file is at most {MAX_POLICY_FILE_BYTES} bytes (a key policy is at most 32 KB)"
    )
}

/// Reads a text file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    let file = File::open(path)
        .map_err(|e| InputError::new(path, format!("cannot open: {}", io_reason(&e))))?;
    // The size, when the file knows it (not a pipe): read in one call, without probing.
    let mut size = 0;
    if let Ok(meta) = file.metadata() {
        size = if meta.is_file() { meta.len() } else { 0 };
        if meta.is_dir() {
            return Err(InputError::new(
                path,
                "is a directory, expected a policy file",
            ));
        }
        if meta.len() > limit {
            return Err(InputError::new(
                path,
                if limit == MAX_POLICY_FILE_BYTES {
                    policy_file_too_large(meta.len())
                } else {
                    format!(
                        "is {} bytes; the most read from one file is {limit}",
                        meta.len()
                    )
                },
            ));
        }
    }
    let mut bytes = Vec::with_capacity(size.min(limit) as usize + 1);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::new(path, format!("cannot read: {}", io_reason(&e))))?;
    if bytes.len() as u64 > limit {
        return Err(InputError::new(
            path,
            if limit == MAX_POLICY_FILE_BYTES {
                policy_file_too_large(bytes.len() as u64)
            } else {
                format!("is over {limit} bytes, the most read from one file")
            },
        ));
    }
    // A UTF-8 byte order mark is legal in files written by some Windows editors.
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes).map_err(|e| {
        let text =
            String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]).into_owned();
        let mut err = InputError::new(path, "is not UTF-8 text");
        err.position = Some(crate::analysis::locate::position_of(&text, text.len()));
        err
    })
}

pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A policy that cannot be parsed, as an error naming the file and the place.
pub fn policy_error(path: &Path, e: PolicyError) -> InputError {
    InputError {
        file: path.to_path_buf(),
        position: e.position,
        pointer: Some(e.pointer.to_string()),
        message: e.message,
    }
}

/// Loads and parses a policy file. `name` is how statements of this policy are referred to.
/// A key policy file must hold a key policy (see [`load_key_policy`]).
pub fn load_policy(path: &Path, kind: PolicyKind, name: &str) -> Result<Policy, InputError> {
    load(path, kind, name).map(|d| d.policy)
}

/// Reads the policy files of the request chain's layers: boundary, session policies and
/// SCPs as policies without principals, RCPs as resource policies. Each is named by its file
/// (its stem), so that statements read `FILE:SID`; `seen` is shown each file and its policy
/// as it is read (for the findings).
pub fn load_layers(
    files: &super::settings::LayerFiles,
    seen: &mut dyn FnMut(&Path, &Policy),
) -> Result<LayerPolicies, InputError> {
    let mut one = |p: &Path, kind| -> Result<Policy, InputError> {
        let policy = load_policy(p, kind, &policy_name(p))?;
        seen(p, &policy);
        Ok(policy)
    };
    let boundary = match &files.boundary {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => Some(Some(one(p, PolicyKind::Identity)?)),
    };
    let mut session = Vec::new();
    for p in &files.session {
        session.push(one(p, PolicyKind::Identity)?);
    }
    let mut org = |list: &[(String, PathBuf)], kind| -> Result<Option<Vec<OrgLevel>>, InputError> {
        if list.is_empty() {
            return Ok(None);
        }
        let mut attached = Vec::new();
        for (t, p) in list {
            attached.push((t.clone(), one(p, kind)?));
        }
        Ok(Some(levels(attached)))
    };
    let scps = org(&files.scps, PolicyKind::Identity)?;
    let rcps = org(&files.rcps, PolicyKind::ResourceControl)?;
    Ok(LayerPolicies {
        identity: None,
        boundary,
        session: (!session.is_empty()).then_some(session),
        scps,
        rcps,
        management_account: files.management_account.clone(),
    })
}

/// Reads a key policy file for diagnosis: a policy document or `get-key-policy` output,
/// parsed once (errors name the place), with the document's own text.
pub fn load_key_policy(path: &Path) -> Result<PolicyDocument, InputError> {
    load(path, PolicyKind::Key, "key-policy")
}

fn load(path: &Path, kind: PolicyKind, name: &str) -> Result<PolicyDocument, InputError> {
    let text = read_text(path, MAX_POLICY_FILE_BYTES)?;
    if kind == PolicyKind::Key {
        not_yaml(path, &text)?;
    }
    let value = parse_json(&text).map_err(|e| policy_error(path, e))?;
    if kind == PolicyKind::Key {
        key_policy_shape(path, &value)?;
    }
    document_from_value(&value, &text, kind, name).map_err(|e| policy_error(path, e))
}

/// A key policy is JSON; YAML given for it is most likely a template, which `check` reads.
fn not_yaml(path: &Path, text: &str) -> Result<(), InputError> {
    let start = text.trim_start();
    if start.is_empty() || start.starts_with('{') || start.starts_with('[') {
        return Ok(());
    }
    Err(InputError::new(
        path,
        "is not JSON: a key policy is a JSON document (YAML templates are read by `kmsdoctor check`)",
    ))
}

/// A file given as the key policy must be one: a policy document (`Statement`) or
/// `get-key-policy` output (`Policy`). Anything else would be read as a policy without
/// statements and give a false "unrecoverable", so it is an error that says what the file
/// looks like and where it belongs. JSON that is not an object is the parser's to report.
fn key_policy_shape(path: &Path, value: &serde_json::Value) -> Result<(), InputError> {
    let instead = match super::shape::of(value) {
        _ if !value.is_object() => return Ok(()),
        Shape::Policy | Shape::GetKeyPolicyOutput => return Ok(()),
        Shape::LookupEvents => "CloudTrail lookup-events output: pass it with --events-file",
        Shape::TrailLog => "a CloudTrail log file: pass it with --events-file",
        Shape::Bundle => "a kmsdoctor evidence bundle: pass it with --from",
        Shape::TerraformPlan => "a Terraform plan: check it with `kmsdoctor check`",
        Shape::CloudFormation => "a CloudFormation template: check it with `kmsdoctor check`",
        Shape::Unknown => "not a key policy: it has neither `Statement` (a policy document) nor `Policy` (get-key-policy output)",
    };
    let mut e = InputError::new(path, format!("is {instead}"));
    e.position = Some(crate::analysis::locate::Position { line: 1, column: 1 });
    Err(e)
}

/// Collects the files under `dir` (in name order) that `wanted` accepts, skipping hidden
/// entries and folders `skip_dir` names; nesting is limited, against link loops.
pub fn walk(
    dir: &Path,
    skip_dir: &dyn Fn(&str) -> bool,
    wanted: &dyn Fn(&Path) -> bool,
    out: &mut Vec<std::path::PathBuf>,
) -> Result<(), InputError> {
    fn go(
        dir: &Path,
        depth: usize,
        skip_dir: &dyn Fn(&str) -> bool,
        wanted: &dyn Fn(&Path) -> bool,
        out: &mut Vec<std::path::PathBuf>,
    ) -> Result<(), InputError> {
        if depth > 32 {
            return Err(InputError::new(
                dir,
                "folders nested more than 32 deep (a link loop?)",
            ));
        }
        // Each entry with its type as the listing gives it (no stat per file); a link, or a
        // type the listing does not give, is looked at below.
        let mut entries: Vec<(std::path::PathBuf, Option<std::fs::FileType>)> = Vec::new();
        for e in std::fs::read_dir(dir)
            .map_err(|e| InputError::new(dir, format!("cannot list: {}", io_reason(&e))))?
        {
            // An entry that cannot be read is an error: skipping it would hide evidence.
            let e =
                e.map_err(|e| InputError::new(dir, format!("cannot list: {}", io_reason(&e))))?;
            let kind = e.file_type().ok().filter(|t| !t.is_symlink());
            entries.push((e.path(), kind));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (p, kind) in entries {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            // A folder that can be listed but not entered, or a broken link, is an error
            // naming it, never a silent skip.
            let kind = match kind {
                Some(k) => k,
                None => std::fs::metadata(&p).map(|m| m.file_type()).map_err(|e| {
                    InputError::new(
                        &p,
                        format!(
                            "cannot read{}: {}",
                            if p.is_symlink() {
                                " (a broken link?)"
                            } else {
                                ""
                            },
                            io_reason(&e)
                        ),
                    )
                })?,
            };
            if kind.is_dir() {
                if !skip_dir(&name) {
                    go(&p, depth + 1, skip_dir, wanted, out)?;
                }
            } else if kind.is_file() && wanted(&p) {
                out.push(p);
            }
        }
        Ok(())
    }
    go(dir, 0, skip_dir, wanted, out)
}

/// Whether a file's name ends with one of `endings` (case-insensitive).
pub fn name_ends_with(path: &Path, endings: &[&str]) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    endings.iter().any(|e| name.ends_with(e))
}

/// The name an identity policy file goes by in reports: its file stem.
pub fn policy_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "identity-policy".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reports_missing_large_and_binary_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        assert!(load_policy(&missing, PolicyKind::Key, "k")
            .unwrap_err()
            .message
            .contains("no such file"));

        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; (MAX_POLICY_FILE_BYTES + 1) as usize]).unwrap();
        assert!(load_policy(&big, PolicyKind::Key, "k")
            .unwrap_err()
            .message
            .contains("bytes"));

        let bin = dir.path().join("bin.json");
        let mut f = std::fs::File::create(&bin).unwrap();
        f.write_all(b"{\n \"a\": \"\xff\"}").unwrap();
        let e = load_policy(&bin, PolicyKind::Key, "k").unwrap_err();
        assert!(e.message.contains("UTF-8"));
        assert_eq!(e.position.map(|p| p.line), Some(2));

        assert!(load_policy(dir.path(), PolicyKind::Key, "k")
            .unwrap_err()
            .message
            .contains("directory"));
    }

    #[test]
    fn error_display_names_file_line_and_pointer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.json");
        std::fs::write(
            &p,
            "{\"Statement\": [{\"Effect\": \"Allow\", \"Action\": {}}]}",
        )
        .unwrap();
        let e = load_policy(&p, PolicyKind::Key, "k")
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("p.json:1:46: expected a string or an array of strings, found an object (at /Statement/0/Action)"), "{e}");
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bom.json");
        std::fs::write(&p, b"\xEF\xBB\xBF{\"Statement\": []}").unwrap();
        assert!(load_policy(&p, PolicyKind::Key, "k").is_ok());
    }
}

/// An output file that cannot be written, naming the flag that named it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct WriteError {
    pub flag: &'static str,
    pub message: String,
}

/// An output file the user named, created (exclusively: never over an existing file or a
/// link) before any work is done, so that a path that cannot be written is said at once.
/// Until [`NewFile::finish`] writes it whole, dropping it removes it: a failed run leaves
/// neither an empty nor a truncated file behind.
pub struct NewFile {
    path: std::path::PathBuf,
    file: Option<File>,
    flag: &'static str,
}

impl NewFile {
    /// Creates `path`; `flag` names the flag that gave it, for errors.
    pub fn create(path: &Path, flag: &'static str) -> Result<NewFile, WriteError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| WriteError {
                flag,
                message: if e.kind() == std::io::ErrorKind::AlreadyExists {
                    format!(
                        "{} exists; kmsdoctor does not overwrite files: choose another path",
                        path.display()
                    )
                } else {
                    format!("cannot create {}: {}", path.display(), io_reason(&e))
                },
            })?;
        Ok(NewFile {
            path: path.to_path_buf(),
            file: Some(file),
            flag,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` and keeps the file; on failure the file is removed.
    pub fn finish(mut self, text: &str) -> Result<(), WriteError> {
        use std::io::Write;
        let Some(mut f) = self.file.take() else {
            return Ok(());
        };
        match f.write_all(text.as_bytes()).and_then(|_| f.sync_all()) {
            Ok(()) => Ok(()),
            Err(e) => {
                drop(f);
                let _ = std::fs::remove_file(&self.path);
                Err(WriteError {
                    flag: self.flag,
                    message: format!("cannot write {}: {}", self.path.display(), io_reason(&e)),
                })
            }
        }
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
