//! `kmsdoctor scan`, the pure half: one key's standing from what KMS said of it, and the
//! order of the report (worst first).

use serde::Serialize;

use super::aws_ids;
use super::chain::OrgLevel;
use super::lockout::{diagnose, Evidence, KeyProperties, KeyRef, Verdict};
use super::policy::{parse_document, PolicyKind};
use super::reference::StatementRef;
use super::rules::{Finding, Stage, RCP_DENIES_EVERYONE};
use super::shell::{CommandLine, RunFlags};

/// `kind` and `schema_version` of the JSON a scan writes (`guard --scan FILE` reads it).
pub const SCAN_KIND: &str = "kmsdoctor-scan";
/// 2: findings in the one shape of every command; `rcp_denials[].statement` a statement
/// reference (`{"policy", "index", "sid", "label"}`).
pub const SCAN_SCHEMA_VERSION: u32 = 2;

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Unrecoverable,
    /// The policy cannot be read: a lockout candidate (or a missing permission).
    Unreadable,
    Recoverable,
    Unknown,
    Ok,
}

impl Standing {
    /// The rule a scan's SARIF reports this standing under; `None` for `ok`.
    pub fn rule(self) -> Option<&'static super::rules::Rule> {
        use super::rules::{KEY_RECOVERABLE, KEY_UNKNOWN, KEY_UNREADABLE, KEY_UNRECOVERABLE};
        match self {
            Standing::Unrecoverable => Some(KEY_UNRECOVERABLE),
            Standing::Unreadable => Some(KEY_UNREADABLE),
            Standing::Recoverable => Some(KEY_RECOVERABLE),
            Standing::Unknown => Some(KEY_UNKNOWN),
            Standing::Ok => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Unrecoverable => "unrecoverable",
            Standing::Unreadable => "unreadable",
            Standing::Recoverable => "recoverable",
            Standing::Unknown => "unknown",
            Standing::Ok => "ok",
        }
    }
}

/// `kmsdoctor why-locked ARN` in the key's region with the run's flags, for a key that is
/// not ok; checked and quoted.
pub fn follow_up(k: &KeyStanding, flags: &RunFlags) -> Option<String> {
    if k.standing == Standing::Ok {
        return None;
    }
    CommandLine::new(flags, &["kmsdoctor", "why-locked"])
        .value("the key", "key ARN", &k.arn, aws_ids::is_key_arn)
        .in_region(Some(&k.region))
        .render()
        .ok()
}

/// What a scan does with a key, from what DescribeKey said of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triage {
    /// An AWS managed key: AWS manages its policy; counted, not judged.
    AwsManaged,
    /// Pending deletion (of a key, or of a multi-Region replica): judged (GetKeyPolicy and
    /// PutKeyPolicy work in every state), and listed apart with its date.
    PendingDeletion,
    /// Judged on its policy.
    Judge,
}

/// What to do with a key whose manager and state DescribeKey gave (KMS Developer Guide,
/// "AWS managed keys" and "Key states of AWS KMS keys").
pub fn triage(key_manager: Option<&str>, key_state: Option<&str>) -> Triage {
    if key_manager == Some("AWS") {
        return Triage::AwsManaged;
    }
    match key_state {
        Some("PendingDeletion" | "PendingReplicaDeletion") => Triage::PendingDeletion,
        _ => Triage::Judge,
    }
}

/// One key of the scan.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStanding {
    pub arn: String,
    pub region: String,
    pub standing: Standing,
    /// Principals that could change the policy (the diagnosis's recoverable admins).
    pub can_recover: usize,
    /// Those that are principals (the root user included), as written: what `guard` asks
    /// about. Classes of principals ("roles whose ARN matches...") are counted, not listed.
    pub admins: Vec<String>,
    /// Those among them named only in a condition (`aws:PrincipalArn`): compared by name, so
    /// one deleted and created again still matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recreatable: Vec<String>,
    /// What the scan found about the key: its standing when not ok (KS401–KS404), an RCP
    /// that denies everyone (KS405), then the findings of its policy's diagnosis. Decided
    /// here; the renderers only render them (JSON: `findings`, in the one shape of a finding).
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// `PRIMARY` or `REPLICA` for a multi-Region key: each has its own policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<String>,
    /// Why the policy could not be read, or what else is worth knowing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Resource control policies that deny kms:PutKeyPolicy or kms:GetKeyPolicy on the key,
    /// whatever its own policy says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rcp_denials: Vec<RcpDenial>,
    /// The key's state when it is not `Enabled` (DescribeKey).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// For a key pending deletion: when it is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<chrono::DateTime<chrono::Utc>>,
    /// The key's alias names, when listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// For a key whose policy nobody can change: the principals its policy still lets use
    /// the key's data (issue 28; the scan reads no grants), `PRINCIPAL: OPERATIONS`. When
    /// any, they are the only way left to the data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_paths_only: Vec<String>,
}

