//! IAM wildcard matching: `*` matches any run of characters (including none), `?` matches
//! exactly one. Used for actions (case-insensitive), resources, `StringLike` and ARN segments
//! (case-sensitive). Hand-written rather than regex-based: patterns come from user input,
//! are tiny, and must never be interpreted as anything but IAM wildcards.

/// Whether `text` matches the IAM wildcard `pattern`.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    // Fast paths for the overwhelmingly common shapes.
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return if ignore_case {
            pattern.eq_ignore_ascii_case(text)
                || (!pattern.is_ascii() && pattern.to_lowercase() == text.to_lowercase())
        } else {
            pattern == text
        };
    }
    if pattern.is_ascii() && text.is_ascii() {
        // Policies are almost always ASCII: match bytes, no allocation.
        let fold = |b: u8| {
            if ignore_case {
                b.to_ascii_lowercase()
            } else {
                b
            }
        };
        glob(
            pattern.as_bytes(),
            text.as_bytes(),
            |p, t| fold(p) == fold(t),
            b'*',
            b'?',
        )
    } else {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let eq =
            |a: char, b: char| a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()));
        glob(&p, &t, eq, '*', '?')
    }
}

/// Iterative matcher with one backtrack point (the last `*`): linear in practice, never
/// exponential, whatever the pattern.
fn glob<T: Copy + PartialEq>(p: &[T], t: &[T], eq: impl Fn(T, T) -> bool, star: T, one: T) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != star && (p[pi] == one || eq(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            resume = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = resume {
            pi = sp + 1;
            ti = st + 1;
            resume = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == star {
        pi += 1;
    }
    pi == p.len()
}

/// How the strings that start with a prefix and go on (`prefix` followed by one or more
/// characters: a role or user name after `role/`) relate to what a pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The pattern matches every one of them.
    All,
    /// Some, not all.
    Some,
    /// None of them.
    None,
}

/// How every string `prefix + rest` (rest non-empty) relates to the wildcard `pattern`.
/// Exact: the pattern positions reachable after the prefix are computed as a set (a glob is
/// a small automaton), and the rest is universal exactly when those positions, taken
/// together, accept every non-empty string.
pub fn prefix_relation(pattern: &str, prefix: &str, ignore_case: bool) -> Relation {
    let p: Vec<char> = pattern.chars().collect();
    let eq = |a: char, b: char| a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()));
    // Positions reachable with the `*`s that match nothing taken.
    let close = |set: &mut Vec<usize>| {
        let mut i = 0;
        while i < set.len() {
            let pos = set[i];
            if pos < p.len() && p[pos] == '*' && !set.contains(&(pos + 1)) {
                set.push(pos + 1);
            }
            i += 1;
        }
    };
    let mut states = vec![0usize];
    close(&mut states);
    for c in prefix.chars() {
        let mut next: Vec<usize> = Vec::new();
        for &pos in &states {
            if pos < p.len() {
                if p[pos] == '*' {
                    if !next.contains(&pos) {
                        next.push(pos);
                    }
                } else if (p[pos] == '?' || eq(p[pos], c)) && !next.contains(&(pos + 1)) {
                    next.push(pos + 1);
                }
            }
        }
        close(&mut next);
        states = next;
        if states.is_empty() {
            return Relation::None;
        }
    }
    // Only the end of the pattern reached: nothing longer than the prefix matches.
    if states.iter().all(|&pos| pos == p.len()) {
        return Relation::None;
    }
    // What lengths of rest the reachable positions accept whatever the characters: a suffix
    // with no literal character accepts exactly its `?` count, or at least it with a `*`.
    let mut exact: Vec<usize> = Vec::new();
    let mut at_least: Option<usize> = None;
    for &pos in &states {
        let rest = &p[pos..];
        if rest.iter().all(|c| *c == '*' || *c == '?') {
            let n = rest.iter().filter(|c| **c == '?').count();
            if rest.contains(&'*') {
                at_least = Some(at_least.map_or(n, |m: usize| m.min(n)));
            } else {
                exact.push(n);
            }
        }
    }
    if let Some(m) = at_least {
        if (1..m.max(1)).all(|len| exact.contains(&len)) {
            return Relation::All;
        }
    }
    Relation::Some
}

