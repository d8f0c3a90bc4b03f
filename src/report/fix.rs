//! Output of `kmsdoctor fix`.
//!
//! JSON wire format (`schema_version` 1), one object on stdout:
//! - `key`: `id`, `arn`, `account`, `region`
//! - `mode`: `dry_run` (nothing sent), `refused` (a guard said no), `applied`
//! - `verdict_before`, `policy_to_apply` (`repaired`, `--policy-file` or `--rollback`)
//! - `plan`: `verdict_after`, `changes` (`statement`, `change`: `added`/`removed`/`changed`,
//!   `before`, `after`), `lost_admins`, `safety_check`, `replaces` and `fingerprint_after`
//!   (SHA-256 of the canonical JSON), `refusals`
//! - `applied`: `backup`, `read_back_attempts`, `read_back_confirmed`, `verdict_now`; or null
//! - `policy`: the policy applied, or that would be
//! - `key_state` (when known): `state`, `deletion_date`, `days_left`...; `still_to_do`: for
//!   a key pending deletion or disabled, `text` and `command` of each step the policy does
//!   not do (cancel the deletion, enable the key)
//! - `sources`: `cloudformation_stack` and `cloudformation_logical_id` (from the key's tags,
//!   when CloudFormation manages it), `terraform` (an `aws_kms_key_policy` resource)

use std::io::{self, Write};

use serde::Serialize;

use super::Style;
use crate::analysis::fix::FixPlan;
use crate::analysis::lockout::{KeyRef, Verdict};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub backup: String,
    pub read_back_attempts: u32,
    /// Whether KMS returned the new policy within the wait.
    pub read_back_confirmed: bool,
    pub verdict_now: Verdict,
}

pub struct FixReport<'a> {
    /// The policy in the forms the key's sources need.
    pub sources: &'a crate::analysis::fix::SourceForms,
    pub key: &'a KeyRef,
    pub verdict_before: Verdict,
    /// `repaired`, `--policy-file` or `--rollback`.
    pub source_of_after: String,
    pub plan: &'a FixPlan,
    pub applied: Option<Applied>,
    pub policy_after: &'a str,
    /// The key's state (DescribeKey, else CloudTrail), when it is not `Enabled`: a policy
    /// repair does not cancel a deletion nor enable a key.
    pub key_state: &'a crate::analysis::key_state::KeyStatus,
    /// What the key's state still needs after the policy, as commands to paste (cancel the
    /// deletion, enable the key), each with what it is for.
    pub still_to_do: Vec<(String, String)>,
    /// The table shown before the confirmation prompt: what will be sent, no "Add --apply".
    pub preview: bool,
    /// The preview was shown on this terminal: after the apply, the table says only what
    /// was done, not the whole report again.
    pub after_preview: bool,
}

impl FixReport<'_> {
    fn mode(&self) -> &'static str {
        match (&self.applied, self.plan.refusals.is_empty()) {
            (Some(_), _) => "applied",
            (None, false) => "refused",
            (None, true) => "dry_run",
        }
    }
}

#[derive(Serialize)]
struct FixJson<'a> {
    schema_version: u32,
    key: &'a KeyRef,
    mode: &'static str,
    verdict_before: Verdict,
    policy_to_apply: &'a str,
    plan: &'a FixPlan,
    applied: Option<&'a Applied>,
    policy: serde_json::Value,
    sources: &'a crate::analysis::fix::SourceForms,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_state: Option<&'a crate::analysis::key_state::KeyStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    still_to_do: Vec<StillToDo<'a>>,
}

#[derive(Serialize)]
struct StillToDo<'a> {
    text: &'a str,
    command: &'a str,
}

