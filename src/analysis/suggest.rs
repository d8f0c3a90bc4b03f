//! "Did you mean": how far a mistyped name is from a known one. The tables it is used on
//! (KMS actions, condition keys) hold their own names; this holds only the distance.

/// Edit distance (Levenshtein), for "did you mean".
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_edits() {
        assert_eq!(super::distance("encrpyt", "encrypt"), 2);
        assert_eq!(super::distance("decrypt", "decrypt"), 0);
        assert_eq!(super::distance("", "abc"), 3);
    }
}
