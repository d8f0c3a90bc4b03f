//! One typed error for every AWS call: which service and operation failed, what kind of
//! failure it was (classified once, here), and AWS's own words. Code that must tell an
//! AccessDenied from a missing key or a throttled call matches on [`AwsCode`], never on
//! the text.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure a call met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsCode {
    /// The caller may not (AccessDenied and its spellings), or its credentials are not
    /// accepted: for a key policy call, the lockout itself.
    AccessDenied,
    /// The thing asked about does not exist (a key, a role, a trail, a bucket).
    NotFound,
    /// AWS asked the caller to slow down.
    Throttled,
    /// No answer: the endpoint could not be reached, or did not answer in time.
    Unreachable,
    /// Anything else, with AWS's error code when it gave one.
    Other(Option<String>),
}

/// Error codes by kind, as the services spell them (KMS, IAM, STS, S3, CloudTrail,
/// Organizations, Athena API references, "Errors" sections).
const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
];
const NOT_FOUND: &[&str] = &[
    "NotFoundException",
    "NoSuchEntity",
    "NoSuchEntityException",
    "NoSuchBucket",
    "NoSuchKey",
    "TrailNotFoundException",
    "PolicyNotFoundException",
    "TargetNotFoundException",
    "AccountNotFoundException",
    "ResourceNotFoundException",
];
const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

impl AwsCode {
    /// The kind of an AWS error code.
    pub fn of(code: Option<&str>) -> AwsCode {
        match code {
            Some(c) if ACCESS_DENIED.contains(&c) => AwsCode::AccessDenied,
            Some(c) if NOT_FOUND.contains(&c) => AwsCode::NotFound,
            Some(c) if THROTTLED.contains(&c) => AwsCode::Throttled,
            other => AwsCode::Other(other.map(str::to_string)),
        }
    }

    /// Whether AWS returned this error code (for codes of one service, such as KMS's
    /// `MalformedPolicyDocumentException`).
    pub fn is(&self, code: &str) -> bool {
        matches!(self, AwsCode::Other(Some(c)) if c == code)
    }
}

/// A failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation}{} failed: {message}", subject.as_ref().map(|s| format!(" {s}")).unwrap_or_default())]
pub struct AwsError {
    /// `kms`, `iam`, `sts`...
    pub service: &'static str,
    /// `GetKeyPolicy`, `GetRole`...
    pub operation: &'static str,
    /// What the call was about, when saying so helps (a role name, a policy ARN).
    pub subject: Option<String>,
    pub code: AwsCode,
    /// The error in one line: `Code: message`, or what went wrong on the way.
    pub message: String,
}

impl AwsError {
    /// An error kmsdoctor found in an answer itself (a reply without what it must hold).
    pub fn answer(service: &'static str, operation: &'static str, message: &str) -> AwsError {
        AwsError {
            service,
            operation,
            subject: None,
            code: AwsCode::Other(None),
            message: message.to_string(),
        }
    }

    /// The same error, about `subject`.
    pub fn about(mut self, subject: impl Into<String>) -> AwsError {
        self.subject = Some(subject.into());
        self
    }

    pub fn is_access_denied(&self) -> bool {
        self.code == AwsCode::AccessDenied
    }

    pub fn is_not_found(&self) -> bool {
        self.code == AwsCode::NotFound
    }
}

/// Why a part of what kmsdoctor reads from AWS is not known: a call failed, or its answer
/// cannot be used (a document that does not decode, a listing past its bounds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Call(#[from] AwsError),
    #[error("{0}")]
    Answer(String),
}

impl From<crate::evidence::Invalid> for ReadError {
    fn from(e: crate::evidence::Invalid) -> Self {
        ReadError::Answer(e.0)
    }
}

