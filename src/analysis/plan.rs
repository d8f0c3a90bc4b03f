//! The recovery plan: numbered steps, each with the exact command to run where there is one.
//! Chosen from the verdict and the recoverable admins. Every value in a command is checked
//! for what it is and quoted (`shell`); a value that fails is kept out, and the step says why.

use serde::Serialize;

use super::eval::RequirementKind;
use super::lockout::{AdminKind, Diagnosis, RecoverableAdmin, Verdict};
use super::shell::{self, CommandLine};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: usize,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// What the plan needs besides the diagnosis.
pub struct PlanInput<'a> {
    pub diagnosis: &'a Diagnosis,
    /// `--write-repaired` path when given and written.
    pub repaired_path: Option<&'a str>,
    /// The command that produced this diagnosis, as words after `kmsdoctor`, with every flag
    /// that shaped the run (evidence, region, profile, endpoint): to run it again.
    pub rerun: &'a [String],
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

/// Steps under construction: text, and a command (or why there is none).
struct Steps(Vec<(String, Option<String>)>);

impl Steps {
    fn say(&mut self, text: impl Into<String>) {
        self.0.push((text.into(), None));
    }

    fn run(&mut self, text: impl Into<String>, command: CommandLine) {
        self.run_then(text, command, "");
    }

