//! The recovery plan: numbered steps, each with the exact command to run where there is one.
//! Chosen from the verdict and the recoverable admins. Every value in a command is checked
//! for what it is and quoted (`shell`); a value that fails is kept out, and the step says why.

use serde::Serialize;

use super::aws_ids;
use super::chain::{LayerKind, LayerStatus};
use super::eval::RequirementKind;
use super::lockout::{AdminKind, Diagnosis, RecoverableAdmin, Verdict};
use super::shell::{CommandLine, Credentials, RunFlags};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: usize,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Another way to do the same step: paste one or the other, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative: Option<StepAlternative>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepAlternative {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// The profile a plan sets up for an IAM Identity Center permission set.
pub const SSO_PROFILE: &str = "kmsdoctor-recovery";

/// What the plan needs besides the diagnosis.
pub struct PlanInput<'a> {
    pub diagnosis: &'a Diagnosis,
    /// `--write-repaired` path when given and written.
    pub repaired_path: Option<&'a str>,
    /// The command that produced this diagnosis, as words after `kmsdoctor`, with the flags
    /// that chose its evidence (`--policy-file`, `--events-file`, `--from`, `--account`,
    /// `--now`; live: `--region`, `--since`): to run it again.
    pub rerun: &'a [String],
    /// How the run reached AWS: repeated in every command of the plan.
    pub flags: &'a RunFlags,
}

/// A command about the key: in the key's region when known (else the run's), with the run's
/// profile and endpoint.
fn cmd(input: &PlanInput<'_>, words: &[&str]) -> CommandLine {
    CommandLine::new(input.flags, words).in_region(input.diagnosis.key.region.as_deref())
}

/// The admin to use: fewest requirements, no IAM policy needed, the root user last.
fn best_admin(admins: &[RecoverableAdmin]) -> Option<&RecoverableAdmin> {
    admins
        .iter()
        .filter(|a| a.can_put_key_policy)
        .min_by_key(|a| {
            let reqs = a
                .requirements
                .iter()
                .map(|x| x.all_of.len())
                .min()
                .unwrap_or(0);
            (
                a.kind == AdminKind::Root,
                a.class.is_some(),
                a.needs_iam_policy,
                reqs,
            )
        })
}

/// One step under construction: text, a command (or why there is none), and another way
/// to do the same.
type Draft = (String, Option<String>, Option<StepAlternative>);

/// Steps under construction.
struct Steps(Vec<Draft>);

impl Steps {
    fn say(&mut self, text: impl Into<String>) {
        self.0.push((text.into(), None, None));
    }

    /// Another way to do the last step: pasted instead of it, not after it.
    fn or_run(&mut self, text: impl Into<String>, command: CommandLine) {
        let text = text.into();
        let alt = match command.render() {
            Ok(c) => StepAlternative {
                text,
                command: Some(c),
            },
            Err(why) => StepAlternative {
                text: format!("{text} (no command printed: {why})"),
                command: None,
            },
        };
        if let Some(last) = self.0.last_mut() {
            last.2 = Some(alt);
        }
    }

    fn run(&mut self, text: impl Into<String>, command: CommandLine) {
        self.run_then(text, command, "");
    }

    /// A command followed by kmsdoctor's own shell text (a redirection).
    fn run_then(&mut self, text: impl Into<String>, command: CommandLine, tail: &str) {
        self.run_wrapped(text, "", command, tail);
    }

    /// A command inside kmsdoctor's own shell text.
    fn run_wrapped(
        &mut self,
        text: impl Into<String>,
        head: &str,
        command: CommandLine,
        tail: &str,
    ) {
        let text = text.into();
        match command.render() {
            Ok(c) => self.0.push((text, Some(format!("{head}{c}{tail}")), None)),
            Err(why) => self
                .0
                .push((format!("{text} (no command printed: {why})"), None, None)),
        }
    }
}

/// `--key-id KEY`, and `--region R` when known.
fn key_words(c: CommandLine, d: &Diagnosis) -> CommandLine {
    let key = d.key.arn.clone().unwrap_or_else(|| d.key.id.clone());
    c.word("--key-id").value(
        "the key",
        "key ARN or key id",
        &key,
        aws_ids::is_key_reference,
    )
}

/// `kmsdoctor` and the words of the run, each a value the user gave, with the run's flags
/// as given (`--region` too: an offline run needs none).
fn rerun(input: &PlanInput<'_>, creds: Credentials) -> CommandLine {
    let mut c = CommandLine::new(input.flags, &["kmsdoctor"]);
    for w in input.rerun {
        c = if w.starts_with("--") && !w.contains('=') {
            c.word(w)
        } else {
            c.path("a value of the command line", w)
        };
    }
    c.credentials(creds)
}

