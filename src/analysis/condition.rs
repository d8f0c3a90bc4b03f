//! Condition operators and their evaluation against a request context.
//!
//! Each operator family (String, Numeric, Date, Bool, Binary, IpAddress, Arn) is a small
//! comparison of one request value with one policy value. Everything around it, the same for
//! all families, is handled once in [`evaluate`]: a missing key (`IfExists`, negated operators,
//! `Null`), set operators (`ForAnyValue`, `ForAllValues`), several policy values (OR; NOR for
//! negated operators), policy variables, and keys whose value is not known (three-valued).

use std::net::IpAddr;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ipnet::IpNet;

use super::context::{Context, Lookup};
use super::pattern::wildcard_match;
use super::text::Text;
use super::variables::{substitute, Substituted};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const ALL_BASES: [Base; 27] = [
    Base::StringEquals,
    Base::StringNotEquals,
    Base::StringEqualsIgnoreCase,
    Base::StringNotEqualsIgnoreCase,
    Base::StringLike,
    Base::StringNotLike,
    Base::NumericEquals,
    Base::NumericNotEquals,
    Base::NumericLessThan,
    Base::NumericLessThanEquals,
    Base::NumericGreaterThan,
    Base::NumericGreaterThanEquals,
    Base::DateEquals,
    Base::DateNotEquals,
    Base::DateLessThan,
    Base::DateLessThanEquals,
    Base::DateGreaterThan,
    Base::DateGreaterThanEquals,
    Base::Bool,
    Base::BinaryEquals,
    Base::IpAddress,
    Base::NotIpAddress,
    Base::ArnEquals,
    Base::ArnLike,
    Base::ArnNotEquals,
    Base::ArnNotLike,
    Base::Null,
];

/// Each operator's name, for looking names up without a call per candidate.
const BY_NAME: [(&str, Base); ALL_BASES.len()] = {
    let mut out = [("", Base::Null); ALL_BASES.len()];
    let mut i = 0;
    while i < ALL_BASES.len() {
        out[i] = (ALL_BASES[i].name(), ALL_BASES[i]);
        i += 1;
    }
    out
};

