//! Errors on the wire. [`WireError`] is an error as every protocol writes
//! it (code, status, message); each service maps its own errors to it in one
//! exhaustive `match` (a new domain error does not compile until it is
//! mapped), and the protocols render it (`protocol/`).
//!
//! Here: the pipeline's own errors ([`EdgeError`], worded per protocol in
//! `protocol/`), and the errors of the JSON services, KMS and CloudTrail
//! ([`ApiError`]). AWS sends 400 for every client error of KMS, including the
//! ones its model marks 404/409/412 (observed; see
//! shared/reference/kms-api.md §1.3), 500 for internal faults and 503 for
//! dependency timeouts, and SDK retry logic keys off those.

use axum::http::StatusCode;
use keyward_kms::KmsError;
use keyward_sigv4::AuthError;

/// An error as a protocol writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: &'static str,
    pub status: StatusCode,
    /// `None` when AWS sends no message at all.
    pub message: Option<String>,
}

/// A failure of the request before its service saw it.
#[derive(Debug)]
pub enum EdgeError {
    Auth(AuthError),
    /// The request's session token has expired (STS credentials).
    ExpiredToken,
    BodyTooLarge(usize),
    /// The client did not send its body in time.
    BodyTimeout,
}

/// Everything a call to a JSON service (KMS, CloudTrail) can fail with.
#[derive(Debug)]
pub enum ApiError {
    Kms(KmsError),
    /// The body is not the JSON the operation expects.
    Serialization(String),
    /// `X-Amz-Target` names no operation of the service.
    UnknownOperation(String),
    /// An operation of the AWS KMS model that keyward does not implement.
    NotImplemented(String),
    /// A fault of ours (a blocking task that died); logged, never sent.
    Internal(String),
    /// A client error of another JSON service keyward serves (CloudTrail's
    /// `InvalidLookupAttributesException`, `AccessDeniedException` …): the
    /// code is the service's own, the status 400.
    Service {
        code: &'static str,
        message: String,
    },
}

impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        ApiError::Kms(e)
    }
}

const BAD: StatusCode = StatusCode::BAD_REQUEST;

impl ApiError {
    pub fn wire(&self) -> WireError {
        let (code, status, message): (&'static str, StatusCode, Option<String>) = match self {
            ApiError::Kms(e) => {
                let message = Some(e.to_string());
                match e {
                    KmsError::NotFound(_) => ("NotFoundException", BAD, message),
                    KmsError::KeyDisabled { .. } => ("DisabledException", BAD, message),
                    KmsError::InvalidState(_) | KmsError::KeyPendingDeletion { .. } => {
                        ("KMSInvalidStateException", BAD, message)
                    }
                    KmsError::InvalidCiphertext(_) => ("InvalidCiphertextException", BAD, None),
                    KmsError::IncorrectKey => ("IncorrectKeyException", BAD, message),
                    KmsError::Validation(_) | KmsError::ValidationMessage(_) => {
                        ("ValidationException", BAD, message)
                    }
                    KmsError::AlreadyExists(_) => ("AlreadyExistsException", BAD, message),
                    KmsError::InvalidAliasName(_) => ("InvalidAliasNameException", BAD, message),
                    KmsError::Tag(_) => ("TagException", BAD, message),
                    KmsError::LimitExceeded(_) => ("LimitExceededException", BAD, message),
                    KmsError::MalformedPolicyDocument(_) => {
                        ("MalformedPolicyDocumentException", BAD, message)
                    }
                    KmsError::UnsupportedOperation(_) => {
                        ("UnsupportedOperationException", BAD, message)
                    }
                    KmsError::InvalidKeyUsage(_) => ("InvalidKeyUsageException", BAD, message),
                    KmsError::NotAuthorized(_) => ("NotAuthorizedException", BAD, message),
                    KmsError::InvalidMarker => ("InvalidMarkerException", BAD, message),
                    KmsError::InvalidGrantToken(_) => ("InvalidGrantTokenException", BAD, message),
                    KmsError::AccessDenied(_) => ("AccessDeniedException", BAD, message),
                    KmsError::InvalidGrantId(_) => ("InvalidGrantIdException", BAD, message),
                    KmsError::InvalidArn(_) => ("InvalidArnException", BAD, message),
                    KmsError::DryRun => ("DryRunOperationException", BAD, message),
                    KmsError::Internal(_) => (
                        "KMSInternalException",
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Some("The request could not be completed due to an internal error.".into()),
                    ),
                }
            }
            ApiError::Serialization(m) => ("SerializationException", BAD, Some(m.clone())),
            ApiError::UnknownOperation(m) => ("UnknownOperationException", BAD, Some(m.clone())),
            ApiError::NotImplemented(op) => (
                "UnsupportedOperationException",
                BAD,
                Some(format!("{op} is not supported by keyward.")),
            ),
            ApiError::Service { code, message } => (code, BAD, Some(message.clone())),
            ApiError::Internal(_) => (
                "KMSInternalException",
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("The request could not be completed due to an internal error.".into()),
            ),
        };
        WireError {
            code,
            status,
            message,
        }
    }

