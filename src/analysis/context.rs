//! The request context: condition keys and their values. A key is either present (one or
//! more values), known to be absent, or unknown. Unknown keys are what makes evaluation
//! three-valued: in an *open* context every key not set is unknown (a future request whose
//! source IP or MFA state we cannot know); in a *closed* one it is absent.

use std::collections::BTreeMap;

use super::kms::Operation;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Values(Vec<String>),
    Absent,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Lower-cased key -> (key as first written, entry). Key names are case-insensitive.
    entries: BTreeMap<String, (String, Entry)>,
    open: bool,
    /// Lower-cased key families (`aws:principaltag/`) known to be absent as a whole.
    absent_families: Vec<String>,
    /// The operation of the request: keys it never carries are absent, not unknown.
    operation: Option<&'static Operation>,
}

/// What the context says about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    Values(&'a [String]),
    Absent,
    Unknown,
}

impl Context {
    /// Keys not set are unknown.
    pub fn open() -> Self {
        Context {
            entries: BTreeMap::new(),
            open: true,
            absent_families: Vec::new(),
            operation: None,
        }
    }

    /// Keys not set are absent.
    pub fn closed() -> Self {
        Context {
            entries: BTreeMap::new(),
            open: false,
            absent_families: Vec::new(),
            operation: None,
        }
    }

    /// The request is for `op`: keys it never carries (Service Authorization Reference) are
    /// absent rather than unknown.
    pub fn restrict_to(&mut self, op: &'static Operation) {
        self.operation = Some(op);
    }

    /// Marks every key of a family (`aws:PrincipalTag/`) absent, unless set one by one.
    pub fn set_absent_family(&mut self, prefix: &str) {
        self.absent_families.push(prefix.to_ascii_lowercase());
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Adds a value to a key; a key given several values is multi-valued.
    pub fn push(&mut self, key: &str, value: &str) {
        let e = self
            .entries
            .entry(key.to_ascii_lowercase())
            .or_insert_with(|| (key.to_string(), Entry::Values(Vec::new())));
        match &mut e.1 {
            Entry::Values(v) => v.push(value.to_string()),
            other => *other = Entry::Values(vec![value.to_string()]),
        }
    }

    /// Sets a key to exactly these values, replacing what it had.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.entries.insert(
            key.to_ascii_lowercase(),
            (key.to_string(), Entry::Values(values)),
        );
    }

    /// Marks a key as known to be absent from the request.
    pub fn set_absent(&mut self, key: &str) {
        self.entries
            .insert(key.to_ascii_lowercase(), (key.to_string(), Entry::Absent));
    }

    /// Marks a key as unknown even in a closed context, and keeps keys derived from the
    /// request from filling it in: used to ask about "any principal" rather than one.
    pub fn set_unknown(&mut self, key: &str) {
        self.entries
            .insert(key.to_ascii_lowercase(), (key.to_string(), Entry::Unknown));
    }

    /// Whether the context says anything (values, absence, or explicit unknown) about the key.
    pub fn has(&self, key: &str) -> bool {
        self.entries.contains_key(&key.to_ascii_lowercase())
    }

    pub fn lookup(&self, key: &str) -> Lookup<'_> {
        // Lower-case the key on the stack: lookups happen for every condition of every
        // statement evaluated, and condition keys are short.
        let mut buf = [0u8; 128];
        let owned;
        let lower: &str = if key.len() <= buf.len() {
            let b = &mut buf[..key.len()];
            b.copy_from_slice(key.as_bytes());
            b.make_ascii_lowercase();
            // Lower-casing ASCII bytes keeps UTF-8 valid.
            std::str::from_utf8(b).unwrap_or(key)
        } else {
            owned = key.to_ascii_lowercase();
            &owned
        };
        match self.entries.get(lower) {
            Some((_, Entry::Values(v))) => Lookup::Values(v),
            Some((_, Entry::Absent)) => Lookup::Absent,
            Some((_, Entry::Unknown)) => Lookup::Unknown,
            None if !self.open => Lookup::Absent,
            None if self
                .absent_families
                .iter()
                .any(|f| lower.starts_with(f.as_str())) =>
            {
                Lookup::Absent
            }
            None if self.operation.is_some_and(|o| !o.carries(lower)) => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    /// Every key the context sets to values or absence, in key order: `(key, Some(values))`,
    /// or `(key, None)` for a key known to be absent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[String]>)> {
        self.entries.values().filter_map(|(k, e)| match e {
            Entry::Values(v) => Some((k.as_str(), Some(v.as_slice()))),
            Entry::Absent => Some((k.as_str(), None)),
            Entry::Unknown => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_multi_valued() {
        let mut c = Context::closed();
        c.push("kms:ResourceAliases", "alias/a");
        c.push("KMS:resourcealiases", "alias/b");
        assert_eq!(
            c.lookup("kms:resourceAliases"),
            Lookup::Values(&["alias/a".to_string(), "alias/b".to_string()])
        );
        assert_eq!(c.lookup("aws:SourceIp"), Lookup::Absent);
        assert_eq!(Context::open().lookup("aws:SourceIp"), Lookup::Unknown);
        let mut o = Context::open();
        o.set_absent("kms:RequestAlias");
        assert_eq!(o.lookup("kms:requestalias"), Lookup::Absent);
        o.push("kms:RequestAlias", "alias/x");
        assert!(matches!(o.lookup("kms:RequestAlias"), Lookup::Values(_)));
    }

    #[test]
    fn keys_the_operation_never_carries_are_absent() {
        let mut c = Context::open();
        c.restrict_to(crate::analysis::kms::operation("kms:PutKeyPolicy").unwrap());
        assert_eq!(c.lookup("kms:EncryptionContext:x"), Lookup::Absent);
        assert_eq!(c.lookup("aws:TagKeys"), Lookup::Absent);
        assert_eq!(c.lookup("aws:SourceIp"), Lookup::Unknown);
        assert_eq!(
            c.lookup("kms:BypassPolicyLockoutSafetyCheck"),
            Lookup::Unknown
        );
        c.set_absent_family("aws:PrincipalTag/");
        assert_eq!(c.lookup("aws:principaltag/team"), Lookup::Absent);
        c.set("aws:PrincipalTag/team", vec!["sec".into()]);
        assert!(matches!(
            c.lookup("aws:PrincipalTag/team"),
            Lookup::Values(_)
        ));
    }
}
