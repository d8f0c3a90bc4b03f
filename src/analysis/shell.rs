//! Commands that are safe to paste. Everything in a recovery plan's commands came from
//! input someone else wrote (a key ARN in a bundle, a principal in a policy, a file name), and
//! an engineer pastes them into a shell in an incident. So each value is checked against
//! AWS's own rules for what it is (a key ARN, a region, a role ARN, a session name...) and a
//! value that fails is never put into a command; what passes is quoted for POSIX shells, and
//! no word ever holds a control character.
//!
//! What each kind of value must be is in `aws_ids` (AWS's own rules). Every printed command
//! is built here, from the run's flags ([`RunFlags`]): a command cannot be made without them,
//! so none can drop `--profile`, `--region` or `--endpoint-url` and run, pasted, against
//! another account or real AWS.

use crate::analysis::aws_ids;

/// Why a value was kept out of a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{shown}` is not a valid {kind}")]
pub struct Rejected {
    pub what: &'static str,
    pub kind: &'static str,
    /// The value with control characters made visible.
    pub shown: String,
}

fn reject(what: &'static str, kind: &'static str, value: &str) -> Rejected {
    Rejected {
        what,
        kind,
        shown: crate::analysis::escape::visible(value).into_owned(),
    }
}

/// An AWS CLI profile name kmsdoctor will print: name characters only.
pub fn is_profile_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// An endpoint URL kmsdoctor will print: http(s), printable, nothing a shell acts on.
pub fn is_endpoint_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://"))
        && s.len() <= 2048
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !"'\"`\\$;|&<>(){}".contains(c))
}

/// Quotes a word for a POSIX shell: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a `'` inside written `'\''`). Words with control
/// characters are refused: quoting does not stop a terminal from acting on them.
pub fn quote(word: &str) -> Option<String> {
    if word
        .chars()
        .any(|c| c.is_control() || crate::analysis::escape::is_bidi(c))
    {
        return None;
    }
    // A word that starts with `=` is a command's path in zsh (its EQUALS option): quoted.
    if !word.is_empty()
        && !word.starts_with('=')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        return Some(word.to_string());
    }
    Some(format!("'{}'", word.replace('\'', r"'\''")))
}

/// How the run reached AWS: the flags every printed command repeats, so that pasted it
/// reaches the same account, region and endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    pub profile: Option<String>,
    /// The run's region (`--region`); a command about a key takes the key's region instead.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// `--any-region` was given (a region kmsdoctor does not know): kmsdoctor commands
    /// repeat it, or they would refuse the region.
    pub any_region: bool,
}

/// Whose credentials a command runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credentials {
    /// As the run: `--profile` when one was given.
    #[default]
    AsRun,
    /// Exported in the shell by an earlier step: `--profile` would override them, so it is
    /// left out.
    Exported,
    /// A named profile an earlier step set up (IAM Identity Center): `--profile NAME`
    /// instead of the run's.
    Profile(&'static str),
}

/// Marks a word as a shell variable's name ([`CommandLine::variable`]): a control character,
/// which no value from input can hold (every validator and `quote` refuse them).
const VARIABLE: &str = "\u{1}var:";

/// A command line being built: words kmsdoctor writes itself, and values from input, each
/// checked for what it is before it goes in. The run's flags are added when it is rendered.
#[derive(Debug, Clone)]
pub struct CommandLine {
    words: Vec<String>,
    rejected: Option<Rejected>,
    flags: RunFlags,
    credentials: Credentials,
}

impl CommandLine {
    /// Starts with kmsdoctor's own words (`aws kms put-key-policy`), for a run that reached
    /// AWS with `flags`.
    pub fn new(flags: &RunFlags, words: &[&str]) -> CommandLine {
        CommandLine {
            words: words.iter().map(|w| w.to_string()).collect(),
            rejected: None,
            flags: flags.clone(),
            credentials: Credentials::AsRun,
        }
    }

    /// One of kmsdoctor's own words (a flag, a placeholder).
    pub fn word(mut self, w: &str) -> CommandLine {
        self.words.push(w.to_string());
        self
    }

