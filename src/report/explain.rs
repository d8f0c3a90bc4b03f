//! Output of `kmsdoctor explain`.
//!
//! JSON wire format (`schema_version` 2: findings in the one shape of every command; a
//! statement reference is `{"policy", "index", "sid", "label"}`), one object:
//! - `decision`: `allowed` | `implicit_deny` | `explicit_deny` | `conditional`
//! - `request`: `principal`, `action`, `resource`, `key_account`, `key_account_assumed`,
//!   `context_mode` (`open`: keys not given are unknown; `closed`: absent), `context`
//!   (key -> array of values, or null for a key known to be absent; derived keys included)
//! - `deciding_statements`: statement ids (Sid or `#INDEX`; `POLICY:ID` for identity policies)
//! - `requirements`: for `conditional`, alternatives; any one suffices, and each holds when
//!   all of its `all_of` requirements hold (`kind`, `text`, `key`, `operator`, `values`,
//!   `negated`); `via` names the statements involved
//! - `notes`: sentences about how the request was read
//! - `statements`: every statement's match record (`outcome`: `applies` | `applies_if` |
//!   `does_not_apply` | `invalid`, and `principal`, `action`, `resource`, `conditions`, each
//!   with `result` and `explanation`)
//! - `findings`: problems in the policy files: each finding in the one shape of every command (`report::FindingJson`):
//!   `id`, `rule`, `severity`, `message`, `fix`, and where they apply `cause`, `statement`
//!   (`index`, `sid`, `label`), `event`, `file`, `address`, `line`, `column`, `pointer`,
//!   `embedded_at`, and `policy` (the policy's name)
//! - `chain` (only when a boundary, session policy, SCP, RCP or management account was
//!   given): the whole request chain. `decision` and `requirements` at the top are then the
//!   chain's; the key policy's own are in `chain.key_policy_decision`. `chain.denied_by`:
//!   `rcp` | `scp` | `key_policy` | `identity` | `boundary` | `session` | null, the first
//!   layer that denies in AWS's order; `chain.denied_at`: the root, OU or account an SCP or
//!   RCP level is attached to; `chain.layers`: each layer (`layer`, `target`, `status`:
//!   `evaluated` | `not_applicable` | `not_known`, `decision`, `deciding_statements`,
//!   `requirements`, `reason`); `chain.notes`.

use std::io::{self, Write};

use serde::Serialize;

use super::{FileFinding, Style};
use crate::analysis::chain::{ChainEvaluation, LayerResult, LayerStatus};
use crate::analysis::condition::Truth;
use crate::analysis::context::Context;
use crate::analysis::eval::{Alternative, Decision, Evaluation, Outcome, Request, StatementRecord};
use crate::analysis::reference::labels;

pub const SCHEMA_VERSION: u32 = 2;

/// Everything `explain` reports.
pub struct ExplainReport<'a> {
    pub request: &'a Request,
    /// The context the evaluation used: the given one plus derived keys.
    pub context: &'a Context,
    pub key_account_assumed: bool,
    pub evaluation: &'a Evaluation,
    /// The whole request chain, when its layers were given.
    pub chain: Option<&'a ChainEvaluation>,
    pub findings: &'a [FileFinding],
}

#[derive(Serialize)]
struct RequestJson<'a> {
    principal: String,
    action: &'a str,
    resource: String,
    key_account: &'a str,
    key_account_assumed: bool,
    context_mode: &'static str,
    context: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct ExplainJson<'a> {
    schema_version: u32,
    decision: Decision,
    request: RequestJson<'a>,
    #[serde(serialize_with = "crate::analysis::reference::serialize_labels")]
    deciding_statements: &'a [crate::analysis::reference::StatementRef],
    requirements: &'a [Alternative],
    notes: &'a [String],
    statements: &'a [StatementRecord],
    findings: &'a [FileFinding],
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<ChainJson<'a>>,
}

#[derive(Serialize)]
struct ChainJson<'a> {
    key_policy_decision: Decision,
    #[serde(flatten)]
    chain: &'a ChainEvaluation,
}