/// A statement of a resource control policy that denies kms:PutKeyPolicy or
/// kms:GetKeyPolicy on a key. RCPs bind every caller, the root user included, on customer
/// managed keys of member accounts (Organizations User Guide, "Resource control policies";
/// KMS Developer Guide, "Resource control policies in AWS KMS").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RcpDenial {
    pub action: String,
    /// The root, OU or account the RCP is attached to.
    pub target: String,
    /// The RCP's statement (its label is `POLICY:SID`).
    pub statement: StatementRef,
    /// Without a condition: every principal is denied, the root user included, on every
    /// request. Nobody can get in until the RCP changes.
    pub everyone: bool,
    /// Otherwise the conditions under which it denies (`OPERATOR KEY VALUES`, as written):
    /// a request that fails one of them is not denied by this statement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
}

/// The RCP statements that deny kms:PutKeyPolicy or kms:GetKeyPolicy on the key `arn`,
/// level by level (the levels that bind its account, root first).
pub fn rcp_denials(arn: &str, levels: &[OrgLevel]) -> Vec<RcpDenial> {
    use super::condition::Truth;
    use super::eval::{evaluate_layer, Outcome, Request, Resource};
    use super::policy::Effect;
    use super::principal::Caller;
    let Some(parsed) = super::aws_ids::Arn::parse(arn).filter(|a| a.service == "kms") else {
        return Vec::new();
    };
    let (account, partition) = (parsed.account, parsed.partition);
    // Any caller of the account will do: whether a statement applies to the action and the
    // key does not depend on who asks, and the conditions are reported as written.
    let Ok(caller) = Caller::parse(&format!("arn:{partition}:iam::{account}:root")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for action in ["kms:PutKeyPolicy", "kms:GetKeyPolicy"] {
        let req = Request::new(
            caller.clone(),
            action.to_string(),
            Resource::Key(Some(arn.to_string())),
            account.to_string(),
            super::context::Context::open(),
        );
        for level in levels {
            let refs: Vec<&super::policy::Policy> = level.policies.iter().collect();
            let ev = evaluate_layer(&req, &refs, true);
            for rec in ev.statements {
                let matches = |m: &Option<super::eval::ElementMatch>| {
                    m.as_ref().is_none_or(|m| m.result != Truth::False)
                };
                if rec.effect != Effect::Deny
                    || rec.outcome == Outcome::Invalid
                    || !matches(&rec.action)
                    || !matches(&rec.resource)
                    || !matches(&rec.principal)
                {
                    continue;
                }
                out.push(RcpDenial {
                    action: action.to_string(),
                    target: level.target.clone(),
                    statement: rec.statement.clone(),
                    everyone: rec.conditions.is_empty(),
                    when: rec
                        .conditions
                        .iter()
                        .map(|c| format!("{} {} {}", c.operator, c.key, c.values.join(", ")))
                        .collect(),
                });
            }
        }
    }
    out
}

/// What KMS said of one key.
pub struct KeyFacts<'a> {
    pub arn: &'a str,
    pub region: &'a str,
    pub policy: Result<&'a str, &'a str>,
    pub properties: Option<&'a KeyProperties>,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The RCP levels that bind the key's account, when read.
    pub rcps: Option<&'a [OrgLevel]>,
    /// The key's alias names, when listed (`kms:ResourceAliases`).
    pub aliases: Option<&'a [String]>,
}

pub fn judge(k: &KeyFacts<'_>) -> KeyStanding {
    let mut out = judge_policy(k);
    scan_findings(&mut out);
    out
}

