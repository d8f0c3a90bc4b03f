//! Satisfiability of the alternatives of a conditional decision, as far as time goes.
//!
//! A recovery call is made now, or later by whoever waits: `aws:CurrentTime` and
//! `aws:EpochTime` range over `[now, ∞)`. A condition on them is true or false for every
//! moment between two of the policy's own times, so evaluating it at `now` and at each of
//! those times (and one second after) decides it for the whole future. For each alternative:
//! the time requirements that hold now are dropped; a window that opens later becomes one
//! requirement, "from T on" (waiting is a way back); a window that has closed makes the
//! alternative impossible, and it is removed: an impossible alternative never supports `ok`
//! and never lists an administrator.

use chrono::{DateTime, Utc};

use super::condition::{self, parse_date, Clause, Operator, Truth};
use super::condition_keys::{role, Role};
use super::context::Context;
use super::eval::{Alternative, Requirement, RequirementKind};

fn is_time_requirement(r: &Requirement) -> bool {
    r.kind == RequirementKind::Condition && r.key.as_deref().and_then(role) == Some(Role::Time)
}

fn clause_of(r: &Requirement) -> Option<Clause> {
    let name = r.operator.as_deref()?;
    Some(Clause {
        operator_name: name.into(),
        operator: Operator::parse(name)?,
        key: r.key.as_deref()?.into(),
        values: r.values.iter().map(Into::into).collect(),
    })
}

/// Whether a time requirement holds for a call at `t`; `None` when it cannot be decided
/// from the time alone.
fn holds_at(r: &Requirement, t: DateTime<Utc>) -> Option<bool> {
    let clause = clause_of(r)?;
    let mut ctx = Context::closed();
    ctx.set(
        "aws:CurrentTime",
        vec![t.format("%Y-%m-%dT%H:%M:%SZ").to_string()],
    );
    ctx.set("aws:EpochTime", vec![t.timestamp().to_string()]);
    match condition::evaluate(&clause, &ctx, false, false).truth {
        Truth::True => Some(!r.negated),
        Truth::False => Some(r.negated),
        Truth::Unknown => None,
    }
}

/// The moments where a requirement's truth can change: each of its values, and a second
/// after, as times.
fn breakpoints(r: &Requirement) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    for v in &r.values {
        let t = parse_date(v).or_else(|| {
            v.trim()
                .parse::<f64>()
                .ok()
                .and_then(|n| DateTime::from_timestamp(n as i64, 0))
        });
        if let Some(t) = t {
            out.push(t);
            out.push(t + chrono::Duration::seconds(1));
        }
    }
    out
}

/// What the time requirements of one alternative allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// They hold now (or there are none).
    Now,
    /// They first hold at this later time.
    From(DateTime<Utc>),
    /// They never hold again.
    Never,
    /// Some cannot be decided from the time alone: left as they are.
    Undecided,
}

/// The earliest moment, now or later, at which every time requirement of `reqs` holds.
pub fn window(reqs: &[&Requirement], now: DateTime<Utc>) -> Window {
    if reqs.is_empty() {
        return Window::Now;
    }
    let mut candidates: Vec<DateTime<Utc>> = vec![now];
    candidates.extend(
        reqs.iter()
            .flat_map(|r| breakpoints(r))
            .filter(|t| *t > now),
    );
    candidates.sort();
    candidates.dedup();
    for t in candidates {
        let mut all = true;
        for r in reqs {
            match holds_at(r, t) {
                Some(true) => {}
                Some(false) => {
                    all = false;
                    break;
                }
                None => return Window::Undecided,
            }
        }
        if all {
            return if t == now {
                Window::Now
            } else {
                Window::From(t)
            };
        }
    }
    Window::Never
}

/// The requirement "the call is made at or after `t`".
pub fn from_requirement(t: DateTime<Utc>) -> Requirement {
    let when = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Requirement {
        kind: RequirementKind::Condition,
        text: format!("aws:CurrentTime at or after {when} (wait until then)"),
        key: Some("aws:CurrentTime".into()),
        operator: Some("DateGreaterThanEquals".into()),
        values: vec![when],
        negated: false,
    }
}