    /// Whether the server, not the client, is at fault (logged at error level).
    pub fn is_server_fault(&self) -> bool {
        self.wire().status.is_server_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_kms::{CiphertextProblem, InternalError};

    /// The variant a row stands for. The matches are exhaustive, so a new
    /// variant does not compile until it is named here, and
    /// `the_error_table` then fails until it has a row. (The pipeline's
    /// errors have their table in `protocol/json.rs`.)
    fn variant(error: &ApiError) -> &'static str {
        match error {
            ApiError::Kms(e) => match e {
                KmsError::NotFound(_) => "NotFound",
                KmsError::KeyDisabled { .. } => "KeyDisabled",
                KmsError::KeyPendingDeletion { .. } => "KeyPendingDeletion",
                KmsError::InvalidState(_) => "InvalidState",
                KmsError::InvalidCiphertext(_) => "InvalidCiphertext",
                KmsError::IncorrectKey => "IncorrectKey",
                KmsError::Validation(_) => "Validation",
                KmsError::ValidationMessage(_) => "ValidationMessage",
                KmsError::AlreadyExists(_) => "AlreadyExists",
                KmsError::InvalidAliasName(_) => "InvalidAliasName",
                KmsError::Tag(_) => "Tag",
                KmsError::LimitExceeded(_) => "LimitExceeded",
                KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
                KmsError::UnsupportedOperation(_) => "UnsupportedOperation",
                KmsError::InvalidKeyUsage(_) => "InvalidKeyUsage",
                KmsError::NotAuthorized(_) => "NotAuthorized",
                KmsError::AccessDenied(_) => "AccessDenied",
                KmsError::InvalidGrantId(_) => "InvalidGrantId",
                KmsError::InvalidArn(_) => "InvalidArn",
                KmsError::InvalidMarker => "InvalidMarker",
                KmsError::InvalidGrantToken(_) => "InvalidGrantToken",
                KmsError::DryRun => "DryRun",
                KmsError::Internal(_) => "Internal",
            },
            ApiError::Serialization(_) => "Serialization",
            ApiError::UnknownOperation(_) => "UnknownOperation",
            ApiError::NotImplemented(_) => "NotImplemented",
            ApiError::Internal(_) => "ApiInternal",
            ApiError::Service { .. } => "Service",
        }
    }

    /// How many names `variant` has: one per arm.
    const VARIANTS: usize = 28;