    /// A command followed by kmsdoctor's own shell text (a redirection).
    fn run_then(&mut self, text: impl Into<String>, command: CommandLine, tail: &str) {
        let text = text.into();
        match command.render() {
            Ok(c) => self.0.push((text, Some(format!("{c}{tail}")))),
            Err(why) => self
                .0
                .push((format!("{text} (no command printed: {why})"), None)),
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
        shell::is_key_reference,
    )
}

fn region_words(c: CommandLine, d: &Diagnosis) -> CommandLine {
    match &d.key.region {
        Some(r) => c
            .word("--region")
            .value("the region", "region name", r, shell::is_region),
        None => c,
    }
}

/// `kmsdoctor` and the words of the run, each a value the user gave.
fn rerun(input: &PlanInput<'_>) -> CommandLine {
    let mut c = CommandLine::new(&["kmsdoctor"]);
    for w in input.rerun {
        c = if w.starts_with("--") && !w.contains('=') {
            c.word(w)
        } else {
            c.path("a value of the command line", w)
        };
    }
    c
}

pub fn recovery_plan(input: &PlanInput<'_>) -> Vec<Step> {
    let d = input.diagnosis;
    let key = d.key.arn.clone().unwrap_or_else(|| d.key.id.clone());
    let mut steps = Steps(Vec::new());
    match d.verdict {
        Verdict::Ok => {
            steps.run(
                "The key policy delegates to IAM: check what IAM decides for the caller that is denied",
                CommandLine::new(&[
                    "aws",
                    "iam",
                    "simulate-principal-policy",
                    "--policy-source-arn",
                    "CALLER_ROLE_OR_USER_ARN",
                    "--action-names",
                    "kms:GetKeyPolicy",
                    "kms:PutKeyPolicy",
                    "--resource-arns",
                ])
                .value("the key", "key ARN or key id", &key, shell::is_key_reference),
            );
            steps.run(
                "Check the caller's permissions boundary, which caps what its IAM policies allow",
                CommandLine::new(&[
                    "aws",
                    "iam",
                    "get-role",
                    "--role-name",
                    "CALLER_ROLE_NAME",
                    "--query",
                    "Role.PermissionsBoundary",
                ]),
            );
            match &d.key.account {
                Some(a) => steps.run(
                    "Check the service control policies of the account",
                    CommandLine::new(&[
                        "aws",
                        "organizations",
                        "list-policies-for-target",
                        "--target-id",
                    ])
                    .value("the account", "account id", a, |s| {
                        s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
                    })
                    .word("--filter")
                    .word("SERVICE_CONTROL_POLICY"),
                ),
                None => steps.say("Check the service control policies of the account"),
            }
        }
        Verdict::Recoverable => {
            if let Some(a) = best_admin(&d.recoverable_admins) {
                admin_steps(&mut steps, d, a);
            }
            let path = input.repaired_path.unwrap_or("repaired-policy.json");
            if input.repaired_path.is_none() {
                steps.run(
                    "Write the repaired policy (the last applied one with the IAM delegation put back)",
                    rerun(input)
                        .word("--write-repaired")
                        .path("the repaired policy's file", path),
                );
            }
            steps.run(
                "Review it, then apply it (without bypassing the lockout safety check)",
                region_words(
                    key_words(CommandLine::new(&["aws", "kms", "put-key-policy"]), d)
                        .word("--policy-name")
                        .word("default")
                        .word("--policy")
                        .path("the repaired policy's file", &format!("file://{path}")),
                    d,
                ),
            );
            steps.run(
                "Check that the policy reads back and that kmsdoctor now says ok",
                region_words(
                    key_words(CommandLine::new(&["aws", "kms", "get-key-policy"]), d)
                        .word("--policy-name")
                        .word("default")
                        .word("--output")
                        .word("text")
                        .word("--query")
                        .word("Policy"),
                    d,
                ),
            );
        }
        Verdict::Unrecoverable => {
            steps.say(format!(
                "No principal that can exist may change the key policy: open a case with AWS Support from account {}, naming the key {}. Only AWS can restore access",
                d.key.account.as_deref().unwrap_or("?"),
                key
            ));
            steps.say("Until then, do not delete IAM principals or aliases that the policy names: the evidence helps AWS Support");
        }
        Verdict::Unknown => {
            steps.run_then(
                "Get the current key policy, if you can read it, and run kmsdoctor with --policy-file",
                region_words(
                    key_words(CommandLine::new(&["aws", "kms", "get-key-policy"]), d)
                        .word("--policy-name")
                        .word("default"),
                    d,
                ),
                " > policy.json",
            );
            steps.run_then(
                "Get the key's policy events of the last 90 days and run kmsdoctor with --events-file",
                region_words(
                    CommandLine::new(&[
                        "aws",
                        "cloudtrail",
                        "lookup-events",
                        "--lookup-attributes",
                    ])
                    .value(
                        "the key",
                        "key ARN or key id",
                        &format!("AttributeKey=ResourceName,AttributeValue={key}"),
                        |s| {
                            s.strip_prefix("AttributeKey=ResourceName,AttributeValue=")
                                .is_some_and(shell::is_key_reference)
                        },
                    ),
                    d,
                ),
                " > events.json",
            );
            steps.say("For older events, search the trail's S3 logs with Athena (see the README) and export them as JSON Lines");
        }
    }
    steps
        .0
        .into_iter()
        .enumerate()
        .map(|(i, (text, command))| Step {
            step: i + 1,
            text,
            command,
        })
        .collect()
}

/// How the chosen administrator gets in.
fn admin_steps(steps: &mut Steps, d: &Diagnosis, a: &RecoverableAdmin) {
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
    match (a.kind, &a.class) {
        (_, Some(class)) => steps.say(format!(
            "Act as one of the {}{needs}: {}",
            class.description, class.how
        )),
        (AdminKind::Root, _) => steps.say(format!(
            "Sign in to the console as the root user of account {}{needs}, and open CloudShell",
            d.key.account.as_deref().unwrap_or("?")
        )),
        (AdminKind::Role, _) => {
            let mut c = CommandLine::new(&["aws", "sts", "assume-role", "--role-arn"])
                .value("the role", "role ARN", &a.principal, |s| {
                    shell::is_iam_principal_arn(s, "role")
                })
                .word("--role-session-name")
                .value(
                    "the session name",
                    "role session name",
                    &session,
                    shell::is_session_name,
                );
            if mfa {
                c = c
                    .word("--serial-number")
                    .word("MFA_DEVICE_ARN")
                    .word("--token-code")
                    .word("MFA_CODE");
            }
            steps.run(format!("Assume the role {}{needs}", a.principal), c);
        }
        (AdminKind::AssumedRole, _) => steps.say(format!(
            "Act as the session {} (that session name exactly){needs}",
            a.principal
        )),
        _ => steps.run(
            format!("Use the credentials of {}{needs}", a.principal),
            CommandLine::new(&["aws", "sts", "get-caller-identity"]),
        ),
    }
    if a.needs_iam_policy {
        steps.say(format!(
            "Make sure an IAM policy of {} allows kms:PutKeyPolicy on the key",
            a.principal
        ));
    }
}
