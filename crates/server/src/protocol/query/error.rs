//! The one place where a failed IAM or STS call becomes an AWS error (code,
//! HTTP status, message), which `mod.rs` writes in AWS's XML.
//!
//! Codes and statuses are those of the botocore models (`iam/2010-05-08`:
//! NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409,
//! LimitExceeded 409, MalformedPolicyDocument 400, ServiceFailure 500) and of
//! AWS's common errors for Query APIs (InvalidClientTokenId 403,
//! MissingAuthenticationToken 403, IncompleteSignature 400, InvalidAction
//! 400, SignatureDoesNotMatch 403, AccessDenied 403, ValidationError 400;
//! ExpiredToken 403 is what STS and IAM answer for an expired session's
//! request). As in `error.rs`, the match is exhaustive.

use axum::http::StatusCode;
use keyward_identity::IdentityError;
use keyward_sigv4::AuthError;

use super::xml::{IAM_NAMESPACE, STS_NAMESPACE};
use crate::error::{EdgeError, WireError};

/// Which Query service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryService {
    Iam,
    Sts,
}

impl QueryService {
    /// The SigV4 credential-scope service name.
    pub fn signing_name(self) -> &'static str {
        match self {
            QueryService::Iam => "iam",
            QueryService::Sts => "sts",
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            QueryService::Iam => IAM_NAMESPACE,
            QueryService::Sts => STS_NAMESPACE,
        }
    }

    /// The API version AWS reports in InvalidAction messages.
    pub fn version(self) -> &'static str {
        match self {
            QueryService::Iam => "2010-05-08",
            QueryService::Sts => "2011-06-15",
        }
    }
}

/// Everything an IAM or STS call can fail with.
#[derive(Debug)]
pub enum QueryError {
    Identity(IdentityError),
    /// No operation of that name in the service.
    InvalidAction(String),
    MissingAction,
    /// A required parameter is absent (`member` as AWS spells it).
    MissingParameter(String),
    /// A parameter of the wrong type or outside its enum, with AWS's message.
    InvalidParameter(String),
    MalformedQueryString(String),
    /// A fault of ours; logged, never sent.
    Internal(String),
}

impl From<IdentityError> for QueryError {
    fn from(e: IdentityError) -> Self {
        QueryError::Identity(e)
    }
}

impl QueryError {
    pub fn wire(&self, service: QueryService) -> WireError {
        let bad = StatusCode::BAD_REQUEST;
        let forbidden = StatusCode::FORBIDDEN;
        let internal_code = match service {
            QueryService::Iam => "ServiceFailure",
            QueryService::Sts => "InternalFailure",
        };
        let internal_message =
            "The request processing has failed because of an unknown error, exception or failure."
                .to_string();
        let (code, status, message) = match self {
            QueryError::Identity(e) => {
                let message = e.to_string();
                match e {
                    IdentityError::NoSuchEntity(_) => ("NoSuchEntity", StatusCode::NOT_FOUND, message),
                    IdentityError::EntityAlreadyExists(_) => {
                        ("EntityAlreadyExists", StatusCode::CONFLICT, message)
                    }
                    IdentityError::DeleteConflict(_) => ("DeleteConflict", StatusCode::CONFLICT, message),
                    IdentityError::LimitExceeded(_) => ("LimitExceeded", StatusCode::CONFLICT, message),
                    IdentityError::Validation(_) => ("ValidationError", bad, message),
                    IdentityError::MalformedPolicyDocument(_) => {
                        ("MalformedPolicyDocument", bad, message)
                    }
                    IdentityError::AccessDenied(_) => ("AccessDenied", forbidden, message),
                    IdentityError::Internal(_) => {
                        (internal_code, StatusCode::INTERNAL_SERVER_ERROR, internal_message)
                    }
                }
            }
            QueryError::InvalidAction(action) => (
                "InvalidAction",
                bad,
                format!(
                    "Could not find operation {action} for version {}",
                    service.version()
                ),
            ),
            QueryError::MissingAction => (
                "MissingAction",
                bad,
                "The request must contain the parameter Action.".to_string(),
            ),
            QueryError::MissingParameter(member) => (
                "ValidationError",
                bad,
                format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
            ),
            QueryError::InvalidParameter(message) => ("ValidationError", bad, message.clone()),
            QueryError::MalformedQueryString(message) => {
                ("MalformedQueryString", bad, message.clone())
            }
            QueryError::Internal(_) => (
                internal_code,
                StatusCode::INTERNAL_SERVER_ERROR,
                internal_message,
            ),
        };
        WireError {
            code,
            status,
            message: Some(message),
        }
    }

    /// The internal failure of `service` (a panic, a failed trail write).
    pub fn internal(service: QueryService) -> WireError {
        QueryError::Internal(String::new()).wire(service)
    }
}

