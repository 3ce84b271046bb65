//! The one place where a failed Query request (IAM, STS) becomes an AWS
//! error: code, HTTP status and message, in AWS's XML:
//! `<ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code>
//! <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.
//!
//! Codes and statuses are those of the botocore models (`iam/2010-05-08`:
//! NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409,
//! LimitExceeded 409, MalformedPolicyDocument 400, ServiceFailure 500) and of
//! AWS's common errors for Query APIs (InvalidClientTokenId 403,
//! MissingAuthenticationToken 403, IncompleteSignature 400, InvalidAction
//! 400, SignatureDoesNotMatch 403, AccessDenied 403, ValidationError 400;
//! ExpiredToken 403 is what STS and IAM answer for an expired session's
//! request). As in `error.rs`, the match is exhaustive.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_identity::IdentityError;
use keyward_sigv4::AuthError;

use super::xml::{escape, IAM_NAMESPACE, STS_NAMESPACE};

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

/// Everything a Query request can fail with.
#[derive(Debug)]
pub enum QueryError {
    Identity(IdentityError),
    Auth(AuthError),
    /// The session token's expiry has passed.
    ExpiredToken,
    /// No operation of that name in the service.
    InvalidAction(String),
    MissingAction,
    /// A required parameter is absent (`member` as AWS spells it).
    MissingParameter(String),
    /// A parameter of the wrong type or outside its enum, with AWS's message.
    InvalidParameter(String),
    MalformedQueryString(String),
    BodyTooLarge(usize),
    BodyTimeout,
    /// A fault of ours; logged, never sent.
    Internal(String),
}

impl From<IdentityError> for QueryError {
    fn from(e: IdentityError) -> Self {
        QueryError::Identity(e)
    }
}

/// The wire form of a Query error.
#[derive(Debug, PartialEq, Eq)]
pub struct QueryWireError {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl QueryError {
    pub fn wire(&self, service: QueryService) -> QueryWireError {
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
            QueryError::Auth(e) => {
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
            QueryError::ExpiredToken => (
                "ExpiredToken",
                forbidden,
                "The security token included in the request is expired".to_string(),
            ),
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
            QueryError::BodyTooLarge(limit) => (
                "RequestEntityTooLarge",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body exceeds {limit} bytes."),
            ),
            QueryError::BodyTimeout => (
                "RequestTimeout",
                StatusCode::REQUEST_TIMEOUT,
                "The request body was not received in time.".to_string(),
            ),
            QueryError::Internal(_) => (
                internal_code,
                StatusCode::INTERNAL_SERVER_ERROR,
                internal_message,
            ),
        };
        QueryWireError {
            code,
            status,
            message,
        }
    }

    /// The XML error response.
    pub fn into_response(self, service: QueryService, request_id: &str) -> Response {
        let wire = self.wire(service);
        let kind = if wire.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            service.namespace(),
            wire.code,
            escape(&wire.message),
            escape(request_id)
        );
        let mut response = (wire.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        response
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
                QueryError::Auth(AuthError::Missing),
                "MissingAuthenticationToken",
                403,
            ),
            (
                QueryError::Auth(AuthError::Incomplete("x".into())),
                "IncompleteSignature",
                400,
            ),
            (
                QueryError::Auth(AuthError::UnknownAccessKey),
                "InvalidClientTokenId",
                403,
            ),
            (
                QueryError::Auth(AuthError::Mismatch),
                "SignatureDoesNotMatch",
                403,
            ),
            (QueryError::ExpiredToken, "ExpiredToken", 403),
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
            assert!(!wire.message.contains("secret"), "{error:?}");
        }
        assert_eq!(
            QueryError::InvalidAction("Nope".into())
                .wire(QueryService::Sts)
                .message,
            "Could not find operation Nope for version 2011-06-15"
        );
        assert_eq!(
            QueryError::Internal("x".into())
                .wire(QueryService::Sts)
                .code,
            "InternalFailure"
        );
    }
}
