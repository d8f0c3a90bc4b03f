//! The rule registry: every finding kmsdoctor reports comes from one entry of [`RULES`]: its
//! stable id, name, severity, what it means, the specific fix, and which stage reports it.
//! Renderers (why-locked, explain, check's table, JSON and SARIF) and the docs' rule tables
//! are views of this one table; `tests` below checks the docs against it.
//!
//! How the stages' rules relate, decided once:
//! - KL201–KL205 and KL219 are the *cause* of a lockout (why-locked says them about the policy or the
//!   change). In `check`, the cause is reported inside KC301 (the *outcome*: the verdict once
//!   applied and who could still recover), placed on the cause's statement and with the cause's
//!   fix: one finding for one cause, never both.
//! - KC305 (kms:RequestAlias on any operation that never carries it) covers KL208 (the same for
//!   kms:PutKeyPolicy and kms:GetKeyPolicy): `check` reports KC305, why-locked KL208.

use serde::Serialize;

use super::locate::Position;
use super::reference::StatementRef;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Which part of kmsdoctor reports a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The policy parser (KD1xx): AWS would reject the policy or statement. Every command.
    Parser,
    /// The lockout diagnosis (KL2xx): why-locked, and `check` where the rule says so.
    Diagnosis,
    /// `check` alone (KC3xx).
    Check,
    /// `scan`: one key's standing (KS4xx), each key a SARIF result.
    Scan,
}

/// A rule with a stable id; ids never change meaning once released.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    /// The usual severity; a few findings lower it (see [`Finding::severity`]).
    pub severity: Severity,
    pub stage: Stage,
    /// What the rule means, in one line (the docs' tables).
    pub summary: &'static str,
    /// What to do about it, in one line.
    pub fix: &'static str,
    /// Whether `check` reports it (KC3xx and KD1xx always; some KL2xx).
    pub in_check: bool,
    /// Whether it is the *cause* of a lockout (KL201–KL205), which `check` reports inside
    /// its outcome (KC301).
    pub cause: bool,
}

macro_rules! registry {
    ($($konst:ident = $id:literal, $name:literal, $sev:ident, $stage:ident, check: $check:literal,
        $(cause: $cause:literal,)? $summary:literal, fix: $fix:literal;)*) => {
        $(pub const $konst: &Rule = &Rule {
            id: $id,
            name: $name,
            severity: Severity::$sev,
            stage: Stage::$stage,
            summary: $summary,
            fix: $fix,
            in_check: $check,
            cause: false $(|| $cause)?,
        };)*
        /// Every rule: the parser's, the diagnosis's, then check's, each in id order.
        pub const RULES: &[&Rule] = &[$($konst),*];
    };
}