impl Base {
    pub const fn name(self) -> &'static str {
        match self {
            Base::StringEquals => "StringEquals",
            Base::StringNotEquals => "StringNotEquals",
            Base::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            Base::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            Base::StringLike => "StringLike",
            Base::StringNotLike => "StringNotLike",
            Base::NumericEquals => "NumericEquals",
            Base::NumericNotEquals => "NumericNotEquals",
            Base::NumericLessThan => "NumericLessThan",
            Base::NumericLessThanEquals => "NumericLessThanEquals",
            Base::NumericGreaterThan => "NumericGreaterThan",
            Base::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Base::DateEquals => "DateEquals",
            Base::DateNotEquals => "DateNotEquals",
            Base::DateLessThan => "DateLessThan",
            Base::DateLessThanEquals => "DateLessThanEquals",
            Base::DateGreaterThan => "DateGreaterThan",
            Base::DateGreaterThanEquals => "DateGreaterThanEquals",
            Base::Bool => "Bool",
            Base::BinaryEquals => "BinaryEquals",
            Base::IpAddress => "IpAddress",
            Base::NotIpAddress => "NotIpAddress",
            Base::ArnEquals => "ArnEquals",
            Base::ArnLike => "ArnLike",
            Base::ArnNotEquals => "ArnNotEquals",
            Base::ArnNotLike => "ArnNotLike",
            Base::Null => "Null",
        }
    }

    /// The operator a negated one negates (`StringNotLike` -> `StringLike`).
    pub fn positive(self) -> Option<Base> {
        Some(match self {
            Base::StringNotEquals => Base::StringEquals,
            Base::StringNotEqualsIgnoreCase => Base::StringEqualsIgnoreCase,
            Base::StringNotLike => Base::StringLike,
            Base::NumericNotEquals => Base::NumericEquals,
            Base::DateNotEquals => Base::DateEquals,
            Base::NotIpAddress => Base::IpAddress,
            Base::ArnNotEquals => Base::ArnEquals,
            Base::ArnNotLike => Base::ArnLike,
            _ => return None,
        })
    }

    pub fn is_negated(self) -> bool {
        self.positive().is_some()
    }

    /// Whether policy variables (`${aws:username}`) are expanded in this operator's values:
    /// only string and ARN operators take them.
    fn takes_variables(self) -> bool {
        matches!(
            self,
            Base::StringEquals
                | Base::StringNotEquals
                | Base::StringEqualsIgnoreCase
                | Base::StringNotEqualsIgnoreCase
                | Base::StringLike
                | Base::StringNotLike
                | Base::ArnEquals
                | Base::ArnLike
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }

    /// One request value against one policy value, for a non-negated operator.
    fn compare(self, request: &str, policy: &str) -> bool {
        match self {
            Base::StringEquals => request == policy,
            Base::StringEqualsIgnoreCase => {
                request == policy || request.to_lowercase() == policy.to_lowercase()
            }
            Base::StringLike => wildcard_match(policy, request, false),
            Base::NumericEquals => num_cmp(request, policy, |a, b| a == b),
            Base::NumericLessThan => num_cmp(request, policy, |a, b| a < b),
            Base::NumericLessThanEquals => num_cmp(request, policy, |a, b| a <= b),
            Base::NumericGreaterThan => num_cmp(request, policy, |a, b| a > b),
            Base::NumericGreaterThanEquals => num_cmp(request, policy, |a, b| a >= b),
            Base::DateEquals => date_cmp(request, policy, |a, b| a == b),
            Base::DateLessThan => date_cmp(request, policy, |a, b| a < b),
            Base::DateLessThanEquals => date_cmp(request, policy, |a, b| a <= b),
            Base::DateGreaterThan => date_cmp(request, policy, |a, b| a > b),
            Base::DateGreaterThanEquals => date_cmp(request, policy, |a, b| a >= b),
            Base::Bool => request.eq_ignore_ascii_case(policy),
            Base::BinaryEquals => binary_eq(request, policy),
            Base::IpAddress => ip_in(request, policy),
            Base::ArnEquals | Base::ArnLike => arn_like(request, policy),
            // Negated operators and Null never reach here: see `value_holds` and `evaluate`.
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    ForAnyValue,
    ForAllValues,
}

/// A parsed condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub set: Option<SetOp>,
    pub base: Base,
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name; `None` for a name AWS does not know.
    pub fn parse(s: &str) -> Option<Operator> {
        // Operator names are short: a plain loop beats a searcher's set-up.
        let (set, rest) = match s.bytes().position(|b| b == b':') {
            Some(n) if s[..n].eq_ignore_ascii_case("ForAnyValue") => {
                (Some(SetOp::ForAnyValue), &s[n + 1..])
            }
            Some(n) if s[..n].eq_ignore_ascii_case("ForAllValues") => {
                (Some(SetOp::ForAllValues), &s[n + 1..])
            }
            Some(_) => return None,
            None => (None, s),
        };
        // No allocation: this runs for every operator of every policy parsed.
        const IF_EXISTS: &str = "ifexists";
        let (name, if_exists) = match rest.len().checked_sub(IF_EXISTS.len()) {
            Some(n) if rest.is_char_boundary(n) && rest[n..].eq_ignore_ascii_case(IF_EXISTS) => {
                (&rest[..n], true)
            }
            _ => (rest, false),
        };
        let base = BY_NAME
            .iter()
            .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))?
            .1;
        if base == Base::Null && (if_exists || set.is_some()) {
            return None;
        }
        Some(Operator {
            set,
            base,
            if_exists,
        })
    }
}