/// Settles the time requirements of each alternative for a call made now or later, removing
/// the alternatives that can never hold; and also says the alternatives removed because a
/// Deny's time window never ends (their own Allow's window alone would open): the Deny
/// decides them.
pub fn settle_explained(
    alternatives: Vec<Alternative>,
    now: DateTime<Utc>,
) -> (Vec<Alternative>, Vec<Alternative>) {
    let mut denied: Vec<Alternative> = Vec::new();
    let mut out: Vec<Alternative> = Vec::with_capacity(alternatives.len());
    for alt in alternatives {
        let times: Vec<&Requirement> = alt
            .all_of
            .iter()
            .filter(|r| is_time_requirement(r))
            .collect();
        let settled = match window(&times, now) {
            Window::Undecided => Some(alt),
            Window::Never => {
                let allows: Vec<&Requirement> =
                    times.iter().copied().filter(|r| !r.negated).collect();
                if window(&allows, now) != Window::Never {
                    denied.push(alt.clone());
                }
                None
            }
            w => {
                let mut all_of: Vec<Requirement> = alt
                    .all_of
                    .iter()
                    .filter(|r| !is_time_requirement(r))
                    .cloned()
                    .collect();
                if let Window::From(t) = w {
                    all_of.push(from_requirement(t));
                }
                Some(Alternative {
                    all_of,
                    via: alt.via,
                })
            }
        };
        if let Some(a) = settled {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    (out, denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_date(s).unwrap()
    }

    fn req(op: &str, value: &str, negated: bool) -> Requirement {
        Requirement {
            kind: RequirementKind::Condition,
            text: String::new(),
            key: Some("aws:CurrentTime".into()),
            operator: Some(op.into()),
            values: vec![value.into()],
            negated,
        }
    }

    const NOW: &str = "2026-11-23T00:00:00Z";

    #[test]
    fn a_window_that_opens_later_is_a_wait() {
        let r = req("DateGreaterThan", "2027-01-01T00:00:00Z", false);
        assert_eq!(
            window(&[&r], t(NOW)),
            Window::From(t("2027-01-01T00:00:01Z"))
        );
    }

    #[test]
    fn a_window_that_has_closed_never_holds() {
        let r = req("DateLessThan", "2026-01-01T00:00:00Z", false);
        assert_eq!(window(&[&r], t(NOW)), Window::Never);
    }

    #[test]
    fn a_freeze_that_ends_later_is_a_wait_and_one_that_holds_now_is_dropped() {
        // From a Deny while CurrentTime < 2027-02-01: not (before 2027-02-01).
        let freeze = req("DateLessThan", "2027-02-01T00:00:00Z", true);
        assert_eq!(
            window(&[&freeze], t(NOW)),
            Window::From(t("2027-02-01T00:00:00Z"))
        );
        let open_now = req("DateGreaterThan", "2026-01-01T00:00:00Z", false);
        assert_eq!(window(&[&open_now], t(NOW)), Window::Now);
    }

    #[test]
    fn two_windows_that_do_not_overlap_never_hold_together() {
        let after = req("DateGreaterThan", "2027-06-01T00:00:00Z", false);
        let before = req("DateLessThan", "2027-03-01T00:00:00Z", false);
        assert_eq!(window(&[&after, &before], t(NOW)), Window::Never);
        let before_later = req("DateLessThan", "2027-09-01T00:00:00Z", false);
        assert_eq!(
            window(&[&after, &before_later], t(NOW)),
            Window::From(t("2027-06-01T00:00:01Z"))
        );
    }

    #[test]
    fn epoch_time_numbers_are_times_too() {
        let r = Requirement {
            key: Some("aws:EpochTime".into()),
            ..req("NumericLessThan", "1700000000", false)
        };
        assert_eq!(window(&[&r], t(NOW)), Window::Never);
    }
}