registry! {
    ACTION_AND_NOT_ACTION = "KD101", "action-and-notaction", Error, Parser, check: true,
        "a statement has both Action and NotAction",
        fix: "keep either Action or NotAction, not both";
    NO_ACTION = "KD102", "missing-action", Error, Parser, check: true,
        "a statement has neither Action nor NotAction: KMS accepts the policy, and the statement has no effect",
        fix: "add an Action";
    RESOURCE_AND_NOT_RESOURCE = "KD103", "resource-and-notresource", Error, Parser, check: true,
        "a statement has both Resource and NotResource",
        fix: "keep either Resource or NotResource, not both";
    NO_RESOURCE = "KD104", "missing-resource", Error, Parser, check: true,
        "a statement has neither Resource nor NotResource: KMS accepts the policy, and the statement has no effect",
        fix: "add Resource \"*\"";
    BAD_EFFECT = "KD105", "unknown-effect", Error, Parser, check: true,
        "Effect is neither Allow nor Deny",
        fix: "write Effect Allow or Deny";
    NO_PRINCIPAL = "KD106", "missing-principal", Error, Parser, check: true,
        "a key policy statement has neither Principal nor NotPrincipal",
        fix: "add a Principal";
    PRINCIPAL_AND_NOT_PRINCIPAL = "KD107", "principal-and-notprincipal", Error, Parser, check: true,
        "a statement has both Principal and NotPrincipal",
        fix: "keep either Principal or NotPrincipal, not both";
    TOO_LARGE = "KD108", "policy-too-large", Error, Parser, check: true,
        "the key policy is over 32 KB",
        fix: "shorten the policy below 32 KB";
    UNKNOWN_ELEMENT = "KD109", "unknown-element", Error, Parser, check: true,
        "an element AWS does not know",
        fix: "remove or rename the element";
    BAD_VERSION = "KD110", "unknown-version", Warning, Parser, check: true,
        "a Version other than 2012-10-17 or 2008-10-17",
        fix: "write Version 2012-10-17";
    DUPLICATE_SID = "KD111", "duplicate-sid", Warning, Parser, check: true,
        "two statements share a Sid",
        fix: "give each statement its own Sid";
    BAD_OPERATOR = "KD112", "unknown-condition-operator", Error, Parser, check: true,
        "a condition operator AWS does not know",
        fix: "use a condition operator AWS knows";
    UNIQUE_ID_PRINCIPAL = "KD113", "deleted-principal", Error, Parser, check: true,
        "a principal shown by unique id: it was deleted",
        fix: "remove the unique id: KMS rejects principals that no longer exist";
    NO_STATEMENTS = "KD114", "no-statements", Error, Parser, check: true,
        "the policy has no statements",
        fix: "add statements";
    INVALID_PRINCIPAL = "KD115", "invalid-principal", Error, Parser, check: true,
        "a principal that is not an account id, ARN, service or federated provider",
        fix: "write the principal as an account id or a user, role or session ARN";
    PRINCIPAL_IN_IDENTITY_POLICY = "KD116", "principal-in-identity-policy", Error, Parser, check: true,
        "an identity policy statement has a Principal",
        fix: "remove the Principal from the identity policy";
    NOT_PRINCIPAL_WITH_ALLOW = "KD117", "notprincipal-with-allow", Warning, Parser, check: true,
        "NotPrincipal with Allow",
        fix: "use Deny with NotPrincipal, or Allow with Principal";
    EMPTY_LIST = "KD118", "empty-list", Warning, Parser, check: true,
        "an empty list where values belong",
        fix: "list at least one value";

    DELEGATION_MISSING = "KL201", "delegation-missing", Error, Diagnosis, check: false, cause: true,
        "no statement allows the account principal (or this change removed it)",
        fix: "put back the statement `Enable IAM User Permissions`: Principal {\"AWS\": \"arn:aws:iam::ACCOUNT:root\"}, Action kms:*, no conditions";
    DELEGATION_PRINCIPAL_CHANGED = "KL202", "delegation-principal-changed", Error, Diagnosis, check: false, cause: true,
        "the delegation statement names one user or role instead of the account",
        fix: "make the delegation's principal the account (arn:aws:iam::ACCOUNT:root) again; name administrators in a statement of their own";
    DELEGATION_NARROWED = "KL203", "delegation-actions-narrowed", Error, Diagnosis, check: false, cause: true,
        "the delegation no longer covers kms:PutKeyPolicy and kms:GetKeyPolicy",
        fix: "let the delegation statement allow kms:* (at least kms:PutKeyPolicy and kms:GetKeyPolicy) to the account principal";
    DELEGATION_CONDITIONED = "KL204", "delegation-conditioned", Error, Diagnosis, check: false, cause: true,
        "the delegation holds only for principals singled out by a condition",
        fix: "drop the conditions that single out principals from the delegation, or name the administrators in a statement of their own";
    DENY_OVERRIDES = "KL205", "deny-overrides-delegation", Error, Diagnosis, check: false, cause: true,
        "a Deny takes kms:PutKeyPolicy from the account's principals",
        fix: "exempt kms:PutKeyPolicy and kms:GetKeyPolicy from the Deny (NotAction), or let its conditions spare an administrator";
    DELETED_PRINCIPALS = "KL206", "deleted-principals", Warning, Diagnosis, check: true,
        "unique ids of deleted principals; re-creating them does not help",
        fix: "remove principals that no longer exist";
    BYPASSED_CHECK = "KL207", "lockout-check-bypassed", Warning, Diagnosis, check: false,
        "the lockout event used BypassPolicyLockoutSafetyCheck",
        fix: "apply key policies without BypassPolicyLockoutSafetyCheck, so that KMS checks the caller keeps access";
    REQUEST_ALIAS_NEVER = "KL208", "request-alias-never-present", Warning, Diagnosis, check: false,
        "a kms:RequestAlias condition on PutKeyPolicy/GetKeyPolicy, which never carry it",
        fix: "remove kms:RequestAlias from statements about kms:PutKeyPolicy and kms:GetKeyPolicy";
    NOT_PRINCIPAL_DENY = "KL209", "notprincipal-with-deny", Warning, Diagnosis, check: true,
        "NotPrincipal with Deny, and what it must list",
        fix: "list the account ARN and each principal (role and session) to spare, or use aws:PrincipalArn conditions";
    IAM_SIDE = "KL210", "lockout-on-iam-side", Info, Diagnosis, check: false,
        "the key policy is ok: look at IAM",
        fix: "look at the caller's identity policies, permissions boundary, session policy and SCPs";
    OTHER_ACCOUNTS = "KL211", "other-accounts-cannot-manage", Info, Diagnosis, check: false,
        "principals of other accounts named; PutKeyPolicy never works across accounts",
        fix: "have a principal of the key's own account change the policy";
    UNREADABLE_VERSION = "KL212", "unreadable-policy-version", Warning, Diagnosis, check: false,
        "a recorded policy that cannot be read",
        fix: "give the current policy with --policy-file, or read the CloudTrail record by hand";
    FAILED_CHANGE = "KL213", "failed-policy-change", Info, Diagnosis, check: false,
        "a failed CreateKey/PutKeyPolicy (it changed nothing)",
        fix: "nothing to undo: read its error code to see what was attempted";
    IAM_DECISION = "KL214", "iam-decision-for-caller", Info, Diagnosis, check: false,
        "what IAM decides for you (live, when the key policy is ok)",
        fix: "grant kms:GetKeyPolicy and kms:PutKeyPolicy in an IAM policy of the caller";
    INCOMPLETE_EVIDENCE = "KL215", "incomplete-evidence", Warning, Diagnosis, check: false,
        "a call failed or a lookup stopped early: what is missing",
        fix: "give the missing permission or evidence it names, and run again";
    ORDER_UNCERTAIN = "KL216", "policy-order-uncertain", Warning, Diagnosis, check: false,
        "two policy changes in the same second: which came last is taken from the evidence's order",
        fix: "check which change came last in the trail's log files, or give the current policy with --policy-file";
    NEWEST_UNREADABLE = "KL217", "newest-policy-unreadable", Warning, Diagnosis, check: false,
        "the newest recorded policy cannot be read: the verdict is unknown rather than resting on an older one",
        fix: "give the current policy with --policy-file (read it with GetKeyPolicy, or from the record by hand)";
    TOO_MANY_PRINCIPALS = "KL218", "too-many-principals", Info, Diagnosis, check: true,
        "the policy names more principals than kmsdoctor evaluates as administrators (256)",
        fix: "name fewer principals; put them in roles and name the roles, or use aws:PrincipalArn patterns";
    DELEGATION_RESOURCE_MISMATCH = "KL219", "delegation-resource-mismatch", Error, Diagnosis, check: false, cause: true,
        "the delegation statement's Resource never matches the key, so it grants nothing: IAM policies cannot give access",
        fix: "write Resource \"*\" in the delegation statement: in a key policy, `*` is the key itself";
    KEY_PENDING_DELETION = "KL220", "key-pending-deletion", Error, Diagnosis, check: false,
        "the key is scheduled for deletion: after its deletion date the data encrypted under it is lost for good",
        fix: "cancel the deletion before its date (aws kms cancel-key-deletion, which needs kms:CancelKeyDeletion), then repair the policy and enable the key";
    KEY_NOT_USABLE = "KL221", "key-state-not-enabled", Warning, Diagnosis, check: false,
        "the key's state (Disabled, PendingImport, Unavailable...) keeps it from use even once the policy is repaired",
        fix: "after the repair, do what the state needs: enable the key, import its key material, or connect its custom key store";
    DELEGATION_EXCLUDES = "KL222", "delegation-excludes-principals", Warning, Diagnosis, check: false,
        "the delegation to IAM holds only for principals that meet its conditions: the others are denied by the key policy itself, whatever IAM allows",
        fix: "if the condition is meant, name it in your runbook (a principal that fails it is not rescued by IAM); else drop it from the delegation statement";
    OTHER_ACCOUNT_USE = "KL223", "key-usable-by-other-accounts", Warning, Diagnosis, check: true,
        "principals of another account may use the key (cryptographic operations, grants) from their own account",
        fix: "if the other account is not meant to use the key, remove it from the policy; after a lockout by an unknown change this is what to look at first";

    WOULD_LOCK_OUT = "KC301", "would-lock-out", Error, Check, check: true,
        "the policy would not be `ok`: the verdict, its cause (KL201–KL205) and who could still recover",
        fix: "keep the statement `Enable IAM User Permissions`: Principal {\"AWS\": \"arn:aws:iam::ACCOUNT:root\"}, Action kms:*, no conditions";
    DELEGATION_WEAKENED = "KC302", "delegation-narrowed-or-conditioned", Warning, Check, check: true,
        "the delegation is still ok but narrowed or conditioned",
        fix: "let the delegation statement allow kms:* to the account principal without conditions";
    SINGLE_ADMIN = "KC303", "single-administrator", Warning, Check, check: true,
        "only one principal could change the policy",
        fix: "name at least two key administrators, or keep the IAM delegation";
    OPEN_PRINCIPAL = "KC304", "wildcard-principal-unlimited", Error, Check, check: true,
        "an Allow to `*` with no condition limiting the account or organization",
        fix: "limit a `*` principal with a condition such as kms:CallerAccount or aws:PrincipalOrgID";
    REQUEST_ALIAS_UNCARRIED = "KC305", "request-alias-on-operations-without-it", Warning, Check, check: true,
        "kms:RequestAlias on operations that never carry it (covers KL208)",
        fix: "use kms:RequestAlias only for cryptographic operations, DescribeKey and GetPublicKey";
    REQUEST_ALIAS_ARN = "KC306", "request-alias-with-alias-arn", Error, Check, check: true,
        "kms:RequestAlias compared with an alias ARN (it holds alias names)",
        fix: "kms:RequestAlias takes alias names (alias/NAME), not alias ARNs";
    RESOURCE_ALIASES_IN_KEY_POLICY = "KC307", "resource-aliases-in-key-policy", Warning, Check, check: true,
        "kms:ResourceAliases in a key policy (listed for IAM policies only)",
        fix: "use kms:ResourceAliases in IAM policies; the KMS guide lists it for IAM policies only";
    ALIAS_ARN_RESOURCE = "KC308", "alias-arn-in-resource", Warning, Check, check: true,
        "an alias ARN in a key policy's Resource",
        fix: "write Resource \"*\" in a key policy: an alias ARN names the alias, not the key";
    ALIAS_ABAC_RISK = "KC309", "alias-conditions-with-alias-managers", Warning, Check, check: true,
        "alias conditions while some principal may create, update or delete aliases",
        fix: "restrict kms:CreateAlias, kms:UpdateAlias and kms:DeleteAlias, since whoever manages aliases controls alias-based access";
    SAFETY_CHECK = "KC310", "lockout-safety-check", Error, Check, check: true,
        "`--as`: KMS would reject the policy for the deploying principal (warning when it depends on the request)",
        fix: "let the deploying principal keep kms:PutKeyPolicy (name it, or keep the IAM delegation)";
    ACCOUNT_UNKNOWN = "KC311", "account-unknown", Info, Check, check: true,
        "lockout rules skipped",
        fix: "give --account so that the lockout rules can run";
    ASSUMED_DELETION_LOCKS_OUT = "KC312", "deletion-leaves-no-administrator", Error, Check, check: true,
        "`--assume-deleted`: without the principals listed, nobody could change the policy",
        fix: "keep those principals, name other administrators first, or keep the IAM delegation";
    PLACEHOLDER_ACCOUNT = "KC313", "placeholder-account", Info, Check, check: true,
        "a template's placeholder in the account of a principal's ARN is taken as the key's account",
        fix: "give --account, or check the rendered policy (terraform show -json plan)";
    UNKNOWN_ACTION = "KC314", "unknown-action", Warning, Check, check: true,
        "an action KMS does not have (a typo, or a condition key written as an action): KMS accepts the policy and the action grants or denies nothing",
        fix: "write the KMS action meant (see the Service Authorization Reference), or move a condition key into Condition";
    CONDITION_KEY_NEVER_PRESENT = "KC315", "condition-key-never-present", Warning, Check, check: true,
        "a condition on a KMS key that none of the statement's actions carries: the statement never applies",
        fix: "condition on a key the actions carry, or use ...IfExists when the key is optional";
    CONDITION_VALUE_TYPE = "KC316", "condition-value-wrong-type", Warning, Check, check: true,
        "a condition value of the wrong type for its operator (not an ARN, a date, a number, a boolean or an IP range): it never matches",
        fix: "write the value in the form the operator compares";
    KNOWN_AFTER_APPLY = "KC317", "policy-known-after-apply", Info, Check, check: true,
        "a Terraform plan's key policy is known only after apply: it cannot be checked here",
        fix: "after apply, run kmsdoctor why-locked on the key (or check the plan once the policy's inputs are known)";

    KEY_UNRECOVERABLE = "KS401", "key-unrecoverable", Error, Scan, check: false,
        "no principal that can exist may change the key's policy",
        fix: "open a case with AWS Support from the key's account (kmsdoctor why-locked says what to tell them)";
    KEY_UNREADABLE = "KS402", "key-policy-unreadable", Warning, Scan, check: false,
        "the scan could not read the key's policy: a lockout, or a permission the scanner lacks",
        fix: "run the follow-up kmsdoctor why-locked command, which reads CloudTrail too";
    KEY_RECOVERABLE = "KS403", "key-locked-but-recoverable", Error, Scan, check: false,
        "the key's policy no longer lets IAM grant access, but some principal can still change it",
        fix: "follow kmsdoctor why-locked's recovery plan, or kmsdoctor fix, as a principal it names";
    KEY_UNKNOWN = "KS404", "key-verdict-unknown", Warning, Scan, check: false,
        "the key's policy could not be judged",
        fix: "run the follow-up kmsdoctor why-locked command";
    RCP_DENIES_EVERYONE = "KS405", "rcp-denies-everyone", Error, Scan, check: false,
        "a resource control policy denies kms:PutKeyPolicy or kms:GetKeyPolicy on the key to every principal, the root user included",
        fix: "the management account (or a delegated administrator for Organizations policies) must change or detach that RCP";
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// The policy as a whole.
    Policy,
    /// One statement of the policy (by index: two statements may share a Sid).
    Statement(StatementRef),
    /// One CloudTrail event, by its id.
    Event(String),
    /// A change: the event that made it and the statement of the earlier version it changed.
    Change {
        event_id: String,
        statement: StatementRef,
    },
}