/// `kmsdoctor why-locked KEY` against AWS: it reads the policy that is there now.
fn live_check(input: &PlanInput<'_>, creds: Credentials) -> CommandLine {
    live_check_words(cmd(input, &["kmsdoctor", "why-locked"]), input, creds)
}

/// A kmsdoctor command against AWS for the key: `KEY`, region and connection flags.
fn live_check_words(c: CommandLine, input: &PlanInput<'_>, creds: Credentials) -> CommandLine {
    let d = input.diagnosis;
    let key = d.key.arn.clone().unwrap_or_else(|| d.key.id.clone());
    c.value(
        "the key",
        "key ARN or key id",
        &key,
        aws_ids::is_key_reference,
    )
    .credentials(creds)
}

pub fn recovery_plan(input: &PlanInput<'_>) -> Vec<Step> {
    let d = input.diagnosis;
    let key = d.key.arn.clone().unwrap_or_else(|| d.key.id.clone());
    let mut steps = Steps(Vec::new());
    let as_run = Credentials::AsRun;
    if d.aws_managed && d.verdict != Verdict::Ok {
        // Nothing to recover: AWS sets this policy and nobody changes it, by design.
        steps.say("This is an AWS managed key: AWS sets its key policy and nobody can change it, by design (KMS Developer Guide, \"AWS managed keys\"). It is not locked; it is used through the AWS service that owns it, by the principals that service allows");
        steps.say("To control who may use or change the key, encrypt with a customer managed key in that service instead");
        return numbered(steps);
    }
    match d.verdict {
        Verdict::Ok => {
            let caller = d.caller.as_ref();
            if let Some((layer, at)) =
                caller.and_then(|c| c.denied_by.map(|l| (l, c.denied_at.as_deref())))
            {
                // The layer that denies is known: the other layers are moot until it changes.
                chain_step(&mut steps, input, layer, at);
            } else {
                ok_layer_steps(&mut steps, input, &key);
            }
        }
        Verdict::Recoverable => {
            let admin = best_admin(&d.recoverable_admins);
            let creds = match admin {
                Some(a) => admin_steps(&mut steps, input, a),
                None => as_run,
            };
            // A key pending deletion: cancel first when this principal can (PutKeyPolicy
            // works in every state; the deletion date does not wait), else right after the
            // repair, through the delegation it puts back (Key state table; "Cancel key
            // deletion": CancelKeyDeletion needs kms:CancelKeyDeletion, leaves it Disabled).
            let pending = d.key_status.state.as_deref() == Some("PendingDeletion");
            let cancels_first =
                pending && admin.and_then(|a| a.can_cancel_key_deletion) == Some(true);
            if cancels_first {
                steps.run(
                    format!(
                        "First cancel the key's deletion, due {}: the key is then Disabled",
                        d.key_status.when_deleted()
                    ),
                    key_words(cmd(input, &["aws", "kms", "cancel-key-deletion"]), d)
                        .credentials(creds),
                );
            }
            let path = input.repaired_path.unwrap_or("repaired-policy.json");
            match input.repaired_path {
                // The step stays, so that the steps keep their numbers.
                Some(p) => steps.say(format!(
                    "The repaired policy (the last applied one with the IAM delegation put back) is written to {}: read it before you apply it",
                    crate::analysis::escape::visible(p)
                )),
                None => steps.run(
                    "Write the repaired policy (the last applied one with the IAM delegation put back), and read it before you apply it",
                    rerun(input, creds)
                        .word("--write-repaired")
                        .path("the repaired policy's file", path),
                ),
            }
            // kmsdoctor's guarded apply: it refuses if the policy in KMS is no longer the
            // one diagnosed (its fingerprint), saves the old one, and reads the new one back.
            let mut guarded = live_check_words(cmd(input, &["kmsdoctor", "fix"]), input, creds)
                .word("--policy-file")
                .path("the repaired policy's file", path);
            if let Some(fp) = d
                .policy
                .as_ref()
                .and_then(|p| super::fix::fingerprint(&p.text))
            {
                guarded = guarded.word("--expect-policy-sha256").word(&fp);
            }
            steps.run(
                "Apply the repaired policy with kmsdoctor's guards: it refuses if the policy changed since this diagnosis, saves the old one to a new file, and reads the new one back (it asks before sending)",
                guarded.word("--apply"),
            );
            steps.or_run(
                "or apply it by hand with the AWS CLI (without bypassing the lockout safety check)",
                key_words(cmd(input, &["aws", "kms", "put-key-policy"]), d)
                    .word("--policy-name")
                    .word("default")
                    .word("--policy")
                    .path("the repaired policy's file", &format!("file://{path}"))
                    .credentials(creds),
            );
            if pending && !cancels_first {
                steps.run(
                    format!(
                        "Then cancel the key's deletion at once, due {}, as an IAM administrator of the account: the repaired policy's delegation lets IAM policies allow kms:CancelKeyDeletion. The key is then Disabled",
                        d.key_status.when_deleted()
                    ),
                    key_words(cmd(input, &["aws", "kms", "cancel-key-deletion"]), d)
                        .credentials(as_run),
                );
            }
            if pending || d.key_status.state.as_deref() == Some("Disabled") {
                let enable_creds = match admin.and_then(|a| a.can_enable_key) {
                    Some(true) => creds,
                    _ => as_run,
                };
                steps.run(
                    "Enable the key again (EnableKey needs kms:EnableKey; it fails while deletion is pending)",
                    key_words(cmd(input, &["aws", "kms", "enable-key"]), d)
                        .credentials(enable_creds),
                );
            } else if let Some(f) = d.key_status.fact().filter(|f| !f.usable) {
                steps.say(format!(
                    "The policy repaired, the key still cannot be used: {}",
                    f.meaning
                ));
            }
            steps.run(
                "Check that kmsdoctor now says ok: it reads the new policy back from KMS",
                live_check(input, creds),
            );
        }
        Verdict::Unrecoverable if d.key_status.deletion_pending() => {
            if !d.can_cancel_deletion.is_empty() {
                // CancelKeyDeletion needs only its own permission: it stops the clock.
                steps.run(
                    format!(
                        "First stop the deletion, due {}: {} may still call kms:CancelKeyDeletion though nobody can change the policy; run this as one of them (the key is then Disabled, and stays until AWS Support restores access)",
                        d.key_status.when_deleted(),
                        d.can_cancel_deletion.join(", ")
                    ),
                    key_words(cmd(input, &["aws", "kms", "cancel-key-deletion"]), d)
                        .credentials(as_run),
                );
            }
            steps.say(format!(
                "The key is to be deleted {}: open a case with AWS Support now, from account {}, naming the key {}, and ask them to cancel the deletion before that date; no principal that can exist may change the key policy, and after that date the data encrypted under the key is lost for good",
                d.key_status.when_deleted(),
                d.key.account.as_deref().unwrap_or("?"),
                key
            ));
            rescue(&mut steps, input);
            steps.say("Until then, do not delete IAM principals or aliases that the policy names: the evidence helps AWS Support");
        }
        Verdict::Unrecoverable => {
            steps.say(format!(
                "No principal that can exist may change the key policy: open a case with AWS Support from account {}, naming the key {}. Only AWS can restore access",
                d.key.account.as_deref().unwrap_or("?"),
                key
            ));
            rescue(&mut steps, input);
            steps.say("Until then, do not delete IAM principals or aliases that the policy names: the evidence helps AWS Support");
        }
        Verdict::Unknown => {
            steps.run_then(
                "Get the current key policy, if you can read it",
                key_words(cmd(input, &["aws", "kms", "get-key-policy"]), d)
                    .word("--policy-name")
                    .word("default")
                    .credentials(as_run),
                " > policy.json",
            );
            // By event name, as kmsdoctor looks them up itself: a lookup by the key's ARN
            // pages through every cryptographic call on the key (see docs/internals.md).
            for (event, file) in [
                ("PutKeyPolicy", "put-key-policy-events.json"),
                ("CreateKey", "create-key-events.json"),
            ] {
                steps.run_then(
                    format!("Get the {event} events of the last 90 days (of every key in the region; kmsdoctor picks this key's)"),
                    cmd(
                        input,
                        &["aws", "cloudtrail", "lookup-events", "--lookup-attributes"],
                    )
                    .word(&format!("AttributeKey=EventName,AttributeValue={event}"))
                    .credentials(as_run),
                    &format!(" > {file}"),
                );
            }
            steps.run(
                "Run kmsdoctor on them (add --policy-file policy.json if the first command worked)",
                rerun(input, as_run)
                    .word("--events-file")
                    .word("put-key-policy-events.json")
                    .word("--events-file")
                    .word("create-key-events.json"),
            );
            // Older history through kmsdoctor's own readers: the trail's log files in S3
            // (it finds the trail, and checks the files against the digests), or one Athena
            // query over the CloudTrail table.
            steps.run(
                "For changes older than event history's 90 days, let kmsdoctor read the trail's log files in S3 (it finds the trail and reads back to the key's creation)",
                live_check(input, as_run).word("--history").word("s3"),
            );
            steps.or_run(
                "or query your CloudTrail table with Athena (kmsdoctor athena-ddl creates it; the cost is estimated first)",
                live_check(input, as_run).word("--history").word("athena"),
            );
        }
    }
    numbered(steps)
}

