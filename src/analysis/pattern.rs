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
}