    /// A shell variable an earlier step of the same plan set (`new_key`): rendered
    /// `"$new_key"`, expanded by the shell, not quoted away. Names are kmsdoctor's own
    /// (lower-case letters and `_`).
    pub fn variable(mut self, name: &'static str) -> CommandLine {
        debug_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        self.words.push(format!("{VARIABLE}{name}"));
        self
    }

    /// A word made of kmsdoctor's own `prefix` and a shell variable, as `fileb://"$file"`.
    pub fn prefixed_variable(mut self, prefix: &'static str, name: &'static str) -> CommandLine {
        debug_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        self.words.push(format!("{VARIABLE}{prefix}\u{1}{name}"));
        self
    }

    /// A value from input, added when `valid` says it is what it should be.
    pub fn value(
        mut self,
        what: &'static str,
        kind: &'static str,
        v: &str,
        valid: fn(&str) -> bool,
    ) -> CommandLine {
        if self.rejected.is_none() {
            if valid(v) {
                self.words.push(v.to_string());
            } else {
                self.rejected = Some(reject(what, kind, v));
            }
        }
        self
    }

    /// A file name the user gave: any name a shell can quote.
    pub fn path(mut self, what: &'static str, v: &str) -> CommandLine {
        if self.rejected.is_none() {
            if quote(v).is_some() {
                self.words.push(v.to_string());
            } else {
                self.rejected = Some(reject(what, "file name for a command", v));
            }
        }
        self
    }

    /// The region this command is about (a key's), in place of the run's.
    pub fn in_region(mut self, region: Option<&str>) -> CommandLine {
        if let Some(r) = region {
            self.flags.region = Some(r.to_string());
        }
        self
    }

    /// Whose credentials the command runs with.
    pub fn credentials(mut self, c: Credentials) -> CommandLine {
        self.credentials = c;
        self
    }

    /// The command, every word quoted, with the run's `--region`, `--profile` (unless the
    /// credentials were exported) and `--endpoint-url`; or why a value was kept out of it.
    pub fn render(&self) -> Result<String, Rejected> {
        if let Some(r) = &self.rejected {
            return Err(r.clone());
        }
        let mut c = CommandLine {
            words: self.words.clone(),
            rejected: None,
            flags: RunFlags::default(),
            credentials: Credentials::AsRun,
        };
        let f = &self.flags;
        if let Some(r) = &f.region {
            c = c
                .word("--region")
                .value("the region", "region name", r, aws_ids::is_region);
        }
        match (&f.profile, self.credentials) {
            (Some(p), Credentials::AsRun) => {
                c = c
                    .word("--profile")
                    .value("the profile", "profile name", p, is_profile_name);
            }
            (_, Credentials::Profile(p)) => c = c.word("--profile").word(p),
            _ => {}
        }
        if let Some(u) = &f.endpoint_url {
            c = c
                .word("--endpoint-url")
                .value("the endpoint", "endpoint URL", u, is_endpoint_url);
        }
        if f.any_region && c.words.first().is_some_and(|w| w == "kmsdoctor") {
            c = c.word("--any-region");
        }
        if let Some(r) = c.rejected {
            return Err(r);
        }
        let mut out = Vec::with_capacity(c.words.len());
        for w in &c.words {
            if let Some(var) = w.strip_prefix(VARIABLE) {
                match var.split_once('\u{1}') {
                    Some((prefix, name)) => out.push(format!("{prefix}\"${name}\"")),
                    None => out.push(format!("\"${var}\"")),
                }
                continue;
            }
            // Every word passed `quote` or a validator that admits no control character.
            out.push(quote(w).ok_or_else(|| reject("a word", "command word", w))?);
        }
        Ok(out.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("policy.json").unwrap(), "policy.json");
        assert_eq!(
            quote("my policy;$(id).json").unwrap(),
            "'my policy;$(id).json'"
        );
        assert_eq!(quote("it's").unwrap(), r"'it'\''s'");
        assert_eq!(quote("").unwrap(), "''");
        assert_eq!(quote("=ls").unwrap(), "'=ls'");
        assert_eq!(quote("a=b").unwrap(), "a=b");
        assert!(quote("a\nb").is_none());
        assert!(quote("a\u{1b}[2J").is_none());
        assert!(quote("abc\u{202e}").is_none());
    }