    /// Every variant against the code and status AWS sends (reference/kms-api.md §3, §1.3).
    #[test]
    fn the_error_table() {
        let mut violations = keyward_kms::validate::Violations::new();
        violations.required::<String>("keyId", &None);
        let cases: Vec<(ApiError, &str, u16)> = vec![
            (
                KmsError::NotFound("x".into()).into(),
                "NotFoundException",
                400,
            ),
            (
                KmsError::KeyDisabled {
                    key_arn: "x".into(),
                }
                .into(),
                "DisabledException",
                400,
            ),
            (
                KmsError::KeyPendingDeletion {
                    key_arn: "x".into(),
                }
                .into(),
                "KMSInvalidStateException",
                400,
            ),
            (
                KmsError::InvalidState("x".into()).into(),
                "KMSInvalidStateException",
                400,
            ),
            (
                KmsError::InvalidCiphertext(CiphertextProblem::Malformed).into(),
                "InvalidCiphertextException",
                400,
            ),
            (KmsError::IncorrectKey.into(), "IncorrectKeyException", 400),
            (
                KmsError::Validation(violations).into(),
                "ValidationException",
                400,
            ),
            (
                KmsError::ValidationMessage("x".into()).into(),
                "ValidationException",
                400,
            ),
            (
                KmsError::AlreadyExists("x".into()).into(),
                "AlreadyExistsException",
                400,
            ),
            (
                KmsError::InvalidAliasName("x".into()).into(),
                "InvalidAliasNameException",
                400,
            ),
            (KmsError::Tag("x".into()).into(), "TagException", 400),
            (
                KmsError::LimitExceeded("x".into()).into(),
                "LimitExceededException",
                400,
            ),
            (
                KmsError::MalformedPolicyDocument("x".into()).into(),
                "MalformedPolicyDocumentException",
                400,
            ),
            (
                KmsError::UnsupportedOperation("x".into()).into(),
                "UnsupportedOperationException",
                400,
            ),
            (
                KmsError::InvalidKeyUsage("x".into()).into(),
                "InvalidKeyUsageException",
                400,
            ),
            (
                KmsError::NotAuthorized("x".into()).into(),
                "NotAuthorizedException",
                400,
            ),
            (
                KmsError::AccessDenied("x".into()).into(),
                "AccessDeniedException",
                400,
            ),
            (
                KmsError::InvalidGrantId("x".into()).into(),
                "InvalidGrantIdException",
                400,
            ),
            (
                KmsError::InvalidArn("x".into()).into(),
                "InvalidArnException",
                400,
            ),
            (
                KmsError::InvalidMarker.into(),
                "InvalidMarkerException",
                400,
            ),
            (
                KmsError::InvalidGrantToken("x".into()).into(),
                "InvalidGrantTokenException",
                400,
            ),
            (KmsError::DryRun.into(), "DryRunOperationException", 400),
            (
                KmsError::Internal(InternalError::Inconsistent("secret detail".into())).into(),
                "KMSInternalException",
                500,
            ),
            (
                ApiError::Serialization("x".into()),
                "SerializationException",
                400,
            ),
            (
                ApiError::UnknownOperation("x".into()),
                "UnknownOperationException",
                400,
            ),
            (
                ApiError::NotImplemented("Sign".into()),
                "UnsupportedOperationException",
                400,
            ),
            (
                ApiError::Internal("secret detail".into()),
                "KMSInternalException",
                500,
            ),
            (
                ApiError::Service {
                    code: "InvalidLookupAttributesException",
                    message: "x".into(),
                },
                "InvalidLookupAttributesException",
                400,
            ),
        ];
        let covered: std::collections::BTreeSet<&str> =
            cases.iter().map(|(error, _, _)| variant(error)).collect();
        assert_eq!(covered.len(), VARIANTS, "a variant has no row: {covered:?}");
        for (error, code, status) in cases {
            let wire = error.wire();
            assert_eq!(
                (wire.code, wire.status.as_u16()),
                (code, status),
                "{error:?}"
            );
        }
    }

    #[test]
    fn invalid_ciphertext_has_no_message_and_internal_errors_hide_details() {
        assert_eq!(
            ApiError::Kms(KmsError::InvalidCiphertext(
                CiphertextProblem::AuthenticationFailed
            ))
            .wire()
            .message,
            None
        );
        let internal = ApiError::Kms(KmsError::Internal(InternalError::Inconsistent(
            "secret detail".into(),
        )))
        .wire();
        assert!(!internal.message.unwrap_or_default().contains("secret"));
        assert_eq!(
            ApiError::Kms(KmsError::DryRun).wire().message.as_deref(),
            Some("The request would have succeeded, but the DryRun option is set.")
        );
    }
}
