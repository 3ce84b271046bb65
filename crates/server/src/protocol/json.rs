//! AWS JSON 1.1: `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a
//! JSON body (`application/x-amz-json-1.1`); a reply is the output shape's
//! JSON, an error `{"__type": code, "message": …}` with the code also in
//! `x-amzn-ErrorType` (botocore's `JSONParser` reads `__type`).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_sigv4::AuthError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use std::borrow::Cow;

use crate::error::{ApiError, EdgeError, WireError};
use crate::protocol::Named;
use crate::protocol::Reply;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A JSON 1.1 service: its `X-Amz-Target` prefix, dot included
/// (`TrentService.`).
pub(crate) struct Json {
    pub target_prefix: &'static str,
}

impl Json {
    pub fn recognises(&self, parts: &Parts) -> bool {
        target(parts).starts_with(self.target_prefix)
    }

    /// The operation `X-Amz-Target` names: the part after this service's
    /// prefix; or, without the prefix, none of this service's, named by the
    /// whole header (empty without one).
    pub fn operation<'p>(&self, parts: &'p Parts) -> Named<'p> {
        let target = target(parts);
        match target.strip_prefix(self.target_prefix) {
            Some(operation) => Named {
                name: Cow::Borrowed(operation),
                in_namespace: true,
            },
            None => Named {
                name: Cow::Borrowed(target),
                in_namespace: false,
            },
        }
    }
}

fn target(parts: &Parts) -> &str {
    parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// Decodes an operation's input shape. An empty body is the empty input; a
/// body that is no JSON object, or does not match the shape, is a
/// `SerializationException`, as AWS answers.
pub(crate) fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let text = body.iter().position(|b| !b.is_ascii_whitespace());
    match text {
        None => Ok(T::default()),
        Some(i) if body.get(i) == Some(&b'{') => serde_json::from_slice(body).map_err(|e| {
            ApiError::Serialization(match e.classify() {
                serde_json::error::Category::Data => {
                    format!("The request body does not match the operation's input shape: {e}")
                }
                _ => format!("The request body is not valid JSON: {e}"),
            })
        }),
        Some(_) => Err(ApiError::Serialization(
            "The request body must be a JSON object.".into(),
        )),
    }
}

/// Encodes an operation's output shape.
pub(crate) fn encode(value: &impl Serialize) -> Result<Option<Vec<u8>>, ApiError> {
    serde_json::to_vec(value)
        .map(Some)
        .map_err(|e| ApiError::Internal(format!("response encoding failed: {e}")))
}

pub(crate) fn reply(reply: Reply) -> Response {
    let body = reply.body.map_or_else(Body::empty, Body::from);
    let mut response = (reply.status, body).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    response
}

pub(crate) fn error(error: &WireError) -> Response {
    let body = match &error.message {
        Some(m) => serde_json::json!({ "__type": error.code, "message": m }),
        None => serde_json::json!({ "__type": error.code }),
    };
    let mut response = (error.status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error.code));
    response
}

/// The pipeline's errors as the JSON services word them (KMS's
/// "Common Errors"; 400 for every client error, kms-api.md §1.3).
pub(crate) fn edge_error(error: &EdgeError) -> WireError {
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    let (code, status, message) = match error {
        EdgeError::Auth(e) => {
            let message = e.to_string();
            match e {
                AuthError::Missing => ("MissingAuthenticationTokenException", BAD, message),
                AuthError::Incomplete(_) => ("IncompleteSignatureException", BAD, message),
                AuthError::UnknownAccessKey => ("UnrecognizedClientException", BAD, message),
                AuthError::Expired(_) | AuthError::BadScope(_) | AuthError::Mismatch => {
                    ("InvalidSignatureException", BAD, message)
                }
            }
        }
        EdgeError::ExpiredToken => (
            "ExpiredTokenException",
            BAD,
            "The security token included in the request is expired".into(),
        ),
        EdgeError::BodyTooLarge(limit) => (
            "RequestEntityTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body exceeds {limit} bytes."),
        ),
        EdgeError::BodyTimeout => (
            "RequestTimeoutException",
            StatusCode::REQUEST_TIMEOUT,
            "The request body was not received in time.".into(),
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

    /// Every pipeline error against the code and status AWS KMS sends.
    #[test]
    fn the_edge_error_table() {
        let cases: Vec<(EdgeError, &str, u16)> = vec![
            (
                EdgeError::Auth(AuthError::Missing),
                "MissingAuthenticationTokenException",
                400,
            ),
            (
                EdgeError::Auth(AuthError::Incomplete("x".into())),
                "IncompleteSignatureException",
                400,
            ),
            (
                EdgeError::Auth(AuthError::UnknownAccessKey),
                "UnrecognizedClientException",
                400,
            ),
            (
                EdgeError::Auth(AuthError::Mismatch),
                "InvalidSignatureException",
                400,
            ),
            (
                EdgeError::Auth(AuthError::Expired("x".into())),
                "InvalidSignatureException",
                400,
            ),
            (
                EdgeError::Auth(AuthError::BadScope("x".into())),
                "InvalidSignatureException",
                400,
            ),
            (EdgeError::ExpiredToken, "ExpiredTokenException", 400),
            (
                EdgeError::BodyTooLarge(1024),
                "RequestEntityTooLargeException",
                413,
            ),
            (EdgeError::BodyTimeout, "RequestTimeoutException", 408),
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

    #[test]
    fn operations_are_read_from_the_target() {
        let kms = Json {
            target_prefix: "TrentService.",
        };
        let parts = |target: Option<&str>| {
            let mut request = axum::http::Request::builder().method("POST").uri("/");
            if let Some(target) = target {
                request = request.header("x-amz-target", target);
            }
            request.body(()).unwrap().into_parts().0
        };
        // target, name, in the service's namespace
        let cases = [
            (Some("TrentService.Encrypt"), "Encrypt", true),
            (Some("TrentService."), "", true),
            (Some("Other.Encrypt"), "Other.Encrypt", false),
            (Some("Encrypt"), "Encrypt", false),
            (None, "", false),
        ];
        for (target, name, in_namespace) in cases {
            let parts = parts(target);
            let named = kms.operation(&parts);
            assert_eq!(named.name, name, "{target:?}");
            assert_eq!(named.in_namespace, in_namespace, "{target:?}");
            assert_eq!(kms.recognises(&parts), in_namespace, "{target:?}");
        }
    }
}