fn numbered(steps: Steps) -> Vec<Step> {
    steps
        .0
        .into_iter()
        .enumerate()
        .map(|(i, (text, command, alternative))| Step {
            step: i + 1,
            text,
            command,
            alternative,
        })
        .collect()
}

/// How the chosen administrator gets in.
/// Returns whose credentials the later steps run with.
fn admin_steps(steps: &mut Steps, input: &PlanInput<'_>, a: &RecoverableAdmin) -> Credentials {
    let d = input.diagnosis;
    let reqs: Vec<String> = a
        .requirements
        .first()
        .map(|alt| alt.all_of.iter().map(|r| r.text.clone()).collect())
        .unwrap_or_default();
    let needs = if reqs.is_empty() {
        String::new()
    } else {
        format!(", meeting: {}", reqs.join("; "))
    };
    let mfa = reqs.iter().any(|r| r.contains("MultiFactorAuth"));
    // When only listed sessions get through (NotPrincipal), the session name.
    let session = a
        .requirements
        .first()
        .and_then(|alt| {
            alt.all_of
                .iter()
                .find(|r| r.kind == RequirementKind::Session && !r.negated)
        })
        .and_then(|r| r.values.first())
        .and_then(|v| v.rsplit('/').next())
        .unwrap_or("kmsdoctor-recovery")
        .to_string();
    // The caller already is this administrator: nothing to become.
    if let Some(me) = d
        .caller
        .as_ref()
        .filter(|c| a.class.is_none() && is_same_principal(&c.principal, &a.principal))
    {
        steps.say(format!(
            "You ({}) are {} already{needs}: the next steps run with your credentials",
            me.principal, a.principal
        ));
        return finish(steps, a, Credentials::AsRun);
    }
    match (a.kind, &a.class) {
        (_, Some(class)) => steps.say(format!(
            "Act as one of the {}{needs}: {}",
            class.description, class.how
        )),
        (AdminKind::Root, _) => {
            let account = d.key.account.as_deref().unwrap_or("?");
            steps.say(format!(
                "Sign in to the console as the root user of account {account}{needs}, and open CloudShell"
            ));
            // Centralized root access removes member accounts' root credentials. No root
            // task policy covers KMS (STS API Reference, AssumeRoot: IAMAuditRootUserCredentials,
            // IAMCreateRootUserPassword, IAMDeleteRootUserCredentials, S3UnlockBucketPolicy,
            // SQSUnlockQueuePolicy), but IAMCreateRootUserPassword gives root sign-in back.
            steps.run(
                "If the organization manages root access centrally (the root user has no password): no root task covers KMS, but from the management account or IAM's delegated administrator a privileged session can create the root user's password again (then create-login-profile in that session, and sign in as root)",
                cmd(input, &["aws", "sts", "assume-root", "--target-principal"])
                    .value("the account", "account id", account, aws_ids::is_account_id)
                    .word("--task-policy-arn")
                    .word(&format!(
                        "arn={}",
                        aws_ids::aws_managed_policy_arn(
                            d.key.partition(),
                            "root-task/IAMCreateRootUserPassword"
                        )
                    )),
            );
        }
        (AdminKind::Role, _) if aws_ids::is_identity_center_role(&a.principal) => {
            // An IAM Identity Center role trusts only SAML federation from Identity Center:
            // the way in is its permission set through the access portal, not AssumeRole
            // (IAM Identity Center User Guide, "IAM roles created by IAM Identity Center").
            let permission_set = aws_ids::identity_center_permission_set(&a.principal)
                .unwrap_or("the permission set of this role");
            let account = d.key.account.as_deref().unwrap_or("?");
            steps.run(
                format!(
                    "Sign in through IAM Identity Center with the permission set {permission_set} in account {account} (the role {}){needs}: set up a profile named {SSO_PROFILE} (it asks for your access portal URL, then the account and the permission set)",
                    a.principal
                ),
                CommandLine::new(input.flags, &["aws", "configure", "sso"])
                    .credentials(Credentials::Profile(SSO_PROFILE)),
            );
            steps.run(
                "Sign in with that profile (the next steps use it)",
                CommandLine::new(input.flags, &["aws", "sso", "login"])
                    .credentials(Credentials::Profile(SSO_PROFILE)),
            );
            return finish(steps, a, Credentials::Profile(SSO_PROFILE));
        }
        // A role whose trust policy (read live) admits only federation: no AssumeRole.
        (AdminKind::Role, _) if a.trust.as_ref().is_some_and(|t| t.federated_only()) => {
            let t = a.trust.clone().unwrap_or_default();
            let (saml, web) = (&t.saml, &t.web_identity);
            if !saml.is_empty() {
                steps.say(format!(
                    "Sign in to the role {}{needs} through your identity provider: its trust policy admits only SAML federation ({}), not AssumeRole; then run the next steps with those credentials",
                    a.principal,
                    saml.join(", ")
                ));
            } else {
                steps.say(format!(
                    "Get the role {}{needs} with a token of its web identity provider ({}): its trust policy admits only AssumeRoleWithWebIdentity (for example from the CI system it trusts), not AssumeRole",
                    a.principal,
                    web.join(", ")
                ));
            }
            return finish(steps, a, Credentials::AsRun);
        }
        (AdminKind::Role, _) => {
            let mut c = cmd(input, &["aws", "sts", "assume-role", "--role-arn"])
                .value("the role", "role ARN", &a.principal, aws_ids::is_role_arn)
                .word("--role-session-name")
                .value(
                    "the session name",
                    "role session name",
                    &session,
                    aws_ids::is_session_name,
                );
            if mfa {
                c = c
                    .word("--serial-number")
                    .word("MFA_DEVICE_ARN")
                    .word("--token-code")
                    .word("MFA_CODE");
            }
            let c = c
                .word("--query")
                .word("Credentials.[AccessKeyId,SecretAccessKey,SessionToken]")
                .word("--output")
                .word("text");
            // The role's credentials, exported in this shell for the steps that follow, and
            // only when assume-role succeeded (environment credentials win over a profile
            // of the config file; a `--profile` flag would win over them, so the later
            // steps leave it out: AWS CLI guide, "Configuring environment variables").
            // `read` splits the tab-separated answer the same way in bash and zsh (zsh
            // does not split an unquoted `$creds`); nothing is printed, and when
            // assume-role fails nothing is exported and the shell says so.
            // Who its trust policy lets assume it, when read live.
            let who = match &a.trust {
                Some(t) if t.caller_allowed == Some(false) => format!(
                    ". Its trust policy lets {} assume it, not you: run this as one of them",
                    trusted(t)
                ),
                Some(t) if !t.aws.is_empty() => format!(
                    ". Its trust policy lets {} assume it{}",
                    trusted(t),
                    if t.conditioned { " (under conditions)" } else { "" }
                ),
                _ => String::new(),
            };
            steps.run_wrapped(
                format!(
                    "Assume the role {}{needs}; its credentials are exported in this shell (bash or zsh) for the next steps, and nothing is printed{who}",
                    a.principal
                ),
                "creds=$(",
                c,
                ") && read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN <<<\"$creds\" && export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN || echo 'kmsdoctor: assume-role failed: the next steps would run as you, not as the role' >&2; unset creds",
            );
            return finish(steps, a, Credentials::Exported);
        }
        (AdminKind::AssumedRole, _) => steps.say(format!(
            "Act as the session {} (that session name exactly){needs}",
            a.principal
        )),
        (AdminKind::User, _) => steps.run(
            format!(
                "Sign in as the IAM user {}{needs} (its own access keys, or its console password and then CloudShell): an IAM user is not assumed; check whose credentials the next steps run with",
                a.principal
            ),
            cmd(input, &["aws", "sts", "get-caller-identity"]),
        ),
        _ => steps.run(
            format!(
                "Use the credentials of {}{needs}; check that they are",
                a.principal
            ),
            cmd(input, &["aws", "sts", "get-caller-identity"]),
        ),
    }
    finish(steps, a, Credentials::AsRun)
}