/// One finding: the rule, what it says here, and what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static Rule,
    /// The rule's severity, except where a finding says less (a lookup that completed,
    /// a safety check that depends on the request).
    pub severity: Severity,
    pub message: String,
    pub subject: Subject,
    /// JSON pointer into the policy document, for parser findings.
    pub pointer: Option<String>,
    /// Line and column in the policy document, when located.
    pub position: Option<Position>,
    /// For an outcome reported with its cause (KC301 and KL201–KL205): the cause's rule.
    pub cause: Option<&'static Rule>,
    /// The statement a parser finding's pointer is in (`/Statement/N/...`), recorded when the
    /// finding is made.
    pub in_statement: Option<usize>,
}

impl Finding {
    pub fn new(rule: &'static Rule, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.severity,
            message: message.into(),
            subject: Subject::Policy,
            pointer: None,
            position: None,
            cause: None,
            in_statement: None,
        }
    }

    pub fn on(mut self, subject: Subject) -> Finding {
        self.subject = subject;
        self
    }

    pub fn at_statement(self, s: StatementRef) -> Finding {
        self.on(Subject::Statement(s))
    }

    pub fn at_event(self, event_id: &str) -> Finding {
        self.on(Subject::Event(event_id.to_string()))
    }

    pub fn id(&self) -> &'static str {
        self.rule.id
    }

    /// The statement concerned, when there is one (for a change, the statement of the
    /// version before it).
    pub fn statement(&self) -> Option<&StatementRef> {
        match &self.subject {
            Subject::Statement(s) | Subject::Change { statement: s, .. } => Some(s),
            _ => None,
        }
    }

    /// The statement's label as shown (`Sid` or `#N`), when the finding names one.
    pub fn statement_label(&self) -> Option<&str> {
        self.statement().map(|s| s.label.as_str())
    }

    /// The event concerned, when there is one.
    pub fn event_id(&self) -> Option<&str> {
        match &self.subject {
            Subject::Event(e) | Subject::Change { event_id: e, .. } => Some(e),
            _ => None,
        }
    }

    /// What to do about it: the cause's fix when the finding has one, else the rule's.
    pub fn fix(&self) -> &'static str {
        self.cause.unwrap_or(self.rule).fix
    }

    /// The index of the statement concerned: its subject's, or the one its pointer is in.
    /// A change's statement is in another version of the policy: it has no index here.
    pub fn statement_index(&self) -> Option<usize> {
        match &self.subject {
            Subject::Statement(s) => Some(s.index),
            Subject::Change { .. } => None,
            _ => self.in_statement,
        }
    }

    /// The JSON pointer of what the finding is about: its own, or its statement's.
    pub fn pointer(&self) -> Option<String> {
        self.pointer.clone().or_else(|| match &self.subject {
            Subject::Statement(s) => Some(format!("/Statement/{}", s.index)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The causes are a field of the registry, not a list of ids elsewhere: KL201–KL205 and
    /// KL219, each a diagnosis rule.
    #[test]
    fn the_causes_are_the_delegation_rules() {
        let causes: Vec<&str> = RULES.iter().filter(|r| r.cause).map(|r| r.id).collect();
        assert_eq!(
            causes,
            ["KL201", "KL202", "KL203", "KL204", "KL205", "KL219"]
        );
        assert!(RULES
            .iter()
            .filter(|r| r.cause)
            .all(|r| r.stage == Stage::Diagnosis));
    }

    #[test]
    fn ids_are_unique_and_ordered_and_each_rule_has_its_own_fix() {
        let mut seen: Vec<&str> = Vec::new();
        for r in RULES {
            assert!(!seen.contains(&r.id), "{} twice", r.id);
            seen.push(r.id);
            assert!(!r.fix.is_empty() && !r.summary.is_empty(), "{}", r.id);
            let prefix = match r.stage {
                Stage::Parser => "KD1",
                Stage::Diagnosis => "KL2",
                Stage::Check => "KC3",
                Stage::Scan => "KS4",
            };
            assert!(r.id.starts_with(prefix), "{} in stage {:?}", r.id, r.stage);
        }
        for a in RULES {
            for b in RULES {
                assert!(
                    a.id == b.id || a.fix != b.fix,
                    "{} and {} share a fix",
                    a.id,
                    b.id
                );
            }
        }
    }

    /// The documentation's rule tables (beside each command in docs/) are the registry, row
    /// for row, one table per stage: `| ID | `name` | severity | summary | fix |`.
    #[test]
    fn readme_tables_match_the_registry() {
        let readme = [
            include_str!("../../docs/findings.md"),
            include_str!("../../docs/why-locked.md"),
            include_str!("../../docs/fix-scan-guard.md"),
            include_str!("../../docs/check.md"),
        ]
        .join("\n");
        for prefix in ["| KD", "| KL", "| KC", "| KS"] {
            let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with(prefix)).collect();
            let expected: Vec<String> = RULES
                .iter()
                .map(|r| readme_row(r))
                .filter(|r| r.starts_with(prefix))
                .collect();
            assert_eq!(
                rows,
                expected,
                "the docs' {prefix} table must be these rows, in this order:\n{}",
                expected.join("\n")
            );
        }
    }

    pub(crate) fn readme_row(r: &Rule) -> String {
        format!(
            "| {} | `{}` | {} | {} | {} |",
            r.id,
            r.name,
            r.severity.as_str(),
            r.summary.replace('|', "\\|"),
            r.fix.replace('|', "\\|")
        )
    }
}