pub fn render_json(out: &mut dyn Write, r: &ExplainReport<'_>) -> io::Result<()> {
    let context = r
        .context
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map_or(serde_json::Value::Null, |vals| serde_json::json!(vals)),
            )
        })
        .collect();
    let doc = ExplainJson {
        schema_version: SCHEMA_VERSION,
        decision: r.chain.map_or(r.evaluation.decision, |c| c.decision),
        request: RequestJson {
            principal: r.request.caller.to_string(),
            action: &r.request.action,
            resource: r.request.resource.to_string(),
            key_account: &r.request.key_account,
            key_account_assumed: r.key_account_assumed,
            context_mode: if r.context.is_open() {
                "open"
            } else {
                "closed"
            },
            context,
        },
        deciding_statements: &r.evaluation.deciding_statements,
        requirements: r
            .chain
            .map_or(&r.evaluation.requirements, |c| &c.requirements),
        notes: &r.evaluation.notes,
        statements: &r.evaluation.statements,
        findings: r.findings,
        chain: r.chain.map(|chain| ChainJson {
            key_policy_decision: r.evaluation.decision,
            chain,
        }),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Applies => "applies",
        Outcome::AppliesIf => "applies if",
        Outcome::DoesNotApply => "no match",
        Outcome::Invalid => "invalid",
    }
}

/// The one reason that best explains a statement's outcome.
fn why(rec: &StatementRecord) -> String {
    match rec.outcome {
        Outcome::Invalid => "AWS rejects this statement (see findings)".into(),
        Outcome::AppliesIf => {
            let reqs: Vec<&str> = rec.requirements.iter().map(|r| r.text.as_str()).collect();
            format!("if {}", reqs.join(" and "))
        }
        Outcome::DoesNotApply => {
            let elements = [&rec.principal, &rec.action, &rec.resource];
            if let Some(m) = elements
                .iter()
                .filter_map(|m| m.as_ref())
                .find(|m| m.result == Truth::False)
            {
                return m.explanation.clone();
            }
            rec.conditions
                .iter()
                .find(|c| c.result == Truth::False)
                .map(|c| format!("{} {} fails: {}", c.operator, c.key, c.explanation))
                .unwrap_or_default()
        }
        Outcome::Applies => {
            let mut parts = Vec::new();
            if let Some(p) = &rec.principal {
                parts.push(p.explanation.clone());
            }
            if let Some(a) = &rec.action {
                parts.push(a.explanation.clone());
            }
            if !rec.conditions.is_empty() {
                parts.push("all conditions hold".into());
            }
            parts.join("; ")
        }
    }
}

pub fn render_table(out: &mut dyn Write, r: &ExplainReport<'_>, style: Style) -> io::Result<()> {
    let e = r.evaluation;
    let req = r.request;
    let esc = super::esc;
    writeln!(
        out,
        "{} by {} on {}",
        esc(&req.action),
        esc(&req.caller.to_string()),
        esc(&req.resource.to_string())
    )?;
    let account_note = if r.key_account_assumed {
        " (assumed: the caller's)"
    } else {
        ""
    };
    writeln!(out, "key account {}{}", esc(&req.key_account), account_note)?;
    let decision = r.chain.map_or(e.decision, |c| c.decision);
    let requirements = r.chain.map_or(&e.requirements, |c| &c.requirements);
    writeln!(
        out,
        "\n{} {}",
        style.bold("Decision:"),
        paint(decision, style)
    )?;
    if let Some(c) = r.chain {
        render_chain(out, c, e.decision, style)?;
    }
    if !requirements.is_empty() {
        writeln!(out, "Allowed if any one of:")?;
        // In 80 columns: each requirement wrapped on its own lines.
        for (i, alt) in requirements.iter().enumerate() {
            for (j, r) in alt.all_of.iter().enumerate() {
                let first = if j == 0 {
                    format!("  {}. ", i + 1)
                } else {
                    "     and ".to_string()
                };
                let rest = " ".repeat(first.len());
                super::write_wrapped(out, &first, &rest, &r.text)?;
            }
            if !alt.via.is_empty() {
                super::write_wrapped(out, "     via ", "         ", &labels(&alt.via))?;
            }
        }
    }
    // With the chain, each layer lists its own deciding statements.
    if !e.deciding_statements.is_empty() && r.chain.is_none() {
        writeln!(
            out,
            "Deciding statements: {}",
            esc(&labels(&e.deciding_statements))
        )?;
    }
    for n in &e.notes {
        super::write_wrapped(out, "Note: ", "      ", n)?;
    }
    if !e.statements.is_empty() {
        // A list rather than a table: a reason names ARNs, which a column of a table that
        // fits 80 columns would break mid-word; here each stays whole, to be copied.
        let deciding = |rec: &StatementRecord| e.deciding_statements.contains(&rec.statement);
        writeln!(out, "\n{}", style.bold("Statements (* deciding):"))?;
        for rec in e
            .statements
            .iter()
            .filter(|s| deciding(s))
            .chain(e.statements.iter().filter(|s| !deciding(s)))
        {
            let head = format!(
                "{}: {}, {}",
                rec.statement.label,
                rec.effect.as_str(),
                outcome_label(rec.outcome)
            );
            let mark = if deciding(rec) { "  * " } else { "    " };
            super::write_wrapped(out, mark, "      ", &head)?;
            super::write_wrapped(out, "      ", "      ", &why(rec))?;
        }
    }
    if !r.findings.is_empty() {
        writeln!(out, "\nFindings:")?;
        for f in r.findings {
            writeln!(
                out,
                "  {} {} {}: {}",
                super::severity_word(f.finding.severity, style),
                f.finding.rule.id,
                f.finding.rule.name,
                esc(&f.location())
            )?;
            super::write_wrapped(out, "    ", "    ", &f.finding.message)?;
        }
    }
    Ok(())
}