pub fn render_json(out: &mut dyn Write, r: &FixReport<'_>) -> io::Result<()> {
    let doc = FixJson {
        schema_version: SCHEMA_VERSION,
        key: r.key,
        mode: r.mode(),
        verdict_before: r.verdict_before,
        policy_to_apply: &r.source_of_after,
        plan: r.plan,
        applied: r.applied.as_ref(),
        policy: serde_json::from_str(r.policy_after).unwrap_or(serde_json::Value::Null),
        sources: r.sources,
        key_state: r.key_state.state.is_some().then_some(r.key_state),
        still_to_do: r
            .still_to_do
            .iter()
            .map(|(text, command)| StillToDo { text, command })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

pub fn render_table(out: &mut dyn Write, r: &FixReport<'_>, style: Style) -> io::Result<()> {
    let wrap = super::write_wrapped;
    let p = r.plan;
    if r.after_preview {
        if let Some(a) = &r.applied {
            return applied_table(out, r, a, style);
        }
    }
    wrap(
        out,
        "",
        "  ",
        &format!("Key {}", r.key.arn.as_deref().unwrap_or(&r.key.id)),
    )?;
    writeln!(
        out,
        "{} {} now; {} after ({} policy)",
        style.bold("Verdict:"),
        r.verdict_before.as_str(),
        p.verdict_after.as_str(),
        super::esc(&r.source_of_after)
    )?;
    if let Some(line) = r.key_state.headline() {
        let line = super::esc(&line);
        let painted = if r.key_state.deletion_pending() {
            style.bad(&line)
        } else {
            style.warn(&line)
        };
        writeln!(out, "{} {painted}", style.bold("State:"))?;
    }
    writeln!(out, "\n{}", style.bold("Changes:"))?;
    if p.changes.is_empty() {
        writeln!(out, "  none")?;
    }
    for c in &p.changes {
        let mark = match c.change {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        wrap(
            out,
            &format!("  {mark} "),
            "    ",
            &format!("{} ({})", c.statement, c.change),
        )?;
        // Statements as JSON, one line each and never cut: they are for reading and for
        // copying, like commands.
        if let Some(b) = &c.before {
            writeln!(out, "    was: {}", super::esc(b))?;
        }
        if let Some(a) = &c.after {
            writeln!(out, "    now: {}", super::esc(a))?;
        }
    }
    if let Some(sc) = &p.safety_check {
        writeln!(
            out,
            "\n{}",
            style.bold("KMS's lockout safety check, for you:")
        )?;
        wrap(
            out,
            "  ",
            "  ",
            // The reason names principals: their ARNs keep their case.
            &format!("{}: {}", sc.outcome.as_str(), sc.reason),
        )?;
    }
    if let Some(fp) = &p.replaces {
        writeln!(out, "\nReplaces the policy with SHA-256 {fp}")?;
    }
    if !p.refusals.is_empty() {
        writeln!(out, "\n{}", style.bad("Not applied, because:"))?;
        for why in &p.refusals {
            wrap(out, "  - ", "    ", why)?;
        }
    }
    // The stack that manages the key, in the dry run too: its next update would undo this.
    if let (None, Some(stack)) = (&r.applied, &r.sources.cloudformation_stack) {
        wrap(
            out,
            "\nNote: ",
            "      ",
            &format!(
                "this key belongs to CloudFormation stack {}{}: change the policy in its KeyPolicy too, or the next stack update puts the old one back.",
                stack,
                r.sources
                    .cloudformation_logical_id
                    .as_deref()
                    .map(|l| format!(" (resource {l})"))
                    .unwrap_or_default()
            ),
        )?;
    }
    match &r.applied {
        None if p.refusals.is_empty() && r.preview => {}
        None if p.refusals.is_empty() => {
            writeln!(out, "\nNothing was sent. Add --apply to apply it.")?;
        }
        None => {}
        Some(a) => applied_section(out, r, a, style)?,
    }
    still_to_do(out, r, style)
}

/// After a preview on the same terminal: the key, and what was done.
fn applied_table(
    out: &mut dyn Write,
    r: &FixReport<'_>,
    a: &Applied,
    style: Style,
) -> io::Result<()> {
    super::write_wrapped(
        out,
        "",
        "  ",
        &format!("Key {}", r.key.arn.as_deref().unwrap_or(&r.key.id)),
    )?;
    applied_section(out, r, a, style)?;
    still_to_do(out, r, style)
}

fn applied_section(
    out: &mut dyn Write,
    r: &FixReport<'_>,
    a: &Applied,
    style: Style,
) -> io::Result<()> {
    let wrap = super::write_wrapped;
    if a.read_back_confirmed {
        writeln!(out, "\n{}", style.good("Applied."))?;
    } else {
        writeln!(
            out,
            "\n{}",
            style.bad("Sent, but not confirmed: KMS did not return the new policy.")
        )?;
    }
    wrap(out, "  backup of the old policy: ", "    ", &a.backup)?;
    if a.read_back_confirmed {
        writeln!(
            out,
            "  KMS returns the new policy (read {} time(s)); verdict now: {}",
            a.read_back_attempts,
            a.verdict_now.as_str()
        )?;
    } else {
        writeln!(
            out,
            "  KMS did not return the new policy within {} reads: run `kmsdoctor why-locked` on the key in a minute to see what is in force (exit code 5)",
            a.read_back_attempts
        )?;
    }
    let note = match (&r.sources.cloudformation_stack, &r.sources.cloudformation_logical_id) {
        (Some(stack), logical) => format!(
            "this key belongs to CloudFormation stack {stack}{}: put the new policy in its KeyPolicy (--output json prints it as `policy`), or the next stack update puts the old one back.",
            logical.as_deref().map(|l| format!(" (resource {l})")).unwrap_or_default()
        ),
        (None, _) => "if Terraform or CloudFormation manages this key, change the policy in its source too, or its next apply puts the old one back: --output json prints it as `policy`, and as an aws_kms_key_policy resource in `sources.terraform`.".to_string(),
    };
    wrap(out, "\nNote: ", "      ", &note)?;
    Ok(())
}

fn still_to_do(out: &mut dyn Write, r: &FixReport<'_>, style: Style) -> io::Result<()> {
    let wrap = super::write_wrapped;
    if !r.still_to_do.is_empty() {
        let head = if r.key_state.deletion_pending() {
            style.bad("The policy does not stop the deletion: still to do")
        } else {
            style.warn("The policy does not enable the key: still to do")
        };
        writeln!(out, "\n{head}")?;
        for (text, command) in &r.still_to_do {
            wrap(out, "  - ", "    ", text)?;
            writeln!(out, "    $ {command}")?;
        }
    }
    Ok(())
}
