//! The one-pass reader for the common case: a clean policy. Most policies kmsdoctor reads
//! (KMS's default policy, the policies people write from the docs) have no finding, no
//! escaped string, no number and no repeated key. This reads such a document straight into
//! the model, without building a JSON tree first, in one linear pass over the bytes.
//!
//! It accepts a strict subset of JSON and of policies: at the first thing outside it (an
//! escape, a number, a repeated key, anything the exact parser would report as a finding
//! or an error) it gives up and returns `None`, and the exact parser (`parse.rs`) reads the
//! text from the start. So it never decides a reading of its own: what it returns is what the
//! exact parser returns for the same text, which a property test checks on generated and
//! mutated policies (`tests/cli/fuzz.rs`).

use super::{
    Effect, Patterns, Policy, PolicyKind, PrincipalBlock, Statement, Text, KEY_POLICY_MAX_BYTES,
};
use crate::analysis::condition::{Clause, Operator};
use crate::analysis::locate::{Pointer, Step};
use crate::analysis::principal::PrincipalEntry;

/// `None` means "not a clean policy": read it with the exact parser.
type Clean<T> = Option<T>;

/// Reads `text` when it is a clean policy document (see the module comment).
pub fn parse_clean(text: &str, kind: PolicyKind, name: &str) -> Option<Policy> {
    if kind == PolicyKind::Key && text.len() > KEY_POLICY_MAX_BYTES {
        return None;
    }
    let mut sc = Scanner { text, at: 0 };
    let mut version = None;
    let mut statements = None;
    let mut seen = 0u16;
    sc.object(|sc, key| {
        let bit = match key {
            "Version" => 1,
            "Id" => 2,
            "Statement" => 4,
            _ => return None,
        };
        once(&mut seen, bit)?;
        match key {
            "Version" => {
                let v = sc.string()?;
                if v != "2012-10-17" && v != "2008-10-17" {
                    return None;
                }
                version = Some(v.to_string());
            }
            "Id" => {
                sc.string()?;
            }
            _ => statements = Some(sc.statements(kind)?),
        }
        Some(())
    })?;
    if !sc.at_end() {
        return None;
    }
    let statements = statements?;
    if repeated_sid(&statements) {
        return None;
    }
    Some(Policy {
        kind,
        name: name.to_string(),
        version,
        statements,
        findings: Vec::new(),
        size: text.len(),
        embedded_at: None,
    })
}

/// Sets `bit` in `seen`; `None` when it was set already (a repeated key).
fn once(seen: &mut u16, bit: u16) -> Clean<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// Whether two statements share a non-empty `Sid` (a finding), in linear time. Sids are
/// short and usually few: up to 64 statements, FNV-1a hashes them at a fraction of the
/// default hasher's cost; beyond, the default (keyed) hasher keeps crafted collisions from
/// making the check quadratic.
fn repeated_sid(statements: &[Statement]) -> bool {
    fn repeated<S: std::hash::BuildHasher>(statements: &[Statement], hasher: S) -> bool {
        let mut seen =
            std::collections::HashSet::with_capacity_and_hasher(statements.len(), hasher);
        !statements
            .iter()
            .filter_map(|s| s.sid.as_deref())
            .filter(|s| !s.is_empty())
            .all(|s| seen.insert(s))
    }
    if statements.len() <= 64 {
        repeated(statements, fnv::FnvBuildHasher::default())
    } else {
        repeated(statements, std::collections::hash_map::RandomState::new())
    }
}

/// Where the string that `bytes` starts ends: the first `"`, `\\` or control character.
/// Eight bytes at a time (a string is most of a policy's bytes).
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Flags the bytes of `w` that are zero; the lowest flag is always right.
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            // Bytes below 0x20 (the lowest flag is right here too).
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|n| at + n)
}