/// One `operator: {key: values}` entry of a statement's `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The operator as written in the policy.
    pub operator_name: Text,
    pub operator: Operator,
    /// The key as written (key names compare case-insensitively).
    pub key: Text,
    /// Policy values, as strings (JSON booleans and numbers are written out).
    pub values: Vec<Text>,
}

/// Three-valued outcome of a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl From<bool> for Truth {
    fn from(b: bool) -> Truth {
        if b {
            Truth::True
        } else {
            Truth::False
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClauseOutcome {
    pub truth: Truth,
    /// Why, in a few words, for the explanation of a match record.
    pub explanation: String,
}

/// Evaluates one clause. `variables` says whether the policy's `Version` enables policy
/// variables (only `2012-10-17` does).
/// With `explain` false, explanations are left empty (no allocation).
pub fn evaluate(clause: &Clause, ctx: &Context, variables: bool, explain: bool) -> ClauseOutcome {
    let outcome = |truth: Truth, why: &dyn Fn() -> String| ClauseOutcome {
        truth,
        explanation: if explain { why() } else { String::new() },
    };
    let op = clause.operator;
    let lookup = ctx.lookup(&clause.key);

    if op.base == Base::Null {
        return match lookup {
            Lookup::Unknown => outcome(Truth::Unknown, &|| format!("{} is not known", clause.key)),
            Lookup::Absent | Lookup::Values(_) => {
                let absent = matches!(lookup, Lookup::Absent);
                let holds = clause
                    .values
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case(if absent { "true" } else { "false" }));
                let state = if absent { "absent" } else { "present" };
                outcome(truth(holds), &|| format!("{} is {state}", clause.key))
            }
        };
    }

    let values = match lookup {
        Lookup::Unknown => {
            return outcome(Truth::Unknown, &|| {
                format!("{} is not known for this request", clause.key)
            })
        }
        Lookup::Absent => {
            let holds = match op.set {
                Some(SetOp::ForAllValues) => true,
                _ if op.if_exists => true,
                Some(SetOp::ForAnyValue) => false,
                None => op.base.is_negated(),
            };
            return outcome(truth(holds), &|| {
                format!("{} is absent from the request", clause.key)
            });
        }
        Lookup::Values(v) => v,
    };

    // Expand policy variables; an unknown variable makes the clause unknown. Values without
    // variables are used as they are, without copying.
    let expanded: Vec<Text>;
    let policy_values: &[Text] =
        if variables && op.base.takes_variables() && clause.values.iter().any(|v| v.contains("${"))
        {
            let mut out = Vec::with_capacity(clause.values.len());
            for v in &clause.values {
                match substitute(v, ctx) {
                    Substituted::Value(s) => out.push(Text::from(s)),
                    Substituted::Unresolvable => {}
                    Substituted::Unknown(key) => {
                        return outcome(Truth::Unknown, &|| {
                            format!("policy variable {key} is not known")
                        })
                    }
                }
            }
            expanded = out;
            &expanded
        } else {
            &clause.values
        };
    let holds_for = |rv: &str| value_holds(op.base, rv, policy_values);
    let holds = match op.set {
        Some(SetOp::ForAllValues) => values.iter().all(|v| holds_for(v)),
        Some(SetOp::ForAnyValue) => values.iter().any(|v| holds_for(v)),
        // Without a set operator, a multi-valued key behaves as "some value matches" for a
        // positive operator and "no value matches" for its negation.
        None if op.base.is_negated() => values.iter().all(|v| holds_for(v)),
        None => values.iter().any(|v| holds_for(v)),
    };
    outcome(truth(holds), &|| {
        let shown = if values.len() == 1 {
            format!("`{}`", values[0])
        } else {
            let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
            format!("[{}]", quoted.join(", "))
        };
        format!("{} is {shown}", clause.key)
    })
}

fn truth(b: bool) -> Truth {
    if b {
        Truth::True
    } else {
        Truth::False
    }
}

/// Whether one request value satisfies the operator against the policy values: for a positive
/// operator, it matches at least one; for a negated one, it matches none.
fn value_holds(base: Base, request: &str, policy_values: &[Text]) -> bool {
    match base.positive() {
        Some(pos) => !policy_values.iter().any(|p| pos.compare(request, p)),
        None => policy_values.iter().any(|p| base.compare(request, p)),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn num_cmp(a: &str, b: &str, f: impl Fn(f64, f64) -> bool) -> bool {
    matches!((parse_number(a), parse_number(b)), (Some(x), Some(y)) if f(x, y))
}

/// Dates as AWS takes them: ISO 8601 (date, date and time, with or without zone or
/// fractional seconds) or epoch seconds.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(t.parse().ok()?, 0);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), fmt) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn date_cmp(a: &str, b: &str, f: impl Fn(DateTime<Utc>, DateTime<Utc>) -> bool) -> bool {
    matches!((parse_date(a), parse_date(b)), (Some(x), Some(y)) if f(x, y))
}

fn binary_eq(request: &str, policy: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    match (engine.decode(request.trim()), engine.decode(policy.trim())) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    let t = s.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<IpAddr>().ok().map(IpNet::from))
}

fn ip_in(request: &str, policy: &str) -> bool {
    let Some(net) = parse_net(policy) else {
        return false;
    };
    match request.trim().parse::<IpAddr>() {
        Ok(ip) => net.contains(&ip),
        // A request value given as a network: inside when the whole network is.
        Err(_) => parse_net(request).is_some_and(|r| net.contains(&r)),
    }
}

/// `ArnLike`/`ArnEquals`: the six ARN parts compared one by one, each with wildcards; the
/// resource part may itself hold colons.
fn arn_like(request: &str, policy: &str) -> bool {
    if policy == "*" {
        return true;
    }
    let (mut r, mut p) = (request.splitn(6, ':'), policy.splitn(6, ':'));
    let mut parts = 0;
    loop {
        match (r.next(), p.next()) {
            (Some(rv), Some(pv)) => {
                if !wildcard_match(pv, rv, false) {
                    return false;
                }
                parts += 1;
            }
            (None, None) => return parts == 6,
            _ => return false,
        }
    }
}

/// The clause *not* holding, in words without a double negation, for a requirement that
/// comes from a Deny: `StringNotEquals aws:PrincipalOrgID o-1` does not hold when
/// `aws:PrincipalOrgID is o-1`; `Bool aws:SecureTransport true` does not hold when it is
/// `not true (or absent)`. AWS's semantics of an absent key: a negated operator holds
/// (IAM User Guide, "Condition operators"), a positive one does not, and `...IfExists`
/// holds. `None` for a set operator (ForAllValues, ForAnyValue), said as `not (...)`.
pub fn describe_not(clause: &Clause) -> Option<String> {
    let op = clause.operator;
    if op.set.is_some() {
        return None;
    }
    let k = &clause.key;
    let with = |base: Base| Clause {
        operator: Operator {
            set: None,
            base,
            if_exists: false,
        },
        ..clause.clone()
    };
    if op.base == Base::Null {
        let was_absent = clause.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return Some(format!(
            "{k} is {}",
            if was_absent { "present" } else { "absent" }
        ));
    }
    // A negated operator fails only for a present key whose value the positive matches.
    if let Some(positive) = op.base.positive() {
        return Some(describe(&with(positive)));
    }
    // A positive one fails for an absent key (unless IfExists) or another value.
    let core = match complement(op.base) {
        Some(c) => describe(&with(c))
            .trim_end_matches(" (or absent)")
            .to_string(),
        None => {
            let vals = if clause.values.len() == 1 {
                clause.values[0].to_string()
            } else {
                format!("one of [{}]", clause.values.join(", "))
            };
            match op.base {
                Base::BinaryEquals => format!("{k} is not binary {vals}"),
                _ => format!("{k} is not {vals}"),
            }
        }
    };
    Some(if op.if_exists {
        format!("{core} (and present)")
    } else {
        format!("{core} (or absent)")
    })
}

/// The operator that holds exactly where a positive one does not, for a present key.
fn complement(b: Base) -> Option<Base> {
    Some(match b {
        Base::StringEquals => Base::StringNotEquals,
        Base::StringEqualsIgnoreCase => Base::StringNotEqualsIgnoreCase,
        Base::StringLike => Base::StringNotLike,
        Base::ArnEquals => Base::ArnNotEquals,
        Base::ArnLike => Base::ArnNotLike,
        Base::NumericEquals => Base::NumericNotEquals,
        Base::DateEquals => Base::DateNotEquals,
        Base::IpAddress => Base::NotIpAddress,
        Base::NumericLessThan => Base::NumericGreaterThanEquals,
        Base::NumericLessThanEquals => Base::NumericGreaterThan,
        Base::NumericGreaterThan => Base::NumericLessThanEquals,
        Base::NumericGreaterThanEquals => Base::NumericLessThan,
        Base::DateLessThan => Base::DateGreaterThanEquals,
        Base::DateLessThanEquals => Base::DateGreaterThan,
        Base::DateGreaterThan => Base::DateLessThanEquals,
        Base::DateGreaterThanEquals => Base::DateLessThan,
        _ => return None,
    })
}

/// A short phrase saying what the clause requires of the request, for requirements:
/// `aws:SourceIp in 203.0.113.0/24`, `aws:MultiFactorAuthPresent is true`.
pub fn describe(clause: &Clause) -> String {
    let op = clause.operator;
    let vals = |sep: &str| -> String {
        if clause.values.len() == 1 {
            clause.values[0].to_string()
        } else {
            format!("one of [{}]", clause.values.join(sep))
        }
    };
    let k = &clause.key;
    let core = match op.base {
        Base::Null => {
            let want_absent = clause.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return format!("{k} is {}", if want_absent { "absent" } else { "present" });
        }
        Base::StringEquals | Base::ArnEquals => format!("{k} is {}", vals(", ")),
        Base::StringEqualsIgnoreCase => format!("{k} is {} (any case)", vals(", ")),
        Base::StringLike | Base::ArnLike => format!("{k} matches {}", vals(", ")),
        Base::StringNotEquals | Base::ArnNotEquals => format!("{k} is not {}", vals(", ")),
        Base::StringNotEqualsIgnoreCase => format!("{k} is not {} (any case)", vals(", ")),
        Base::StringNotLike | Base::ArnNotLike => format!("{k} does not match {}", vals(", ")),
        Base::NumericEquals => format!("{k} = {}", vals(", ")),
        Base::NumericNotEquals => format!("{k} != {}", vals(", ")),
        Base::NumericLessThan => format!("{k} < {}", vals(", ")),
        Base::NumericLessThanEquals => format!("{k} <= {}", vals(", ")),
        Base::NumericGreaterThan => format!("{k} > {}", vals(", ")),
        Base::NumericGreaterThanEquals => format!("{k} >= {}", vals(", ")),
        Base::DateEquals => format!("{k} is {}", vals(", ")),
        Base::DateNotEquals => format!("{k} is not {}", vals(", ")),
        Base::DateLessThan => format!("{k} before {}", vals(", ")),
        Base::DateLessThanEquals => format!("{k} at or before {}", vals(", ")),
        Base::DateGreaterThan => format!("{k} after {}", vals(", ")),
        Base::DateGreaterThanEquals => format!("{k} at or after {}", vals(", ")),
        Base::Bool => format!("{k} is {}", vals(", ")),
        Base::BinaryEquals => format!("{k} is binary {}", vals(", ")),
        Base::IpAddress => format!("{k} in {}", vals(", ")),
        Base::NotIpAddress => format!("{k} not in {}", vals(", ")),
    };
    let core = match op.set {
        Some(SetOp::ForAllValues) => format!("every value of {core} (or {k} absent)"),
        Some(SetOp::ForAnyValue) => format!("some value of {core}"),
        None => core,
    };
    if op.if_exists && op.set.is_none() {
        format!("{core} (when present)")
    } else if op.base.is_negated() && op.set.is_none() && !op.if_exists {
        format!("{core} (or absent)")
    } else {
        core
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(op: &str, key: &str, values: &[&str]) -> Clause {
        Clause {
            operator_name: op.into(),
            operator: Operator::parse(op).unwrap_or_else(|| panic!("operator {op}")),
            key: key.into(),
            values: values.iter().map(|s| Text::from(*s)).collect(),
        }
    }

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        let mut c = Context::closed();
        for (k, v) in pairs {
            c.push(k, v);
        }
        c
    }

    fn eval(op: &str, key: &str, values: &[&str], pairs: &[(&str, &str)]) -> Truth {
        evaluate(&clause(op, key, values), &ctx(pairs), true, true).truth
    }

    #[test]
    fn parses_operators() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.set, Some(SetOp::ForAnyValue));
        assert_eq!(op.base, Base::StringLike);
        assert!(op.if_exists);
        assert!(Operator::parse("stringequals").is_some());
        assert!(Operator::parse("StringMaybe").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
    }

    #[test]
    fn strings() {
        use Truth::*;
        assert_eq!(
            eval(
                "StringEquals",
                "aws:username",
                &["bob"],
                &[("aws:username", "bob")]
            ),
            True
        );
        assert_eq!(
            eval(
                "StringEquals",
                "AWS:UserName",
                &["bob"],
                &[("aws:username", "Bob")]
            ),
            False
        );
        assert_eq!(
            eval(
                "StringEqualsIgnoreCase",
                "aws:username",
                &["bob"],
                &[("aws:username", "BOB")]
            ),
            True
        );
        assert_eq!(eval("StringLike", "k", &["a*", "z"], &[("k", "abc")]), True);
        assert_eq!(
            eval("StringNotLike", "k", &["a*", "z"], &[("k", "abc")]),
            False
        );
        assert_eq!(
            eval("StringNotEquals", "k", &["a", "b"], &[("k", "c")]),
            True
        );
        assert_eq!(
            eval("StringNotEquals", "k", &["a", "b"], &[("k", "b")]),
            False
        );
    }

    #[test]
    fn absent_keys() {
        use Truth::*;
        assert_eq!(eval("StringEquals", "k", &["a"], &[]), False);
        assert_eq!(eval("StringNotEquals", "k", &["a"], &[]), True);
        assert_eq!(eval("StringEqualsIfExists", "k", &["a"], &[]), True);
        assert_eq!(eval("ForAllValues:StringEquals", "k", &["a"], &[]), True);
        assert_eq!(eval("ForAnyValue:StringEquals", "k", &["a"], &[]), False);
        assert_eq!(eval("Null", "k", &["true"], &[]), True);
        assert_eq!(eval("Null", "k", &["false"], &[]), False);
        assert_eq!(eval("Null", "k", &["false"], &[("k", "x")]), True);
        let open = Context::open();
        assert_eq!(
            evaluate(&clause("Bool", "k", &["true"]), &open, true, true).truth,
            Unknown
        );
    }

    #[test]
    fn multi_valued_keys() {
        use Truth::*;
        let two = [
            ("kms:ResourceAliases", "alias/a"),
            ("kms:ResourceAliases", "alias/b"),
        ];
        assert_eq!(
            eval(
                "ForAnyValue:StringEquals",
                "kms:ResourceAliases",
                &["alias/b"],
                &two
            ),
            True
        );
        assert_eq!(
            eval(
                "ForAllValues:StringEquals",
                "kms:ResourceAliases",
                &["alias/b"],
                &two
            ),
            False
        );
        assert_eq!(
            eval(
                "ForAllValues:StringLike",
                "kms:ResourceAliases",
                &["alias/*"],
                &two
            ),
            True
        );
        assert_eq!(
            eval(
                "ForAnyValue:StringNotEquals",
                "kms:ResourceAliases",
                &["alias/a"],
                &two
            ),
            True
        );
        assert_eq!(
            eval(
                "ForAllValues:StringNotEquals",
                "kms:ResourceAliases",
                &["alias/a"],
                &two
            ),
            False
        );
    }

    #[test]
    fn numbers_dates_bools_binary() {
        use Truth::*;
        assert_eq!(eval("NumericLessThan", "n", &["10"], &[("n", "9.5")]), True);
        assert_eq!(
            eval("NumericGreaterThanEquals", "n", &["10"], &[("n", "10")]),
            True
        );
        assert_eq!(eval("NumericEquals", "n", &["10"], &[("n", "ten")]), False);
        assert_eq!(eval("NumericNotEquals", "n", &["10"], &[("n", "11")]), True);
        assert_eq!(
            eval(
                "DateLessThan",
                "aws:CurrentTime",
                &["2027-01-01T00:00:00Z"],
                &[("aws:CurrentTime", "2026-11-23T10:00:00Z")]
            ),
            True
        );
        assert_eq!(
            eval(
                "DateGreaterThan",
                "aws:CurrentTime",
                &["2026-11-23"],
                &[("aws:CurrentTime", "1795435200")]
            ),
            True
        );
        assert_eq!(
            eval(
                "DateEquals",
                "d",
                &["2020-01-01"],
                &[("d", "2020-01-01T00:00:00Z")]
            ),
            True
        );
        assert_eq!(
            eval(
                "Bool",
                "aws:SecureTransport",
                &["true"],
                &[("aws:SecureTransport", "TRUE")]
            ),
            True
        );
        assert_eq!(
            eval("BinaryEquals", "b", &["QmluYXJ5"], &[("b", "QmluYXJ5")]),
            True
        );
        assert_eq!(
            eval("BinaryEquals", "b", &["QmluYXJ5"], &[("b", "QmluYXJ6")]),
            False
        );
    }

    #[test]
    fn ip_addresses() {
        use Truth::*;
        assert_eq!(
            eval(
                "IpAddress",
                "aws:SourceIp",
                &["203.0.113.0/24"],
                &[("aws:SourceIp", "203.0.113.9")]
            ),
            True
        );
        assert_eq!(
            eval(
                "IpAddress",
                "aws:SourceIp",
                &["203.0.113.0/24"],
                &[("aws:SourceIp", "198.51.100.1")]
            ),
            False
        );
        assert_eq!(
            eval(
                "IpAddress",
                "aws:SourceIp",
                &["2001:db8::/32"],
                &[("aws:SourceIp", "2001:db8::1")]
            ),
            True
        );
        assert_eq!(
            eval(
                "IpAddress",
                "aws:SourceIp",
                &["203.0.113.7"],
                &[("aws:SourceIp", "203.0.113.7")]
            ),
            True
        );
        assert_eq!(
            eval(
                "NotIpAddress",
                "aws:SourceIp",
                &["10.0.0.0/8"],
                &[("aws:SourceIp", "203.0.113.7")]
            ),
            True
        );
        assert_eq!(
            eval(
                "IpAddress",
                "aws:SourceIp",
                &["not-an-ip"],
                &[("aws:SourceIp", "203.0.113.7")]
            ),
            False
        );
    }

    #[test]
    fn arns() {
        use Truth::*;
        let k = "aws:PrincipalArn";
        let role = "arn:aws:iam::111122223333:role/Admin";
        assert_eq!(
            eval("ArnLike", k, &["arn:aws:iam::*:role/Adm*"], &[(k, role)]),
            True
        );
        assert_eq!(
            eval(
                "ArnEquals",
                k,
                &["arn:aws:iam::111122223333:role/*"],
                &[(k, role)]
            ),
            True
        );
        assert_eq!(
            eval(
                "ArnLike",
                k,
                &["arn:aws:iam::444455556666:role/*"],
                &[(k, role)]
            ),
            False
        );
        assert_eq!(
            eval(
                "ArnNotLike",
                k,
                &["arn:aws:iam::444455556666:*"],
                &[(k, role)]
            ),
            True
        );
        assert_eq!(eval("ArnLike", k, &["not-an-arn"], &[(k, role)]), False);
    }

    /// A requirement from a Deny says when the clause does not hold, without "not (... not
    /// ...)": absent keys as AWS treats them.
    #[test]
    fn describes_a_clause_not_holding_without_double_negation() {
        let c = |op: &str, key: &str, vals: &[&str]| Clause {
            operator_name: op.into(),
            operator: Operator::parse(op).unwrap(),
            key: key.into(),
            values: vals.iter().map(|v| (*v).into()).collect(),
        };
        for (clause, want) in [
            (
                c("StringNotEquals", "aws:PrincipalOrgID", &["o-abc123"]),
                "aws:PrincipalOrgID is o-abc123",
            ),
            (
                c(
                    "StringNotEqualsIfExists",
                    "aws:PrincipalOrgID",
                    &["o-abc123"],
                ),
                "aws:PrincipalOrgID is o-abc123",
            ),
            (
                c("StringEquals", "aws:PrincipalTag/team", &["dev"]),
                "aws:PrincipalTag/team is not dev (or absent)",
            ),
            (
                c("StringEqualsIfExists", "aws:PrincipalTag/team", &["dev"]),
                "aws:PrincipalTag/team is not dev (and present)",
            ),
            (
                c("Bool", "aws:MultiFactorAuthPresent", &["false"]),
                "aws:MultiFactorAuthPresent is not false (or absent)",
            ),
            (
                c("NotIpAddress", "aws:SourceIp", &["203.0.113.0/24"]),
                "aws:SourceIp in 203.0.113.0/24",
            ),
            (
                c("NumericLessThan", "aws:MultiFactorAuthAge", &["3600"]),
                "aws:MultiFactorAuthAge >= 3600 (or absent)",
            ),
            (
                c(
                    "DateGreaterThan",
                    "aws:CurrentTime",
                    &["2027-01-01T00:00:00Z"],
                ),
                "aws:CurrentTime at or before 2027-01-01T00:00:00Z (or absent)",
            ),
            (
                c("Null", "aws:PrincipalTag/team", &["true"]),
                "aws:PrincipalTag/team is present",
            ),
            (
                c(
                    "ArnNotLike",
                    "aws:PrincipalArn",
                    &["arn:aws:iam::*:role/Admin"],
                ),
                "aws:PrincipalArn matches arn:aws:iam::*:role/Admin",
            ),
        ] {
            assert_eq!(
                describe_not(&clause).as_deref(),
                Some(want),
                "{}",
                clause.operator_name
            );
        }
        assert_eq!(
            describe_not(&c("ForAnyValue:StringEquals", "aws:TagKeys", &["a"])),
            None
        );
    }

    #[test]
    fn describes_requirements() {
        assert_eq!(
            describe(&clause("Bool", "aws:MultiFactorAuthPresent", &["true"])),
            "aws:MultiFactorAuthPresent is true"
        );
        assert_eq!(
            describe(&clause("IpAddress", "aws:SourceIp", &["203.0.113.0/24"])),
            "aws:SourceIp in 203.0.113.0/24"
        );
        assert_eq!(
            describe(&clause(
                "StringNotEquals",
                "aws:PrincipalType",
                &["Account"]
            )),
            "aws:PrincipalType is not Account (or absent)"
        );
    }
}
