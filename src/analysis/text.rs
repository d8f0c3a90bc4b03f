//! The string type of the policy model, and sizes in words.

/// A string of a policy: an action, a resource, a Sid, a condition key or value. Most are
/// short, and a short one is stored inline, without an allocation of its own.
pub type Text = compact_str::CompactString;

/// A size in the largest decimal unit that keeps it at 1 or more (as Athena bills:
/// 1 KB = 1000 bytes): `846.9 KB`, `12.3 MB`, `5.00 GB`; never `0.00 GB` for a small scan.
pub fn size_words(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.1} KB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        1_000_000_000..1_000_000_000_000 => format!("{:.2} GB", b / 1e9),
        _ => format!("{:.2} TB", b / 1e12),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25: a small scan is said in its own unit, not as 0.00 GB.
    #[test]
    fn sizes_are_said_in_their_own_unit() {
        assert_eq!(size_words(846_856), "846.9 KB");
        assert_eq!(size_words(12_300_000), "12.3 MB");
        assert_eq!(size_words(5_000_000_000), "5.00 GB");
        assert_eq!(size_words(999), "999 bytes");
        assert_eq!(size_words(2_500_000_000_000), "2.50 TB");
    }
}