/// One position of the language of key ARNs (see [`key_arn_relation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Lit(char),
    /// Exactly one character that is not `:`.
    One,
    /// Any number of characters that are not `:`.
    Run,
}

/// How the ARNs of the keys of `account` (in `partition`, and in `region` when known) relate
/// to a Resource pattern, when the key's own ARN is not known (`check` of a policy before
/// the key exists): `None` when no key ARN of the account can match (`arn:aws:s3:::bucket`,
/// another account, an alias), `All` when every one does (`arn:aws:kms:*:ACCOUNT:key/*`),
/// `Some` otherwise (a pattern naming one key id). IAM matches resources case-sensitively.
///
/// `None` is exact: the pattern and the ARN language (`arn:P:kms:R:A:key/ID`, R and ID
/// without `:`) are intersected as automata. `All` is tested on ARNs of differing regions
/// and key ids, which can only under-report it (a `Some` is then a requirement, never a
/// wrong grant).
pub fn key_arn_relation(
    pattern: &str,
    partition: &str,
    account: &str,
    region: Option<&str>,
) -> Relation {
    let mut lang: Vec<Field> = Vec::new();
    let lit = |lang: &mut Vec<Field>, s: &str| lang.extend(s.chars().map(Field::Lit));
    lit(&mut lang, &format!("arn:{partition}:kms:"));
    match region {
        Some(r) => lit(&mut lang, r),
        None => lang.extend([Field::One, Field::Run]),
    }
    lit(&mut lang, &format!(":{account}:key/"));
    lang.extend([Field::One, Field::Run]);
    if !intersects(pattern, &lang) {
        return Relation::None;
    }
    let regions: Vec<&str> = match region {
        Some(r) => vec![r],
        None => vec!["us-east-1", "eu-central-2", "cn-north-1"],
    };
    let ids = [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-0123456789abcdef0123456789abcdef",
        "f",
    ];
    let every = regions.iter().all(|r| {
        ids.iter().all(|id| {
            wildcard_match(
                pattern,
                &format!("arn:{partition}:kms:{r}:{account}:key/{id}"),
                false,
            )
        })
    });
    if every {
        Relation::All
    } else {
        Relation::Some
    }
}