    #[test]
    fn a_rejected_value_keeps_the_command_out() {
        let c = CommandLine::new(
            &RunFlags::default(),
            &["aws", "kms", "get-key-policy", "--key-id"],
        )
        .value(
            "the key",
            "key ARN",
            "arn:aws:kms:us-east-1:111122223333:key/x;id",
            crate::analysis::aws_ids::is_key_arn,
        );
        let e = c.render().unwrap_err();
        assert!(e.to_string().contains("is not a valid key ARN"), "{e}");
        let ok = CommandLine::new(&RunFlags::default(), &["kmsdoctor"])
            .path("--policy-file", "my policy.json");
        assert_eq!(ok.render().unwrap(), "kmsdoctor 'my policy.json'");
    }

    #[test]
    fn every_command_carries_the_run_flags() {
        let flags = RunFlags {
            profile: Some("prod-admin".into()),
            region: Some("eu-west-1".into()),
            endpoint_url: Some("http://127.0.0.1:5000".into()),
            any_region: false,
        };
        let c = CommandLine::new(&flags, &["aws", "sts", "get-caller-identity"]);
        assert_eq!(
            c.render().unwrap(),
            "aws sts get-caller-identity --region eu-west-1 --profile prod-admin --endpoint-url http://127.0.0.1:5000"
        );
        // A key's region wins over the run's; exported credentials leave --profile out.
        let c = c
            .in_region(Some("us-gov-west-1"))
            .credentials(Credentials::Exported);
        assert_eq!(
            c.render().unwrap(),
            "aws sts get-caller-identity --region us-gov-west-1 --endpoint-url http://127.0.0.1:5000"
        );
        // --any-region goes to kmsdoctor's own commands only (the AWS CLI has no such flag).
        let any = RunFlags {
            region: Some("xx-newland-9".into()),
            any_region: true,
            ..RunFlags::default()
        };
        assert_eq!(
            CommandLine::new(&any, &["kmsdoctor", "scan"])
                .render()
                .unwrap(),
            "kmsdoctor scan --region xx-newland-9 --any-region"
        );
        assert_eq!(
            CommandLine::new(&any, &["aws", "kms", "list-keys"])
                .render()
                .unwrap(),
            "aws kms list-keys --region xx-newland-9"
        );
        // A hostile flag value keeps the command out, naming the flag's value.
        let bad = RunFlags {
            profile: Some("x; rm -rf ~".into()),
            ..RunFlags::default()
        };
        let e = CommandLine::new(&bad, &["aws"]).render().unwrap_err();
        assert!(e.to_string().contains("profile"), "{e}");
    }

    /// A variable an earlier step set is expanded by the shell, never quoted away; a value
    /// from input cannot pass for one (the marker is a control character, which every value
    /// and path check refuses).
    #[test]
    fn variables_are_expanded_and_input_cannot_forge_one() {
        let flags = RunFlags::default();
        let c = CommandLine::new(&flags, &["aws", "kms", "re-encrypt"])
            .word("--ciphertext-blob")
            .prefixed_variable("fileb://", "ciphertext")
            .word("--destination-key-id")
            .variable("new_key");
        assert_eq!(
            c.render().unwrap(),
            r#"aws kms re-encrypt --ciphertext-blob fileb://"$ciphertext" --destination-key-id "$new_key""#
        );
        let forged = format!("{VARIABLE}new_key");
        assert!(CommandLine::new(&flags, &["aws"])
            .path("a file", &forged)
            .render()
            .is_err());
        assert!(CommandLine::new(&flags, &["aws"])
            .value(
                "the key",
                "key ARN or key id",
                &forged,
                crate::analysis::aws_ids::is_key_reference
            )
            .render()
            .is_err());
    }
}