/// The AWS principals a trust policy names, in words (an account principal is the
/// account's principals whose IAM policies allow sts:AssumeRole).
fn trusted(t: &super::trust::TrustWays) -> String {
    t.aws
        .iter()
        .map(
            |p| match super::principal::PrincipalEntry::from_aws_value(p) {
                super::principal::PrincipalEntry::Account { account, .. } => format!(
                    "the principals of account {account} that an IAM policy allows sts:AssumeRole"
                ),
                super::principal::PrincipalEntry::Everyone => "any principal".to_string(),
                _ => p.clone(),
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the caller is this administrator: the same user, root user or session, or a
/// session of the same role (a role's name is unique in its account, whatever its path).
fn is_same_principal(caller: &str, admin: &str) -> bool {
    use super::principal::Caller;
    let (Ok(c), Ok(a)) = (Caller::parse(caller), Caller::parse(admin)) else {
        return false;
    };
    if c.account() != a.account() {
        return false;
    }
    match (&c, &a) {
        (Caller::Root { .. }, Caller::Root { .. }) => true,
        (Caller::User { arn: x, .. }, Caller::User { arn: y, .. }) => x == y,
        (
            Caller::Role {
                name: x, session, ..
            },
            Caller::Role {
                name: y,
                session: want,
                ..
            },
        ) => x == y && (want.is_none() || session == want),
        _ => false,
    }
}

fn finish(steps: &mut Steps, a: &RecoverableAdmin, creds: Credentials) -> Credentials {
    if a.needs_iam_policy {
        steps.say(format!(
            "Make sure an IAM policy of {} allows kms:PutKeyPolicy on the key",
            a.principal
        ));
    }
    creds
}

/// The step for the layer of the request chain that denies the caller: who can change it,
/// and for an SCP or RCP level the command that lists its policies.
/// For an ok key whose caller is not known to be denied by any layer: the checks of the
/// layers that were not evaluated (all of them when no layer beyond the key policy was).
fn ok_layer_steps(steps: &mut Steps, input: &PlanInput<'_>, key: &str) {
    let d = input.diagnosis;
    let as_run = Credentials::AsRun;
    let caller = d.caller.as_ref();
    let known = |kind: LayerKind| {
        caller.is_some_and(|c| {
            c.layers
                .iter()
                .any(|l| l.layer == kind && l.status != LayerStatus::NotKnown)
        })
    };
    if !known(LayerKind::Identity) {
        steps.run(
            "The key policy delegates to IAM: check what IAM decides for the caller that is denied",
            cmd(
                input,
                &[
                    "aws",
                    "iam",
                    "simulate-principal-policy",
                    "--policy-source-arn",
                    "CALLER_ROLE_OR_USER_ARN",
                    "--action-names",
                    "kms:GetKeyPolicy",
                    "kms:PutKeyPolicy",
                    "--resource-arns",
                ],
            )
            .value(
                "the key",
                "key ARN or key id",
                key,
                aws_ids::is_key_reference,
            )
            .credentials(as_run),
        );
    }
    if !known(LayerKind::Boundary) {
        steps.run(
            "Check the caller's permissions boundary, which caps what its IAM policies allow",
            cmd(
                input,
                &[
                    "aws",
                    "iam",
                    "get-role",
                    "--role-name",
                    "CALLER_ROLE_NAME",
                    "--query",
                    "Role.PermissionsBoundary",
                ],
            )
            .credentials(as_run),
        );
    }
    if !known(LayerKind::Scp) {
        match &d.key.account {
            Some(a) => steps.run(
                "Check the service control policies of the account",
                list_policies_for_target(input, a, "SERVICE_CONTROL_POLICY"),
            ),
            None => steps.say("Check the service control policies of the account"),
        }
    }
}

fn chain_step(steps: &mut Steps, input: &PlanInput<'_>, layer: LayerKind, at: Option<&str>) {
    let text = format!(
        "Denied by the {}{}: {} can change it",
        layer.title(),
        at.map(|t| format!(" attached to {t}")).unwrap_or_default(),
        layer.who_changes()
    );
    let filter = match layer {
        LayerKind::Scp => "SERVICE_CONTROL_POLICY",
        LayerKind::Rcp => "RESOURCE_CONTROL_POLICY",
        LayerKind::Identity | LayerKind::Boundary => {
            return match caller_entity(input) {
                Some((kind, name)) => steps.run(text, iam_layer_command(input, layer, kind, &name)),
                None => steps.say(text),
            };
        }
        _ => return steps.say(text),
    };
    // `account` stands for the key's account (a level given as FILE alone).
    let target = match at {
        Some("account") | None => input.diagnosis.key.account.as_deref(),
        Some(t) => Some(t),
    };
    match target {
        Some(t) => steps.run(text, list_policies_for_target(input, t, filter)),
        None => steps.say(text),
    }
}

/// What to read of the caller's IAM side: its permissions boundary (`aws iam get-role
/// --query Role.PermissionsBoundary`) or its managed policies.
fn iam_layer_command(
    input: &PlanInput<'_>,
    layer: LayerKind,
    kind: &str,
    name: &str,
) -> CommandLine {
    let c = if layer == LayerKind::Boundary {
        cmd(input, &["aws", "iam", &format!("get-{kind}")])
    } else {
        cmd(
            input,
            &["aws", "iam", &format!("list-attached-{kind}-policies")],
        )
    }
    .word(&format!("--{kind}-name"))
    .value("the caller's name", "IAM name", name, aws_ids::is_iam_name);
    let c = if layer == LayerKind::Boundary {
        let field = if kind == "role" { "Role" } else { "User" };
        c.word("--query")
            .word(&format!("{field}.PermissionsBoundary"))
    } else {
        c
    };
    c
}

/// The caller's IAM role or user, by name: `("role", name)` for a role or its session,
/// `("user", name)` for a user.
fn caller_entity(input: &PlanInput<'_>) -> Option<(&'static str, String)> {
    use crate::analysis::principal::Caller;
    match Caller::parse(&input.diagnosis.caller.as_ref()?.principal).ok()? {
        Caller::Role { name, .. } => Some(("role", name)),
        Caller::User { name, .. } => Some(("user", name)),
        _ => None,
    }
}

/// `aws organizations list-policies-for-target` for a root, OU or account id, with the
/// run's credentials and connection flags.
fn list_policies_for_target(input: &PlanInput<'_>, target: &str, filter: &str) -> CommandLine {
    cmd(
        input,
        &[
            "aws",
            "organizations",
            "list-policies-for-target",
            "--target-id",
        ],
    )
    .value(
        "the target",
        "organization root, OU or account id",
        target,
        aws_ids::is_org_target,
    )
    .word("--filter")
    .word(filter)
}

/// The rescue of the data (issue 28), when nobody can fix the policy but someone can still
/// use the key: a new key with KMS's default policy, then each ciphertext moved under it by a
/// principal of the key's account the policy still lets in (ReEncrypt, which never exposes
/// the plaintext, when it may; else Decrypt piped into Encrypt), before the deletion date
/// when there is one; for data AWS services hold, their documented way. Other accounts'
/// paths are said, not scripted: only their own credentials can use them.
fn rescue(steps: &mut Steps, input: &PlanInput<'_>) {
    let d = input.diagnosis;
    if d.data_paths.is_empty() {
        return;
    }
    let before = if d.key_status.deletion_pending() {
        format!(
            ", before the key is deleted {}",
            d.key_status.when_deleted()
        )
    } else {
        String::new()
    };
    let ours: Vec<&super::lockout::data::DataPath> = d
        .data_paths
        .iter()
        .filter(|p| !p.other_account && p.operations.contains(&"kms:Decrypt"))
        .collect();
    let theirs: Vec<&str> = d
        .data_paths
        .iter()
        .filter(|p| p.other_account)
        .map(|p| p.principal.as_str())
        .collect();
    if !theirs.is_empty() {
        steps.say(format!(
            "The key policy lets other accounts use the key ({}): only someone with credentials there can read the data back. If they are yours, have them re-encrypt it under a key of your account{before}",
            theirs.join(", ")
        ));
    }
    let Some(p) = ours
        .iter()
        .find(|p| p.operations.contains(&"kms:ReEncryptFrom"))
        .or(ours.first())
    else {
        return;
    };
    // Through a related multi-Region key: that key, in its region.
    let source = p
        .related_key
        .clone()
        .or_else(|| d.key.arn.clone())
        .unwrap_or_else(|| d.key.id.clone());
    let source_region = p
        .related_key
        .as_deref()
        .and_then(|a| aws_ids::Arn::parse(a).map(|x| x.region.to_string()));
    let mut creds = Credentials::AsRun;
    let usable = d.key_status.fact().is_none_or(|f| f.usable);
    steps.run_wrapped(
        format!(
            "Rescue the data while AWS Support works{before}{}: create a new key with KMS's default policy (the account decides through IAM); its ARN is kept in new_key for the next step",
            if usable {
                String::new()
            } else {
                " (the key must be usable again first: see the state above)".to_string()
            }
        ),
        "new_key=$(",
        cmd(input, &["aws", "kms", "create-key"])
            .in_region(source_region.as_deref())
            .word("--description")
            .word("kmsdoctor rescue")
            .word("--query")
            .word("KeyMetadata.Arn")
            .word("--output")
            .word("text"),
        ") && echo \"new key: $new_key\"",
    );
    // Then become that principal, as the plan becomes an administrator (assume the role,
    // sign in as the user or the root user): the rescue commands run as it. The new key is
    // created first, with the run's credentials (the principal may not create keys).
    if let Some(kind) = crate::analysis::principal::Caller::parse(&p.principal)
        .ok()
        .and_then(|c| AdminKind::of(&c))
    {
        let as_admin = RecoverableAdmin {
            principal: p.principal.clone(),
            kind,
            can_put_key_policy: false,
            can_get_key_policy: false,
            can_cancel_key_deletion: None,
            can_enable_key: None,
            decision: p.decision,
            statements: p.statements.clone(),
            requirements: p.requirements.clone(),
            needs_iam_policy: false,
            exists: super::lockout::Existence::Unknown,
            matched_by: super::lockout::admins::MatchedBy::Principal,
            class: None,
            trust: None,
            notes: Vec::new(),
        };
        creds = admin_steps(steps, input, &as_admin);
    }

    let needs: Vec<String> = crate::analysis::eval::Alternative::words(&p.requirements);
    let mut needs = if needs.is_empty() {
        String::new()
    } else {
        format!("; it needs {}", needs.join(", or "))
    };
    if let Some(c) = &p.constraints {
        needs.push_str(&format!(
            "; the grant works only for ciphertext made with the encryption context {c}: add it as --source-encryption-context (re-encrypt) or --encryption-context (decrypt)"
        ));
    }

    // What lets the principal in, in words.
    let by = match (&p.grant_id, &p.related_key) {
        (Some(id), _) => format!("its grant {id} still lets it call"),
        (None, Some(k)) => format!("the policy of the related multi-Region key {k} lets it call"),
        (None, None) => "the key policy still lets it call".to_string(),
    };
    // A KMS command of the rescue: in the source key's region, as the principal, with one
    // field of its answer as text.
    let kms = |op: &str, field: &str, c: fn(CommandLine) -> CommandLine| {
        c(cmd(input, &["aws", "kms", op])
            .in_region(source_region.as_deref())
            .credentials(creds))
        .word("--query")
        .word(field)
        .word("--output")
        .word("text")
    };
    let from_file = |c: CommandLine| {
        c.word("--ciphertext-blob")
            .prefixed_variable("fileb://", "ciphertext")
    };
    if p.operations.contains(&"kms:ReEncryptFrom") {
        steps.run_then(
            format!(
                "As {} ({by} kms:ReEncryptFrom{needs}; kms:ReEncryptTo on the new key comes from an IAM policy), move each ciphertext under the new key without exposing the plaintext: set ciphertext to a file holding one (a data key, or up to 4 KB encrypted directly), paste, and repeat for each; the result is base64 in ciphertext.rescued.b64",
                p.principal
            ),
            from_file(kms("re-encrypt", "CiphertextBlob", |c| c))
                .word("--source-key-id")
                .value("the key", "key ARN or key id", &source, aws_ids::is_key_reference)
                .word("--destination-key-id")
                .variable("new_key"),
            " > \"$ciphertext.rescued.b64\"",
        );
    } else {
        let encrypt = kms("encrypt", "CiphertextBlob", |c| {
            c.word("--key-id")
                .variable("new_key")
                .word("--plaintext")
                .word("file:///dev/stdin")
        })
        .render();
        match encrypt {
            Ok(enc) => steps.run_then(
                format!(
                    "As {} ({by} kms:Decrypt{needs}, not ReEncrypt; kms:Encrypt on the new key comes from an IAM policy), decrypt each ciphertext and encrypt it under the new key in one pipe, the plaintext never on disk: set ciphertext to a file holding one (a data key, or up to 4 KB encrypted directly), paste, and repeat for each; the result is base64 in ciphertext.rescued.b64",
                    p.principal
                ),
                from_file(kms("decrypt", "Plaintext", |c| c))
                    .word("--key-id")
                    .value("the key", "key ARN or key id", &source, aws_ids::is_key_reference),
                &format!(" | {enc} > \"$ciphertext.rescued.b64\""),
            ),
            Err(why) => steps.say(format!(
                "As {}, decrypt each ciphertext and encrypt it under the new key (no command printed: {why})",
                p.principal
            )),
        }
    }
    steps.say(format!(
        "Data that AWS services encrypted with the key moves by their own re-encryption, as {}: Amazon S3 objects by copying each onto itself with the new key (S3 User Guide, \"Specifying server-side encryption with AWS KMS (SSE-KMS)\", CopyObject with x-amz-server-side-encryption-aws-kms-key-id); EBS volumes by copying a snapshot with the new key (EBS User Guide, \"Copy an Amazon EBS snapshot\", KmsKeyId); RDS by copying a snapshot with the new key and restoring it (RDS User Guide, \"Copying a DB snapshot\", KmsKeyId). Each needs kms:Decrypt on the old key{}",
        p.principal,
        if before.is_empty() {
            String::new()
        } else {
            format!(": do it {}", before.trim_start_matches(", "))
        }
    ));
}
