//! A request to decide: who asks, for what action, on what resource, and the context keys
//! that follow from the request itself (derived once, when the request is built).

use crate::analysis::aws_ids::Arn;
use crate::analysis::context::Context;
use crate::analysis::kms::{self, Operation};
use crate::analysis::principal::Caller;

/// What the request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The KMS key the key policy is attached to; its ARN when known.
    Key(Option<String>),
    /// An alias ARN: aliases are governed by IAM policies only.
    Alias(String),
}

/// Why a string does not name a request's resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("`{0}` is not `*` or a KMS key or alias ARN")]
    NotArn(String),
    #[error("`{0}` is not a KMS ARN")]
    NotKms(String),
    #[error("`{0}` names neither a key (`key/ID`) nor an alias (`alias/NAME`)")]
    NeitherKeyNorAlias(String),
}

impl Resource {
    pub fn parse(s: &str) -> Result<Resource, ResourceError> {
        let s = s.trim();
        if s == "*" || s.is_empty() {
            return Ok(Resource::Key(None));
        }
        let arn = Arn::parse(s).ok_or_else(|| ResourceError::NotArn(s.to_string()))?;
        if arn.service != "kms" {
            return Err(ResourceError::NotKms(s.to_string()));
        }
        if arn.resource.starts_with("key/") && arn.resource.len() > 4 {
            Ok(Resource::Key(Some(s.to_string())))
        } else if arn.resource.starts_with("alias/") && arn.resource.len() > 6 {
            Ok(Resource::Alias(s.to_string()))
        } else {
            Err(ResourceError::NeitherKeyNorAlias(s.to_string()))
        }
    }

    /// The string matched against `Resource` patterns; `None` for a key of unknown ARN.
    pub(super) fn arn(&self) -> Option<&str> {
        match self {
            Resource::Key(a) => a.as_deref(),
            Resource::Alias(a) => Some(a),
        }
    }

    pub fn account(&self) -> Option<String> {
        self.arn()
            .and_then(Arn::parse)
            .map(|a| a.account.to_string())
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.arn().unwrap_or("*"))
    }
}

/// A request to decide. Built with [`Request::new`], which fills in the context keys that
/// follow from the request itself, once, so that evaluating it many times costs nothing more.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    /// `kms:Name`, as the catalogue spells it.
    pub action: String,
    pub resource: Resource,
    /// The account that owns the key.
    pub key_account: String,
    pub(super) operation: Option<&'static Operation>,
    pub(super) context: Context,
    pub(super) context_notes: Vec<String>,
}

impl Request {
    pub fn new(
        caller: Caller,
        action: String,
        resource: Resource,
        key_account: String,
        given: Context,
    ) -> Request {
        let operation = kms::operation(&action);
        let (context, context_notes) = derive_context(&caller, &action, operation, given);
        Request {
            caller,
            operation,
            action,
            resource,
            key_account,
            context,
            context_notes,
        }
    }

    /// The context evaluation uses: the given keys plus those derived from the request.
    pub fn context(&self) -> &Context {
        &self.context
    }
}

/// Adds the context keys that follow from the request itself, unless the caller set them.
fn derive_context(
    c: &Caller,
    action: &str,
    operation: Option<&'static Operation>,
    given: Context,
) -> (Context, Vec<String>) {
    let mut ctx = given;
    let mut notes = Vec::new();
    let account = c.account().map(str::to_string);
    ctx.derive("aws:principalarn", "aws:PrincipalArn", c.principal_arn());
    ctx.derive(
        "aws:principalaccount",
        "aws:PrincipalAccount",
        account.clone(),
    );
    ctx.derive("kms:calleraccount", "kms:CallerAccount", account);
    ctx.derive(
        "aws:principaltype",
        "aws:PrincipalType",
        (!matches!(c, Caller::Service { .. })).then(|| c.principal_type().to_string()),
    );
    ctx.derive(
        "aws:username",
        "aws:username",
        match c {
            Caller::User { name, .. } => Some(name.clone()),
            _ => None,
        },
    );
    ctx.derive(
        "aws:principalisawsservice",
        "aws:PrincipalIsAWSService",
        Some(matches!(c, Caller::Service { .. }).to_string()),
    );
    if let Caller::Service { name } = c {
        ctx.derive(
            "aws:principalservicename",
            "aws:PrincipalServiceName",
            Some(name.clone()),
        );
    }
    // The root user: its `aws:userid` is the account id; it has no principal tags and no
    // user name (IAM User Guide, "AWS global condition context keys"). A role session's user
    // id is `ROLE_UNIQUE_ID:SESSION`, not known from its ARN.
    if let Caller::Root { account, .. } = c {
        ctx.derive("aws:userid", "aws:userid", Some(account.clone()));
        ctx.set_absent_family("aws:PrincipalTag/");
    }
    if let Some(op) = operation {
        // Keys the action's request never carries (Service Authorization Reference) are
        // absent: a value given for one is ignored, and said.
        let ignored: Vec<String> = ctx
            .own()
            .filter(|(k, v)| v.is_some() && !op.carries(k))
            .map(|(k, _)| k.to_string())
            .collect();
        for k in ignored {
            notes.push(format!(
                "{k} is never present for {action} (Service Authorization Reference): the given value was ignored"
            ));
            ctx.set_absent(&k);
        }
        if !op.request_alias {
            // Shown in the context: the key an alias condition is most often written on.
            ctx.derive("kms:requestalias", "kms:RequestAlias", None);
        }
        ctx.restrict_to(op);
    }
    (ctx, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mutation run's survivors in `Resource::parse` (issue 23): a key ARN needs an id
    /// after `key/`, an alias ARN a name after `alias/`, and each is what it names.
    #[test]
    fn a_resource_is_a_key_or_an_alias_with_a_name() {
        let k = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
        let a = "arn:aws:kms:us-east-1:111122223333:alias/app";
        assert_eq!(Resource::parse(k), Ok(Resource::Key(Some(k.into()))));
        assert_eq!(Resource::parse(a), Ok(Resource::Alias(a.into())));
        assert_eq!(Resource::parse("*"), Ok(Resource::Key(None)));
        for bare in [
            "arn:aws:kms:us-east-1:111122223333:key/",
            "arn:aws:kms:us-east-1:111122223333:alias/",
        ] {
            assert!(
                matches!(
                    Resource::parse(bare),
                    Err(ResourceError::NeitherKeyNorAlias(_))
                ),
                "{bare}"
            );
        }
        assert_eq!(
            Resource::parse("arn:aws:kms:us-east-1:111122223333:key/x"),
            Ok(Resource::Key(Some(
                "arn:aws:kms:us-east-1:111122223333:key/x".into()
            )))
        );
        assert_eq!(
            Resource::parse("arn:aws:kms:us-east-1:111122223333:alias/x"),
            Ok(Resource::Alias(
                "arn:aws:kms:us-east-1:111122223333:alias/x".into()
            ))
        );
        assert!(matches!(
            Resource::parse("arn:aws:s3:::bucket"),
            Err(ResourceError::NotKms(_))
        ));
    }
}