fn paint(d: Decision, style: Style) -> String {
    let word = d.as_str();
    match d {
        Decision::Allowed => style.good(word),
        Decision::Conditional => style.warn(word),
        Decision::ImplicitDeny | Decision::ExplicitDeny => style.bad(word),
    }
}

/// The request chain: which layer denies, then each layer in AWS's order.
fn render_chain(
    out: &mut dyn Write,
    c: &ChainEvaluation,
    key_policy_decision: Decision,
    style: Style,
) -> io::Result<()> {
    // write_wrapped escapes what it writes: text from input (Sids, targets) goes in as is.
    if let Some(layer) = c.denied_by {
        let at = c
            .denied_at
            .as_deref()
            .map(|t| format!(" attached to {t}"))
            .unwrap_or_default();
        super::write_wrapped(
            out,
            "Denied by: ",
            "           ",
            &format!(
                "{}{at}; who can change it: {}",
                layer.title(),
                layer.who_changes()
            ),
        )?;
    }
    writeln!(
        out,
        "Key policy and identity policies alone: {}",
        key_policy_decision.as_str()
    )?;
    writeln!(out, "\n{}", style.bold("Request chain:"))?;
    write_layers(out, &c.layers, c.denied_by, c.denied_at.as_deref())?;
    for n in &c.notes {
        if !n.is_empty() {
            super::write_wrapped(out, "Note: ", "      ", n)?;
        }
    }
    Ok(())
}

/// One line per layer of the request chain (the denying one marked `>`), with its deciding
/// statements; `explain` and `why-locked` alike.
pub(crate) fn write_layers(
    out: &mut dyn Write,
    layers: &[LayerResult],
    denied_by: Option<crate::analysis::chain::LayerKind>,
    denied_at: Option<&str>,
) -> io::Result<()> {
    for l in layers {
        let name = match &l.target {
            Some(t) => format!("{} ({t})", l.layer.title()),
            None => l.layer.title().to_string(),
        };
        let state = layer_state(l);
        let mark = if Some(l.layer) == denied_by && l.target.as_deref() == denied_at {
            "  > "
        } else {
            "    "
        };
        super::write_wrapped(out, mark, "      ", &format!("{name}: {state}"))?;
        if l.status == LayerStatus::Evaluated && !l.deciding_statements.is_empty() {
            super::write_wrapped(
                out,
                "      ",
                "      ",
                &format!("deciding: {}", labels(&l.deciding_statements)),
            )?;
        }
    }
    Ok(())
}

fn layer_state(l: &LayerResult) -> String {
    match (l.status, l.decision) {
        (LayerStatus::Evaluated, Some(d)) if l.reason.is_empty() => d.as_str().to_string(),
        (LayerStatus::Evaluated, Some(d)) => format!("{}: {}", d.as_str(), l.reason),
        (LayerStatus::NotApplicable, _) => format!("not applicable: {}", l.reason),
        _ => format!("not known: {}", l.reason),
    }
}