/// The standing of the key from its policy, and the diagnosis's findings.
fn judge_policy(k: &KeyFacts<'_>) -> KeyStanding {
    let multi_region = k.properties.and_then(|p| p.multi_region_key_type.clone());
    let mut out = KeyStanding {
        arn: k.arn.to_string(),
        region: k.region.to_string(),
        standing: Standing::Unknown,
        can_recover: 0,
        admins: Vec::new(),
        recreatable: Vec::new(),
        findings: Vec::new(),
        multi_region,
        note: None,
        rcp_denials: k.rcps.map(|l| rcp_denials(k.arn, l)).unwrap_or_default(),
        state: k
            .properties
            .and_then(|p| p.status.state.clone())
            .filter(|s| s != "Enabled"),
        deletion_date: k.properties.and_then(|p| p.status.deletion_date),
        aliases: k.aliases.map(<[String]>::to_vec).unwrap_or_default(),
        data_paths_only: Vec::new(),
    };
    let text = match k.policy {
        Ok(t) => t,
        Err(why) => {
            out.standing = Standing::Unreadable;
            out.note = Some(format!("GetKeyPolicy: {why}"));
            return out;
        }
    };
    let (Ok(key), Ok(doc)) = (
        KeyRef::parse(k.arn),
        parse_document(text, PolicyKind::Key, "key-policy"),
    ) else {
        out.note = Some("KMS returned a policy kmsdoctor cannot read".into());
        return out;
    };
    let account = key.account.clone();
    let d = diagnose(Evidence {
        key,
        current_policy: Some(&doc),
        events: &[],
        account: account.as_deref(),
        now: k.now,
        aliases: k.aliases,
        properties: k.properties,
        caller: None,
    });
    out.standing = match d.verdict {
        Verdict::Ok => Standing::Ok,
        Verdict::Recoverable => Standing::Recoverable,
        Verdict::Unrecoverable => Standing::Unrecoverable,
        Verdict::Unknown => Standing::Unknown,
    };
    out.can_recover = d
        .recoverable_admins
        .iter()
        .filter(|a| a.can_put_key_policy)
        .count();
    out.admins = d
        .recoverable_admins
        .iter()
        .filter(|a| a.can_put_key_policy && a.class.is_none())
        .map(|a| a.principal.clone())
        .collect();
    out.recreatable = d
        .recoverable_admins
        .iter()
        .filter(|a| {
            a.can_put_key_policy && a.matched_by == super::lockout::admins::MatchedBy::Condition
        })
        .map(|a| a.principal.clone())
        .collect();
    if d.verdict == Verdict::Unrecoverable {
        out.data_paths_only = d
            .data_paths
            .iter()
            .map(|p| format!("{}: {}", p.principal, p.operations.join(", ")))
            .collect();
    }
    out.findings
        .extend(d.findings.iter().chain(&d.policy_findings).cloned());
    out
}

/// The scan's own findings about a judged key, first: its standing when it is not ok, and
/// each RCP statement that denies every principal.
fn scan_findings(k: &mut KeyStanding) {
    let mut own: Vec<Finding> = Vec::new();
    if let Some(rule) = k.standing.rule() {
        own.push(Finding::new(rule, rule.summary));
    }
    for d in k.rcp_denials.iter().filter(|d| d.everyone) {
        own.push(
            Finding::new(
                RCP_DENIES_EVERYONE,
                format!(
                    "{}: the RCP statement {} attached to {} denies {} to every principal, the root user included",
                    RCP_DENIES_EVERYONE.summary, d.statement, d.target, d.action
                ),
            ),
        );
    }
    own.append(&mut k.findings);
    k.findings = own;
}

impl KeyStanding {
    /// The scan's own findings (KS4xx): each key a SARIF result per finding.
    pub fn scan_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.rule.stage == Stage::Scan)
    }

    /// The rule ids of the findings besides the standing, each once (KS405 included).
    pub fn finding_ids(&self) -> Vec<&'static str> {
        let standing = self.standing.rule().map(|r| r.id);
        let mut ids: Vec<&'static str> = Vec::new();
        for f in &self.findings {
            if Some(f.rule.id) != standing && !ids.contains(&f.rule.id) {
                ids.push(f.rule.id);
            }
        }
        ids
    }

    /// Whether the key needs someone: not ok, or every principal denied by an RCP.
    pub fn at_risk(&self) -> bool {
        self.standing != Standing::Ok || self.findings.iter().any(|f| f.rule == RCP_DENIES_EVERYONE)
    }
}

