//! STS: who is asking.

use super::{Clients, LiveError};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

pub async fn caller_identity(c: &Clients) -> Result<CallerIdentity, LiveError> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| LiveError::from(c.error("sts", "GetCallerIdentity", &e)))?;
    Ok(CallerIdentity {
        arn: out.arn().unwrap_or_default().to_string(),
        account: out.account().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}
