//! The request context: condition keys and their values. A key is either present (one or
//! more values), known to be absent, or unknown. Unknown keys are what makes evaluation
//! three-valued: in an *open* context every key not set is unknown (a future request whose
//! source IP or MFA state we cannot know); in a *closed* one it is absent.

use std::borrow::Cow;
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
    entries: BTreeMap<Cow<'static, str>, (Cow<'static, str>, Entry)>,
    open: bool,
    /// Lower-cased key families (`aws:principaltag/`) known to be absent as a whole.
    absent_families: Vec<String>,
    /// The operation of the request: keys it never carries are absent, not unknown.
    operation: Option<&'static Operation>,
    /// Entries shared by many requests (the recovery call's), under this context's own:
    /// built once, not once per request.
    base: Option<std::sync::Arc<Context>>,
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
            base: None,
        }
    }

    /// An open context whose entries, families and openness are `base`'s, with entries of
    /// its own on top.
    pub fn over(base: std::sync::Arc<Context>) -> Self {
        Context {
            entries: BTreeMap::new(),
            open: base.open,
            absent_families: Vec::new(),
            operation: None,
            base: Some(base),
        }
    }

    /// Keys not set are absent.
    pub fn closed() -> Self {
        Context {
            entries: BTreeMap::new(),
            open: false,
            absent_families: Vec::new(),
            operation: None,
            base: None,
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
            .entry(Cow::Owned(key.to_ascii_lowercase()))
            .or_insert_with(|| (Cow::Owned(key.to_string()), Entry::Values(Vec::new())));
        match &mut e.1 {
            Entry::Values(v) => v.push(value.to_string()),
            other => *other = Entry::Values(vec![value.to_string()]),
        }
    }

    /// Sets a key to exactly these values, replacing what it had.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.insert(key, Entry::Values(values));
    }

    /// Marks a key as known to be absent from the request.
    pub fn set_absent(&mut self, key: &str) {
        self.insert(key, Entry::Absent);
    }

    /// Marks a key as unknown even in a closed context, and keeps keys derived from the
    /// request from filling it in: used to ask about "any principal" rather than one.
    pub fn set_unknown(&mut self, key: &str) {
        self.insert(key, Entry::Unknown);
    }

    fn insert(&mut self, key: &str, e: Entry) {
        self.entries.insert(
            Cow::Owned(key.to_ascii_lowercase()),
            (Cow::Owned(key.to_string()), e),
        );
    }

    /// Sets a key kmsdoctor names itself (`lower` its lower-cased form), to `value` or
    /// absent, unless the context already says something of it: the keys a request derives
    /// from its caller, set for every request without allocating their names.
    pub fn derive(&mut self, lower: &'static str, key: &'static str, value: Option<String>) {
        debug_assert_eq!(lower, key.to_ascii_lowercase());
        if self.entry(lower).is_some() {
            return;
        }
        let e = match value {
            Some(v) => Entry::Values(vec![v]),
            None => Entry::Absent,
        };
        self.entries
            .insert(Cow::Borrowed(lower), (Cow::Borrowed(key), e));
    }

    /// Whether the context says anything (values, absence, or explicit unknown) about the key.
    pub fn has(&self, key: &str) -> bool {
        with_lower(key, |lower| self.entry(lower).is_some())
    }

    /// The entry for a lower-cased key, here or in the base (then `true`).
    fn entry(&self, lower: &str) -> Option<(&Entry, bool)> {
        match self.entries.get(lower) {
            Some((_, e)) => Some((e, false)),
            None => self
                .base
                .as_ref()
                .and_then(|b| b.entry(lower))
                .map(|(e, _)| (e, true)),
        }
    }

    /// The entries set on this context itself, not on its base.
    pub fn own(&self) -> impl Iterator<Item = (&str, Option<&[String]>)> {
        self.entries.values().filter_map(|(k, e)| match e {
            Entry::Values(v) => Some((k.as_ref(), Some(v.as_slice()))),
            Entry::Absent => Some((k.as_ref(), None)),
            Entry::Unknown => None,
        })
    }

    fn in_absent_family(&self, lower: &str) -> bool {
        self.absent_families
            .iter()
            .any(|f| lower.starts_with(f.as_str()))
            || self
                .base
                .as_ref()
                .is_some_and(|b| b.in_absent_family(lower))
    }

    pub fn lookup(&self, key: &str) -> Lookup<'_> {
        with_lower(key, |lower| match self.entry(lower) {
            // A shared entry for a key this request's operation never carries is absent.
            Some((_, true)) if self.operation.is_some_and(|o| !o.carries(lower)) => Lookup::Absent,
            Some((Entry::Values(v), _)) => Lookup::Values(v),
            Some((Entry::Absent, _)) => Lookup::Absent,
            Some((Entry::Unknown, _)) => Lookup::Unknown,
            None if !self.open => Lookup::Absent,
            None if self.in_absent_family(lower) => Lookup::Absent,
            None if self.operation.is_some_and(|o| !o.carries(lower)) => Lookup::Absent,
            None => Lookup::Unknown,
        })
    }

    /// Every key the context sets to values or absence, in key order: `(key, Some(values))`,
    /// or `(key, None)` for a key known to be absent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[String]>)> {
        let mut all: BTreeMap<&str, (&str, &Entry)> = BTreeMap::new();
        let mut layer = Some(self);
        let mut layers = Vec::new();
        while let Some(c) = layer {
            layers.push(c);
            layer = c.base.as_deref();
        }
        // The base first, then each context above it: the nearest entry wins.
        for c in layers.into_iter().rev() {
            for (lower, (k, e)) in &c.entries {
                all.insert(lower.as_ref(), (k.as_ref(), e));
            }
        }
        all.into_values().filter_map(|(k, e)| match e {
            Entry::Values(v) => Some((k, Some(v.as_slice()))),
            Entry::Absent => Some((k, None)),
            Entry::Unknown => None,
        })
    }
}

/// Runs `f` on the key lower-cased, on the stack for the usual short keys: lookups happen
/// for every condition of every statement evaluated.
fn with_lower<R>(key: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 128];
    if key.len() <= buf.len() {
        let b = &mut buf[..key.len()];
        b.copy_from_slice(key.as_bytes());
        b.make_ascii_lowercase();
        // Lower-casing ASCII bytes keeps UTF-8 valid.
        f(std::str::from_utf8(b).unwrap_or(key))
    } else {
        f(&key.to_ascii_lowercase())
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