/// Worst first, then by region and ARN (a stable order for diffs between scans).
/// Worst first: a locked key pending deletion before all (soonest deletion first: after it
/// the data is gone), then by standing, region and ARN.
pub fn order(keys: &mut [KeyStanding]) {
    let doomed = |k: &KeyStanding| {
        (k.standing != Standing::Ok && k.deletion_date.is_some()).then_some(k.deletion_date)
    };
    keys.sort_by(|a, b| {
        let (da, db) = (doomed(a), doomed(b));
        db.is_some()
            .cmp(&da.is_some())
            .then(da.cmp(&db))
            .then((a.standing, &a.region, &a.arn).cmp(&(b.standing, &b.region, &b.arn)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn facts(policy: Result<&str, &str>) -> KeyStanding {
        judge(&KeyFacts {
            arn: ARN,
            region: "us-east-1",
            policy,
            properties: None,
            now: chrono::Utc::now(),
            rcps: None,
            aliases: None,
        })
    }

    /// Issue 28, item 5: an unrecoverable key whose policy still lets a role decrypt is
    /// marked with that path, the only way left to its data; a recoverable one is not.
    #[test]
    fn an_unrecoverable_key_with_data_paths_is_marked() {
        let only_decrypt = facts(Ok(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"R","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Reader"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
        ));
        assert_eq!(only_decrypt.standing, Standing::Unrecoverable);
        assert_eq!(
            only_decrypt.data_paths_only,
            ["arn:aws:iam::111122223333:role/Reader: kms:Decrypt"]
        );
        let nothing = facts(Ok(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"R","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Reader"},"Action":"kms:DescribeKey","Resource":"*"}]}"#,
        ));
        assert_eq!(nothing.standing, Standing::Unrecoverable);
        assert!(nothing.data_paths_only.is_empty());
        let recoverable = facts(Ok(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}]}"#,
        ));
        assert!(recoverable.data_paths_only.is_empty());
    }

    #[test]
    fn keys_stand_as_their_diagnosis_says_worst_first() {
        let ok = facts(Ok(&crate::analysis::lockout::default_policy(
            "aws",
            "111122223333",
        )));
        assert_eq!(ok.standing, Standing::Ok);
        let locked = facts(Ok(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}]}"#,
        ));
        assert_eq!(locked.standing, Standing::Recoverable);
        assert_eq!(locked.can_recover, 1);
        assert!(
            locked.finding_ids().contains(&"KL201"),
            "{:?}",
            locked.findings
        );
        let own: Vec<&str> = locked.scan_findings().map(|f| f.rule.id).collect();
        assert_eq!(
            own,
            ["KS403"],
            "the standing is decided here, not by a renderer"
        );
        let denied = facts(Err("AccessDeniedException: no"));
        assert_eq!(denied.standing, Standing::Unreadable);
        let mut all = vec![ok, locked, denied];
        order(&mut all);
        let got: Vec<Standing> = all.iter().map(|k| k.standing).collect();
        assert_eq!(
            got,
            [Standing::Unreadable, Standing::Recoverable, Standing::Ok]
        );
    }

    fn level(target: &str, doc: &str) -> OrgLevel {
        OrgLevel {
            target: target.into(),
            policies: vec![
                parse_document(doc, PolicyKind::ResourceControl, "protect-kms")
                    .unwrap()
                    .policy,
            ],
        }
    }

    /// An unconditional RCP Deny of kms:PutKeyPolicy locks every principal out of the key,
    /// the root user included (KS405); a Deny with a break-glass exemption is reported with
    /// its condition; Denies of other actions or other keys are not reported. Sources:
    /// Organizations User Guide, "Resource control policies" (RCPs restrict every
    /// principal's access to member accounts' resources, the root user's too, and need
    /// `Principal: "*"`); KMS Developer Guide, "Resource control policies in AWS KMS" (they
    /// apply to customer managed keys, not AWS managed keys).
    #[test]
    fn rcp_denials_name_the_statement_its_level_and_whether_anyone_escapes() {
        let levels = [
            level(
                "r-ab12",
                r#"{"Version":"2012-10-17","Statement":[
                  {"Sid":"BreakGlassOnly","Effect":"Deny","Principal":"*","Action":"kms:GetKeyPolicy","Resource":"*",
                   "Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/BreakGlass"}}},
                  {"Sid":"NoDecrypt","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#,
            ),
            level(
                "ou-ab12-11111111",
                r#"{"Version":"2012-10-17","Statement":[
                  {"Sid":"Freeze","Effect":"Deny","Principal":"*","Action":["kms:PutKeyPolicy","kms:ScheduleKeyDeletion"],"Resource":"*"},
                  {"Sid":"OtherKey","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/00000000-0000-0000-0000-000000000000"}]}"#,
            ),
        ];
        let d = rcp_denials(ARN, &levels);
        let got: Vec<(&str, &str, &str, bool)> = d
            .iter()
            .map(|x| {
                (
                    x.action.as_str(),
                    x.target.as_str(),
                    x.statement.label.as_str(),
                    x.everyone,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "kms:PutKeyPolicy",
                    "ou-ab12-11111111",
                    "protect-kms:Freeze",
                    true
                ),
                (
                    "kms:GetKeyPolicy",
                    "r-ab12",
                    "protect-kms:BreakGlassOnly",
                    false
                ),
            ]
        );
        assert_eq!(
            d[1].when,
            ["ArnNotLike aws:PrincipalArn arn:aws:iam::*:role/BreakGlass"]
        );
        let standing = judge(&KeyFacts {
            arn: ARN,
            region: "us-east-1",
            policy: Ok(&crate::analysis::lockout::default_policy(
                "aws",
                "111122223333",
            )),
            properties: None,
            now: chrono::Utc::now(),
            rcps: Some(&levels),
            aliases: None,
        });
        assert_eq!(
            standing.standing,
            Standing::Ok,
            "the key policy itself is fine"
        );
        assert!(
            standing.finding_ids().contains(&"KS405") && standing.at_risk(),
            "{:?}",
            standing.findings
        );
    }
}