/// The kind and one-line description of an SDK error.
pub(crate) fn classify<E>(e: &SdkError<E, HttpResponse>) -> (AwsCode, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code();
            let msg = match (code, err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                // No error code: a proxy's or an emulator's page rather than an AWS error.
                (None, _) => reply(se.raw(), ", not an AWS error (no error code)"),
            };
            (AwsCode::of(code), msg)
        }
        SdkError::DispatchFailure(d) => (
            AwsCode::Unreachable,
            format!(
                "cannot reach AWS: {}",
                match d.as_connector_error() {
                    Some(c) => super::reasons(c),
                    None => super::reasons(e),
                }
            ),
        ),
        SdkError::TimeoutError(_) => (AwsCode::Unreachable, "the request timed out".into()),
        // A reply that is not the service's (an HTML page from a proxy, a captive portal):
        // its status, type and first bytes, escaped, never the SDK's debug output.
        SdkError::ResponseError(r) => (
            AwsCode::Other(None),
            format!("unreadable reply from AWS: {}", reply(r.raw(), "")),
        ),
        SdkError::ConstructionFailure(_) => (
            AwsCode::Other(None),
            format!("request not sent: {}", super::reasons(e)),
        ),
        other => (
            AwsCode::of(other.code()),
            super::first_line(&other.to_string()),
        ),
    }
}

/// A reply in one line: `HTTP 502 (text/html): "<html><head><title>Bad Gateway..."`, its
/// first bytes escaped (a reply may be anything).
fn reply(r: &HttpResponse, note: &str) -> String {
    const SHOWN: usize = 60;
    let kind = r
        .headers()
        .get("content-type")
        .map(|t| format!(" ({})", crate::analysis::escape::visible(t)))
        .unwrap_or_default();
    let body = r.body().bytes().unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(SHOWN)]);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = if text.is_empty() {
        String::new()
    } else {
        format!(
            ": \"{}{}\"",
            crate::analysis::escape::visible(&text),
            if body.len() > SHOWN { "..." } else { "" }
        )
    };
    format!("HTTP {}{kind}{note}{first}", r.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_that_is_not_aws_is_one_escaped_line() {
        let r = HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(502).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<html>\n<head><title>502 Bad Gateway</title>\x1b[2J</head><body>a long body that goes on and on</body></html>",
            ),
        );
        let mut r = r;
        r.headers_mut().insert("content-type", "text/html");
        let line = reply(&r, ", not an AWS error");
        assert!(
            line.starts_with(
                "HTTP 502 (text/html), not an AWS error: \"<html> <head><title>502 Bad Gateway"
            ),
            "{line}"
        );
        assert!(line.ends_with("...\""), "{line}");
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line}");
    }

    #[test]
    fn codes_are_classified_once() {
        assert_eq!(
            AwsCode::of(Some("AccessDeniedException")),
            AwsCode::AccessDenied
        );
        assert_eq!(AwsCode::of(Some("AccessDenied")), AwsCode::AccessDenied);
        assert_eq!(AwsCode::of(Some("NoSuchEntity")), AwsCode::NotFound);
        assert_eq!(AwsCode::of(Some("NotFoundException")), AwsCode::NotFound);
        assert_eq!(AwsCode::of(Some("ThrottlingException")), AwsCode::Throttled);
        let malformed = AwsCode::of(Some("MalformedPolicyDocumentException"));
        assert!(malformed.is("MalformedPolicyDocumentException"));
        assert_eq!(AwsCode::of(None), AwsCode::Other(None));
        // A code that merely contains the words is not the code.
        assert!(!matches!(
            AwsCode::of(Some("NotAccessDeniedButSimilar")),
            AwsCode::AccessDenied
        ));
    }

    #[test]
    fn an_error_names_what_failed() {
        let e = AwsError {
            service: "iam",
            operation: "GetRole",
            subject: None,
            code: AwsCode::NotFound,
            message: "NoSuchEntity: no role".into(),
        }
        .about("Admin");
        assert_eq!(
            e.to_string(),
            "iam GetRole Admin failed: NoSuchEntity: no role"
        );
        assert!(e.is_not_found() && !e.is_access_denied());
    }
}
