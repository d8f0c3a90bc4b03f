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
        } else {
            pattern == text
        };
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a == b || a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    // Iterative matcher with single backtrack point for the last `*`: linear in practice,
    // never exponential.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match as m;

    #[test]
    fn literals_and_case() {
        assert!(m("kms:PutKeyPolicy", "kms:PutKeyPolicy", false));
        assert!(!m("kms:putkeypolicy", "kms:PutKeyPolicy", false));
        assert!(m("kms:putkeypolicy", "kms:PutKeyPolicy", true));
        assert!(!m("kms:Put", "kms:PutKeyPolicy", true));
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
    fn no_blowup_on_adversarial_patterns() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(200));
        assert!(!m(&pattern, &text, false));
    }
}
