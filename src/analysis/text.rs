//! The string type of the policy model.

/// A string of a policy: an action, a resource, a Sid, a condition key or value. Most are
/// short, and a short one is stored inline, without an allocation of its own.
pub type Text = compact_str::CompactString;
