//! Commands that are safe to paste. Everything in a recovery plan's commands came from
//! input someone else wrote (a key ARN in a bundle, a principal in a policy, a file name), and
//! an engineer pastes them into a shell in an incident. So each value is checked against
//! AWS's own rules for what it is (a key ARN, a region, a role ARN, a session name...) and a
//! value that fails is never put into a command; what passes is quoted for POSIX shells, and
//! no word ever holds a control character.
//!
//! Character rules: IAM User Guide, "IAM identifiers" and "IAM and AWS STS quotas, name
//! requirements" (names `[\w+=,.@-]`, paths `/` or `/…/` of printable ASCII), STS
//! AssumeRole (`RoleSessionName` `[\w+=,.@-]{2,64}`), KMS key ids (UUID or `mrk-` and 32 hex
//! digits), KMS alias names (`alias/[a-zA-Z0-9/_-]+`).

use crate::analysis::principal::{is_account_id, is_key_id};

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

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn is_partition(p: &str) -> bool {
    matches!(p, "aws" | "aws-cn" | "aws-us-gov")
        || (p.starts_with("aws-iso") && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

/// An organization root id, OU id or account id (Organizations API reference: `RootId`,
/// `OrganizationalUnitId`, `AccountId` patterns).
pub fn is_org_target(t: &str) -> bool {
    let lower_alnum = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(rest) = t.strip_prefix("r-") {
        return (4..=32).contains(&rest.len()) && lower_alnum(rest);
    }
    if let Some(rest) = t.strip_prefix("ou-") {
        return rest.split_once('-').is_some_and(|(root, ou)| {
            (4..=32).contains(&root.len())
                && (8..=32).contains(&ou.len())
                && lower_alnum(root)
                && lower_alnum(ou)
        });
    }
    crate::analysis::principal::is_account_id(t)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(s: &str) -> bool {
    (4..=30).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.split('-').count() >= 3
        && s.split('-').all(|part| !part.is_empty())
        && s.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

/// The resource of a well-formed KMS ARN, `arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE`.
fn kms_arn_resource(s: &str) -> Option<&str> {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    (p.len() == 6
        && p[0] == "arn"
        && is_partition(p[1])
        && p[2] == "kms"
        && is_region(p[3])
        && is_account_id(p[4]))
    .then(|| p[5])
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID`.
pub fn is_key_arn(s: &str) -> bool {
    kms_arn_resource(s)
        .and_then(|r| r.strip_prefix("key/"))
        .is_some_and(is_key_id)
}

/// An alias name, `alias/NAME`.
pub fn is_alias_name(s: &str) -> bool {
    s.strip_prefix("alias/").is_some_and(|n| {
        !n.is_empty()
            && n.len() <= 250
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    })
}

/// A key as a command names it: key ARN, key id, alias name or alias ARN.
pub fn is_key_reference(s: &str) -> bool {
    if is_key_arn(s) || is_key_id(s) || is_alias_name(s) {
        return true;
    }
    kms_arn_resource(s).is_some_and(is_alias_name)
}

/// An IAM path: `/` or `/…/`, printable ASCII without spaces.
fn is_path(p: &str) -> bool {
    p.starts_with('/')
        && p.ends_with('/')
        && p.len() <= 512
        && p.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` (or `user/`).
pub fn is_iam_principal_arn(s: &str, kind: &str) -> bool {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    if p.len() != 6 || p[0] != "arn" || !is_partition(p[1]) || p[2] != "iam" || !p[3].is_empty() {
        return false;
    }
    if !is_account_id(p[4]) {
        return false;
    }
    let Some(rest) = p[5].strip_prefix(kind).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_string(), rest),
    };
    is_path(&path) && !name.is_empty() && name.len() <= 64 && name.chars().all(is_name_char)
}

/// An IAM role, user or group name: 1 to 64 name characters.
pub fn is_iam_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(is_name_char)
}

/// A role session name, as STS AssumeRole takes it.
pub fn is_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.chars().all(is_name_char)
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
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        return Some(word.to_string());
    }
    Some(format!("'{}'", word.replace('\'', r"'\''")))
}

/// A command line being built: words kmsdoctor writes itself, and values from input, each
/// checked for what it is before it goes in.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    words: Vec<String>,
    rejected: Option<Rejected>,
}

impl CommandLine {
    /// Starts with kmsdoctor's own words (`aws kms put-key-policy`).
    pub fn new(words: &[&str]) -> CommandLine {
        CommandLine {
            words: words.iter().map(|w| w.to_string()).collect(),
            rejected: None,
        }
    }

    /// One of kmsdoctor's own words (a flag, a placeholder).
    pub fn word(mut self, w: &str) -> CommandLine {
        self.words.push(w.to_string());
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

    /// The command, every word quoted; or why a value was kept out of it.
    pub fn render(&self) -> Result<String, Rejected> {
        if let Some(r) = &self.rejected {
            return Err(r.clone());
        }
        let mut out = Vec::with_capacity(self.words.len());
        for w in &self.words {
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
        assert!(quote("a\nb").is_none());
        assert!(quote("a\u{1b}[2J").is_none());
        assert!(quote("abc\u{202e}").is_none());
    }

    #[test]
    fn aws_names() {
        // Not ARNs at all: ids, alias names, fewer than six parts.
        for s in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/app",
            "arn:aws:kms",
            "",
            ":::::",
        ] {
            assert!(!is_key_arn(s), "{s}");
        }
        assert!(is_key_reference("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(is_key_reference("alias/app"));
        assert!(is_key_reference(
            "arn:aws:kms:us-east-1:111122223333:alias/app"
        ));
        assert!(!is_key_reference(
            "arn:aws:kms:us-east-1:111122223333:alias/a:b"
        ));
        assert!(is_key_arn(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!is_key_arn(
            "arn:aws:kms:us-east-1:111122223333:key/1234; curl x | sh; #"
        ));
        assert!(is_region("us-gov-west-1") && is_region("ap-southeast-3"));
        assert!(!is_region("us-east-1; rm -rf ~") && !is_region("us-east-"));
        assert!(is_iam_principal_arn(
            "arn:aws:iam::111122223333:role/team/ops/Admin",
            "role"
        ));
        assert!(is_iam_principal_arn(
            "arn:aws:iam::111122223333:role/Admin",
            "role"
        ));
        assert!(!is_iam_principal_arn(
            "arn:aws:iam::111122223333:role/Admin;curl${IFS}x|sh;#",
            "role"
        ));
        assert!(!is_iam_principal_arn(
            "arn:aws:iam::111122223333:role/Admin\n$ rm",
            "role"
        ));
        assert!(is_session_name("kmsdoctor-recovery") && !is_session_name("a b"));
        assert!(is_alias_name("alias/prod/app_1") && !is_alias_name("alias/$(id)"));
    }

    #[test]
    fn a_rejected_value_keeps_the_command_out() {
        let c = CommandLine::new(&["aws", "kms", "get-key-policy", "--key-id"]).value(
            "the key",
            "key ARN",
            "arn:aws:kms:us-east-1:111122223333:key/x;id",
            is_key_arn,
        );
        let e = c.render().unwrap_err();
        assert!(e.to_string().contains("is not a valid key ARN"), "{e}");
        let ok = CommandLine::new(&["kmsdoctor"]).path("--policy-file", "my policy.json");
        assert_eq!(ok.render().unwrap(), "kmsdoctor 'my policy.json'");
    }
}