/// A cursor over the text. Strings borrow from it: a clean string has no escape.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after JSON whitespace, not consumed.
    fn peek(&mut self) -> Clean<u8> {
        let b = self.bytes();
        while let Some(&c) = b.get(self.at) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.at += 1;
        }
        None
    }

    fn eat(&mut self, c: u8) -> Clean<()> {
        (self.peek()? == c).then(|| self.at += 1)
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Clean<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.bytes()[start..];
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // The quotes are ASCII, so both ends are character boundaries.
        Some(&self.text[start..start + len])
    }

    /// `true` or `false`.
    fn boolean(&mut self) -> Clean<bool> {
        let rest = &self.bytes()[self.at..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        Some(value)
    }

    /// An object, calling `member` at each key with the scanner on its value. An empty
    /// object is read as one.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Clean<()>) -> Clean<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A non-empty array, calling `item` at each item (an empty list is a finding).
    fn array(&mut self, mut item: impl FnMut(&mut Self, usize) -> Clean<()>) -> Clean<()> {
        self.eat(b'[')?;
        let mut n = 0;
        loop {
            item(self, n)?;
            n += 1;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string or a non-empty array of strings, each passed to `f`.
    fn strings(&mut self, mut f: impl FnMut(&'a str) -> Clean<()>) -> Clean<()> {
        if self.peek()? == b'[' {
            self.array(|sc, _| f(sc.string()?))
        } else {
            f(self.string()?)
        }
    }

    /// `Statement`: one statement object, or a non-empty array of them.
    fn statements(&mut self, kind: PolicyKind) -> Clean<Vec<Statement>> {
        if self.peek()? == b'{' {
            let pointer = Pointer(vec![Step::Key("Statement".into())]);
            return Some(vec![self.statement(kind, 0, pointer)?]);
        }
        // About one statement per 250 bytes of a compact policy; at most 64 reserved ahead.
        let mut out = Vec::with_capacity((self.text.len() / 256 + 1).min(64));
        self.array(|sc, i| {
            let pointer = Pointer(vec![Step::Key("Statement".into()), Step::Index(i)]);
            out.push(sc.statement(kind, i, pointer)?);
            Some(())
        })?;
        Some(out)
    }

    fn statement(&mut self, kind: PolicyKind, index: usize, pointer: Pointer) -> Clean<Statement> {
        let mut seen = 0u16;
        let mut sid = None;
        let mut effect = None;
        let mut principal = None;
        let mut actions = None;
        let mut resources = None;
        let mut conditions = Vec::new();
        self.object(|sc, key| {
            // `X` and `NotX` share a bit: a statement with both is a finding.
            let bit = match key {
                "Sid" => 1,
                "Effect" => 2,
                "Principal" | "NotPrincipal" => 4,
                "Action" | "NotAction" => 8,
                "Resource" | "NotResource" => 16,
                "Condition" => 32,
                _ => return None,
            };
            once(&mut seen, bit)?;
            let negated = key.starts_with("Not");
            match bit {
                1 => sid = Some(Text::from(sc.string()?)),
                2 => {
                    effect = Some(match sc.string()? {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        _ => return None,
                    })
                }
                4 => {
                    principal = Some(PrincipalBlock {
                        negated,
                        entries: sc.principal()?,
                    })
                }
                8 | 16 => {
                    let mut patterns = Vec::new();
                    sc.strings(|s| {
                        patterns.push(Text::from(s));
                        Some(())
                    })?;
                    let p = Some(Patterns { negated, patterns });
                    if bit == 8 {
                        actions = p;
                    } else {
                        resources = p;
                    }
                }
                _ => conditions = sc.conditions()?,
            }
            Some(())
        })?;
        let effect = effect?;
        actions.as_ref()?;
        resources.as_ref()?;
        match (kind, &principal) {
            (PolicyKind::Key | PolicyKind::ResourceControl, None) => return None,
            (PolicyKind::Identity, Some(_)) => return None,
            (_, Some(PrincipalBlock { negated: true, .. })) if effect == Effect::Allow => {
                return None
            }
            _ => {}
        }
        Some(Statement {
            index,
            sid,
            effect,
            principal,
            actions,
            resources,
            conditions,
            pointer,
            valid: true,
        })
    }

    /// `"*"`, or an object of principal types; an entry AWS would reject is a finding.
    fn principal(&mut self) -> Clean<Vec<PrincipalEntry>> {
        if self.peek()? == b'"' {
            return (self.string()? == "*").then(|| vec![PrincipalEntry::Everyone]);
        }
        let mut entries = Vec::new();
        let mut seen = 0u16;
        self.object(|sc, kind| {
            let bit = match kind {
                "AWS" => 1,
                "Service" => 2,
                "Federated" => 4,
                "CanonicalUser" => 8,
                _ => return None,
            };
            once(&mut seen, bit)?;
            sc.strings(|s| {
                entries.push(match bit {
                    1 => match PrincipalEntry::from_aws_value(s) {
                        PrincipalEntry::UniqueId(_) | PrincipalEntry::Invalid(_) => return None,
                        entry => entry,
                    },
                    2 => PrincipalEntry::Service(Text::from(s)),
                    4 => PrincipalEntry::Federated(Text::from(s)),
                    _ => PrincipalEntry::CanonicalUser(Text::from(s)),
                });
                Some(())
            })
        })?;
        Some(entries)
    }

    /// `Condition`: operators AWS knows, each over keys with a value or a non-empty list of
    /// strings and booleans.
    fn conditions(&mut self) -> Clean<Vec<Clause>> {
        let mut out: Vec<Clause> = Vec::new();
        let mut operators = Distinct::default();
        self.object(|sc, op_name| {
            operators.add(op_name)?;
            let operator = Operator::parse(op_name)?;
            let mut keys = Distinct::default();
            sc.object(|sc, key| {
                keys.add(key)?;
                let mut values = Vec::new();
                if sc.peek()? == b'[' {
                    sc.array(|sc, _| {
                        values.push(sc.condition_value()?);
                        Some(())
                    })?;
                } else {
                    values.push(sc.condition_value()?);
                }
                out.push(Clause {
                    operator_name: Text::from(op_name),
                    operator,
                    key: Text::from(key),
                    values,
                });
                Some(())
            })
        })?;
        Some(out)
    }

    /// A condition value as the exact parser writes it: a string, or a boolean as text.
    /// Numbers are left to the exact parser, which writes them as `serde_json` does.
    fn condition_value(&mut self) -> Clean<Text> {
        match self.peek()? {
            b'"' => Some(Text::from(self.string()?)),
            _ => Some(Text::from(if self.boolean()? { "true" } else { "false" })),
        }
    }
}

/// The keys of one object, to find a repeated one (which the exact parser resolves). Few
/// objects have more than a handful; one with more than 16 is left to the exact parser.
#[derive(Default)]
struct Distinct<'a> {
    keys: [&'a str; 16],
    len: usize,
}

impl<'a> Distinct<'a> {
    fn add(&mut self, key: &'a str) -> Clean<()> {
        if self.len == self.keys.len() || self.keys[..self.len].contains(&key) {
            return None;
        }
        self.keys[self.len] = key;
        self.len += 1;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_tree, with_json};
    use super::*;

    fn exact(text: &str, kind: PolicyKind) -> Policy {
        with_json(parse_tree(text).unwrap().root(), text, kind, "p", true)
            .unwrap()
            .0
    }

    /// Clean policies are read here, and read as the exact parser reads them.
    #[test]
    fn reads_clean_policies_as_the_exact_parser_does() {
        let texts = [
            r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
            "{\n \"Statement\": {\"Effect\": \"Deny\", \"Principal\": \"*\", \"NotAction\": [\"kms:Decrypt\", \"kms:Encrypt\"],\n \"Resource\": \"*\", \"Condition\": {\"Bool\": {\"aws:SecureTransport\": false}, \"StringEquals\": {\"kms:CallerAccount\": [\"111122223333\", \"444455556666\"], \"kms:ViaService\": \"s3.us-east-1.amazonaws.com\"}}}\n}\n",
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:sts::111122223333:assumed-role/Admin/a"],"Service":"logs.amazonaws.com"},"Action":"kms:Decrypt","NotResource":"arn:aws:kms:*:*:key/x","Condition":{}},{"Sid":"","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}"#,
        ];
        for t in texts {
            let fast = parse_clean(t, PolicyKind::Key, "p").unwrap_or_else(|| panic!("{t}"));
            assert_eq!(fast, exact(t, PolicyKind::Key), "{t}");
        }
        let identity = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:PutKeyPolicy"],"Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalTag/team":["a*","b"]}}}]}"#;
        let fast = parse_clean(identity, PolicyKind::Identity, "p").unwrap();
        assert_eq!(fast, exact(identity, PolicyKind::Identity));
        assert!(parse_clean(identity, PolicyKind::Key, "p").is_none());
    }

    /// Many statements: past 64, the Sid check uses the keyed hasher, and a repeated Sid
    /// anywhere still leaves the text to the exact parser.
    #[test]
    fn many_statements_and_a_late_repeated_sid() {
        let stmts: Vec<String> = (0..20_000)
            .map(|i| {
                format!(
                    r#"{{"Sid":"S{i}","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#
                )
            })
            .collect();
        let text = format!(r#"{{"Statement":[{}]}}"#, stmts.join(","));
        let p = parse_clean(&text, PolicyKind::Identity, "p").expect("clean");
        assert_eq!(p.statements.len(), 20_000);
        assert_eq!(p.statements[19_999].pointer.to_string(), "/Statement/19999");
        let repeated = text.replace(r#""Sid":"S19999""#, r#""Sid":"S7""#);
        assert!(parse_clean(&repeated, PolicyKind::Identity, "p").is_none());
        let exact = exact(&repeated, PolicyKind::Identity);
        assert_eq!(exact.findings.len(), 1, "the exact parser names it");
    }

    /// Everything outside the clean subset goes to the exact parser.
    #[test]
    fn gives_up_outside_the_clean_subset() {
        let stmt = r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#;
        let ok = format!(r#"{{"Statement":[{stmt}]}}"#);
        assert!(parse_clean(&ok, PolicyKind::Key, "p").is_some());
        let not_clean = [
            // JSON the scanner leaves to serde_json: escapes, numbers, trailing text.
            ok.replace("kms:*", "kms:\\u002a"),
            ok.replace(
                r#""Resource":"*""#,
                r#""Resource":"*","Condition":{"NumericLessThan":{"k":5}}"#,
            ),
            format!("{ok} x"),
            ok.replace('}', "},"),
            ok.replace(r#""Action":"kms:*""#, "\"Action\":\"kms:\t*\""),
            // Findings and repeated keys.
            ok.replace(r#""Effect":"Allow""#, r#""Effect":"Allow","Effect":"Deny""#),
            ok.replace(r#""Action""#, r#""NotAction":"kms:Decrypt","Action""#),
            ok.replace(r#""kms:*""#, "[]"),
            ok.replace(r#""Principal":"*""#, r#""Principal":"a""#),
            ok.replace(
                r#""Principal":"*""#,
                r#""Principal":{"AWS":"AROAEXAMPLEEXAMPLE01"}"#,
            ),
            ok.replace(
                r#""Principal":"*""#,
                r#""Principal":{"AWS":"arn:aws:iam::*:root"}"#,
            ),
            ok.replace(
                r#""Principal":"*""#,
                r#""NotPrincipal":{"AWS":"111122223333"}"#,
            ),
            ok.replace(r#""Principal":"*","#, ""),
            ok.replace(
                r#""Principal":"*""#,
                r#""Principal":"*","NotPrincipal":"*""#,
            ),
            ok.replace(r#""Action":"kms:*","#, ""),
            ok.replace(r#","Resource":"*""#, ""),
            ok.replace(r#""Resource":"*""#, r#""Resource":"*","NotResource":"x""#),
            ok.replace(
                r#""Resource":"*""#,
                r#""Resource":"*","Condition":{"StringEqualz":{"a":"b"}}"#,
            ),
            ok.replace(
                r#""Resource":"*""#,
                r#""Resource":"*","Condition":{"Bool":{"a":"b","a":"c"}}"#,
            ),
            ok.replace(r#""Resource":"*""#, r#""Resource":"*","Extra":1"#),
            ok.replace(r#""Effect":"Allow""#, r#""Effect":"allow""#),
            format!(r#"{{"Version":"2012-10-18","Statement":[{stmt}]}}"#),
            format!(
                r#"{{"Statement":[{s},{s}]}}"#,
                s = stmt.replace('{', r#"{"Sid":"a","#)
            ),
            r#"{"Statement":[]}"#.into(),
            r#"{"Version":"2012-10-17"}"#.into(),
            serde_json::json!({"Policy": ok, "PolicyName": "default"}).to_string(),
        ];
        let big = format!(
            r#"{{"Statement":[{}]}}"#,
            stmt.replace(
                r#""Effect""#,
                &format!(r#""Sid":"{}","Effect""#, "x".repeat(KEY_POLICY_MAX_BYTES))
            )
        );
        let mut covered = std::collections::BTreeSet::new();
        let cases = not_clean
            .iter()
            .map(|t| (t, PolicyKind::Key))
            .chain([(&big, PolicyKind::Key), (&ok, PolicyKind::Identity)]);
        for (t, kind) in cases {
            assert!(parse_clean(t, kind, "p").is_none(), "{t}");
            if let Ok(Ok((p, _))) = parse_tree(t).map(|j| with_json(j.root(), t, kind, "p", false))
            {
                covered.extend(p.findings.iter().map(|f| f.id()));
            }
        }
        // Every finding the exact parser can make has a case above that this reader leaves
        // to it. A new parser rule fails here until fast.rs gives up on it too (and a case
        // shows it).
        use crate::analysis::rules::{Stage, RULES};
        let parser_rules: std::collections::BTreeSet<&str> = RULES
            .iter()
            .filter(|r| r.stage == Stage::Parser)
            .map(|r| r.id)
            .collect();
        let missing: Vec<&&str> = parser_rules.difference(&covered).collect();
        assert!(missing.is_empty(), "no case gives {missing:?}");
        assert!(parse_clean(&big, PolicyKind::ResourceControl, "p").is_some());
    }
}