/// The pipeline's errors as IAM and STS word them (AWS's common errors for
/// Query APIs).
pub(crate) fn edge_error(error: &EdgeError) -> WireError {
    let bad = StatusCode::BAD_REQUEST;
    let forbidden = StatusCode::FORBIDDEN;
    let (code, status, message) = match error {
        EdgeError::Auth(e) => {
            let message = e.to_string();
            match e {
                AuthError::Missing => (
                    "MissingAuthenticationToken",
                    forbidden,
                    "Request is missing Authentication Token".to_string(),
                ),
                AuthError::Incomplete(_) => ("IncompleteSignature", bad, message),
                AuthError::UnknownAccessKey => ("InvalidClientTokenId", forbidden, message),
                AuthError::Expired(_) | AuthError::BadScope(_) | AuthError::Mismatch => {
                    ("SignatureDoesNotMatch", forbidden, message)
                }
            }
        }
        EdgeError::ExpiredToken => (
            "ExpiredToken",
            forbidden,
            "The security token included in the request is expired".to_string(),
        ),
        EdgeError::BodyTooLarge(limit) => (
            "RequestEntityTooLarge",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body exceeds {limit} bytes."),
        ),
        EdgeError::BodyTimeout => (
            "RequestTimeout",
            StatusCode::REQUEST_TIMEOUT,
            "The request body was not received in time.".to_string(),
        ),
    };
    WireError {
        code,
        status,
        message: Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant against the code and status AWS sends.
    #[test]
    fn the_query_error_table() {
        let cases: Vec<(QueryError, &str, u16)> = vec![
            (
                IdentityError::NoSuchEntity("x".into()).into(),
                "NoSuchEntity",
                404,
            ),
            (
                IdentityError::EntityAlreadyExists("x".into()).into(),
                "EntityAlreadyExists",
                409,
            ),
            (
                IdentityError::DeleteConflict("x".into()).into(),
                "DeleteConflict",
                409,
            ),
            (
                IdentityError::LimitExceeded("x".into()).into(),
                "LimitExceeded",
                409,
            ),
            (
                IdentityError::Validation("x".into()).into(),
                "ValidationError",
                400,
            ),
            (
                IdentityError::MalformedPolicyDocument("x".into()).into(),
                "MalformedPolicyDocument",
                400,
            ),
            (
                IdentityError::AccessDenied("x".into()).into(),
                "AccessDenied",
                403,
            ),
            (
                IdentityError::Internal(keyward_identity::InternalError::Inconsistent(
                    "secret".into(),
                ))
                .into(),
                "ServiceFailure",
                500,
            ),
            (
                QueryError::InvalidAction("Nope".into()),
                "InvalidAction",
                400,
            ),
            (QueryError::MissingAction, "MissingAction", 400),
            (
                QueryError::MissingParameter("userName".into()),
                "ValidationError",
                400,
            ),
            (QueryError::Internal("secret".into()), "ServiceFailure", 500),
        ];
        for (error, code, status) in cases {
            let wire = error.wire(QueryService::Iam);
            assert_eq!(
                (wire.code, wire.status.as_u16()),
                (code, status),
                "{error:?}"
            );
            assert!(!wire.message.unwrap().contains("secret"), "{error:?}");
        }
        assert_eq!(
            QueryError::InvalidAction("Nope".into())
                .wire(QueryService::Sts)
                .message
                .as_deref(),
            Some("Could not find operation Nope for version 2011-06-15")
        );
        assert_eq!(
            QueryError::Internal("x".into())
                .wire(QueryService::Sts)
                .code,
            "InternalFailure"
        );
    }

    #[test]
    fn the_edge_error_table() {
        let cases: Vec<(EdgeError, &str, u16)> = vec![
            (
                EdgeError::Auth(AuthError::Missing),
                "MissingAuthenticationToken",
                403,
            ),
            (
                EdgeError::Auth(AuthError::Incomplete("x".into())),
                "IncompleteSignature",
                400,
            ),
            (
                EdgeError::Auth(AuthError::UnknownAccessKey),
                "InvalidClientTokenId",
                403,
            ),
            (
                EdgeError::Auth(AuthError::Mismatch),
                "SignatureDoesNotMatch",
                403,
            ),
            (EdgeError::ExpiredToken, "ExpiredToken", 403),
            (EdgeError::BodyTooLarge(10), "RequestEntityTooLarge", 413),
            (EdgeError::BodyTimeout, "RequestTimeout", 408),
        ];
        for (error, code, status) in cases {
            let wire = edge_error(&error);
            assert_eq!(
                (wire.code, wire.status.as_u16()),
                (code, status),
                "{error:?}"
            );
        }
    }
}