/// Whether some string matches both the wildcard `pattern` and the language `lang`: the
/// two automata run together, breadth first over pairs of positions (linear in the product
/// of their lengths).
fn intersects(pattern: &str, lang: &[Field]) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let (n, m) = (p.len(), lang.len());
    let mut seen = vec![false; (n + 1) * (m + 1)];
    let mut queue = vec![(0usize, 0usize)];
    while let Some((i, j)) = queue.pop() {
        if seen[i * (m + 1) + j] {
            continue;
        }
        seen[i * (m + 1) + j] = true;
        if i == n && j == m {
            return true;
        }
        let mut go = |a: usize, b: usize| {
            if !seen[a * (m + 1) + b] {
                queue.push((a, b));
            }
        };
        let pc = p.get(i).copied();
        let lf = lang.get(j).copied();
        // What matches nothing.
        if pc == Some('*') {
            go(i + 1, j);
        }
        if lf == Some(Field::Run) {
            go(i, j + 1);
        }
        // One character both accept.
        match (pc, lf) {
            (Some('*'), Some(Field::Lit(_) | Field::One)) => go(i, j + 1),
            (Some('?'), Some(Field::Lit(_) | Field::One)) => go(i + 1, j + 1),
            (Some('?'), Some(Field::Run)) => go(i + 1, j),
            (Some(c), Some(Field::Lit(d))) if c != '*' && c == d => go(i + 1, j + 1),
            (Some(c), Some(Field::One)) if c != '*' && c != ':' => go(i + 1, j + 1),
            (Some(c), Some(Field::Run)) if c != '*' && c != ':' => go(i + 1, j),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::wildcard_match as m;
    use super::{prefix_relation, Relation};

    #[test]
    fn prefix_relations() {
        let role = "arn:aws:iam::111122223333:role/";
        let r = |p: &str| prefix_relation(p, role, false);
        assert_eq!(r("arn:aws:iam::111122223333:role/*"), Relation::All);
        assert_eq!(r("arn:aws:iam::*:role/?*"), Relation::All);
        assert_eq!(r("arn:aws:iam::111122223333:*"), Relation::All);
        assert_eq!(r("*"), Relation::All);
        assert_eq!(r("arn:aws:iam::111122223333:role/ops-*"), Relation::Some);
        assert_eq!(r("arn:aws:iam::111122223333:role/?"), Relation::Some);
        assert_eq!(r("arn:aws:iam::111122223333:user/*"), Relation::None);
        assert_eq!(r("arn:aws:iam::111122223333:role/"), Relation::None);
        assert_eq!(r("arn:aws:iam::444455556666:role/*"), Relation::None);
        assert_eq!(r("arn:aws:iam::111122223333:role/Admin"), Relation::Some);
        assert_eq!(
            prefix_relation("ARN:AWS:IAM::111122223333:ROLE/*", role, true),
            Relation::All
        );
    }

    #[test]
    fn literals_and_case() {
        assert!(m("kms:PutKeyPolicy", "kms:PutKeyPolicy", false));
        assert!(!m("kms:putkeypolicy", "kms:PutKeyPolicy", false));
        assert!(m("kms:putkeypolicy", "kms:PutKeyPolicy", true));
        assert!(!m("kms:Put", "kms:PutKeyPolicy", true));
        assert!(m("kms:Get*", "KMS:GETKEYPOLICY", true));
        assert!(!m("kms:Get*", "KMS:GETKEYPOLICY", false));
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", "", false));
        assert!(m("kms:*", "kms:Decrypt", false));
        assert!(m("kms:Get*", "kms:GetKeyPolicy", false));
        assert!(!m("kms:Get*", "kms:PutKeyPolicy", false));
        assert!(m("kms:*Key*", "kms:PutKeyPolicy", false));
        assert!(m("kms:?ncrypt", "kms:Encrypt", false));
        assert!(!m("kms:?ncrypt", "kms:ncrypt", false));
        assert!(m("a*b*c", "aXXbYYc", false));
        assert!(!m("a*b*c", "aXXbYY", false));
        assert!(m("alias/*alpha*", "alias/project-alpha-1", false));
        assert!(m("**", "anything", false));
        assert!(m("*a", "aaaa", false));
    }

    #[test]
    fn non_ascii_text() {
        assert!(m("tag/ünï*", "tag/ünïcode", false));
        assert!(m("TAG/ÜN?*", "tag/ünïcode", true));
        assert!(!m("tag/ü?", "tag/ü", false));
        assert!(m("ÄBC", "äbc", true));
    }

    #[test]
    fn no_blowup_on_adversarial_patterns() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(200));
        assert!(!m(&pattern, &text, false));
    }

    #[test]
    fn key_arns_of_an_account_against_resource_patterns() {
        use crate::analysis::pattern::{key_arn_relation, Relation};
        let r = |p: &str, region: Option<&str>| key_arn_relation(p, "aws", "111122223333", region);
        // The CloudTrail guide's sample: a bucket never matches a key.
        assert_eq!(r("arn:aws:s3:::myBucketName", None), Relation::None);
        assert_eq!(r("arn:aws:kms:*:444455556666:key/*", None), Relation::None);
        assert_eq!(
            r("arn:aws:kms:us-east-1:111122223333:alias/*", None),
            Relation::None
        );
        // `*` cannot carry a key ARN across fields into an alias.
        assert_eq!(
            r("arn:aws:kms:*:111122223333:alias/*:key/*", None),
            Relation::None
        );
        assert_eq!(
            r("arn:aws-cn:kms:*:111122223333:key/*", None),
            Relation::None
        );
        assert_eq!(
            r(
                "arn:aws:kms:eu-west-1:111122223333:key/*",
                Some("us-east-1")
            ),
            Relation::None
        );
        assert_eq!(r("arn:aws:kms:*:111122223333:key/*", None), Relation::All);
        assert_eq!(r("arn:aws:kms:*:*:*", None), Relation::All);
        assert_eq!(r("arn:*", None), Relation::All);
        assert_eq!(
            r("arn:aws:kms:us-east-1:111122223333:*", Some("us-east-1")),
            Relation::All
        );
        assert_eq!(
            r("arn:aws:kms:us-east-1:111122223333:*", None),
            Relation::Some
        );
        assert_eq!(
            r(
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                None
            ),
            Relation::Some
        );
        assert_eq!(
            r("arn:aws:kms:?s-east-1:111122223333:key/*", None),
            Relation::Some
        );
    }
}
