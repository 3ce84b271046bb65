//! The AWS Query protocol (IAM, STS) at the same endpoint as KMS.
//!
//! AWS routes on the request, not the path: a request whose SigV4 credential
//! scope names `iam` or `sts`, or an unsigned form-encoded request without
//! `X-Amz-Target`, is a Query request (`Action=…&Version=…`, POST body or GET
//! query string). It is authenticated like any other, dispatched to
//! `iam_api` or `sts_api` (`run`), and answered in XML (`respond`) — errors included, so
//! `aws iam …`/`aws sts …` and boto3 work unchanged with `--endpoint-url`.

pub mod error;
pub mod form;
pub mod xml;

use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_principal::Caller;
use keyward_sigv4::RequestParts;

pub use error::{QueryError, QueryService};
pub use form::QueryRequest;

use crate::auth::AuthFailure;
use crate::{AppState, MAX_BODY_BYTES};

/// The credential-scope service of a signed request, if it parses.
fn scope_service(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let credential = value.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// Whether `parts` is a Query request (see the module comment).
pub fn is_query_request(parts: &Parts) -> bool {
    if parts.headers.contains_key("x-amz-target") {
        return false;
    }
    match scope_service(parts).as_deref() {
        Some("iam") | Some("sts") => true,
        Some(_) => false,
        None => {
            let form = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let get_action = parts.method == axum::http::Method::GET
                && parts
                    .uri
                    .query()
                    .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")));
            form || get_action
        }
    }
}

/// The service a Query request is for: its signing scope, else (unsigned)
/// the STS actions by name, else IAM.
fn service_of(parts: &Parts, action: Option<&str>) -> QueryService {
    match scope_service(parts).as_deref() {
        Some("sts") => QueryService::Sts,
        Some("iam") => QueryService::Iam,
        _ => match action {
            Some("AssumeRole") | Some("GetCallerIdentity") => QueryService::Sts,
            _ => QueryService::Iam,
        },
    }
}

/// Reads a Query request's body within the body timeout and size limit.
pub async fn read_body(state: &AppState, body: Body) -> Result<axum::body::Bytes, QueryError> {
    match tokio::time::timeout(
        state.body_read_timeout,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(QueryError::BodyTooLarge(MAX_BODY_BYTES)),
        Err(_) => Err(QueryError::BodyTimeout),
    }
}

/// One Query request run to its result, with what its audit event needs.
pub struct QueryCall {
    pub service: QueryService,
    /// `None` when the request did not authenticate (no event is recorded).
    /// Established before the action runs: the action may deactivate or
    /// delete the very access key it was signed with.
    pub caller: Option<Caller>,
    /// `None` when the form did not parse.
    pub request: Option<QueryRequest>,
    /// The XML reply, or the error to answer.
    pub result: Result<String, QueryError>,
}

/// Parses, authenticates (once) and dispatches a Query request whose body
/// has been read.
pub async fn run(state: &Arc<AppState>, parts: &Parts, body: &[u8], request_id: &str) -> QueryCall {
    let body_text = std::str::from_utf8(body).unwrap_or_default();
    let query = parts.uri.query().unwrap_or_default();
    let parsed = QueryRequest::parse(&[query, body_text]);
    let service = service_of(parts, parsed.as_ref().ok().map(|r| r.action.as_str()));
    let caller = match authenticate(state, parts, body, service) {
        Ok(caller) => caller,
        Err(error) => {
            return QueryCall {
                service,
                caller: None,
                request: parsed.ok(),
                result: Err(error),
            }
        }
    };
    let request = match parsed {
        Ok(request) => request,
        Err(error) => {
            return QueryCall {
                service,
                caller: Some(caller),
                request: None,
                result: Err(error),
            }
        }
    };
    let result = dispatch(state, caller.clone(), request.clone(), service, request_id).await;
    QueryCall {
        service,
        caller: Some(caller),
        request: Some(request),
        result,
    }
}

/// The HTTP answer to a Query request: the XML reply, or the error in XML.
pub fn respond(
    service: QueryService,
    result: Result<String, QueryError>,
    request_id: &str,
) -> Response {
    let mut response = match result {
        Ok(xml) => {
            let mut response = (StatusCode::OK, xml).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
            response
        }
        Err(error) => {
            let wire = error.wire(service);
            if wire.status.is_server_error() {
                tracing::error!(request_id, code = wire.code, error = ?error, "query request failed");
            } else {
                tracing::debug!(request_id, code = wire.code, "query request rejected");
            }
            error.into_response(service, request_id)
        }
    };
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

async fn dispatch(
    state: &Arc<AppState>,
    caller: Caller,
    request: QueryRequest,
    service: QueryService,
    request_id: &str,
) -> Result<String, QueryError> {
    let state = Arc::clone(state);
    let request_id = request_id.to_string();
    // Every IAM change is a durable store write (fsync): off the async workers.
    tokio::task::spawn_blocking(move || match service {
        QueryService::Iam => crate::iam_api::dispatch(&state.auth, &caller, &request, &request_id),
        QueryService::Sts => crate::sts_api::dispatch(&state.auth, &caller, &request, &request_id),
    })
    .await
    .map_err(|e| QueryError::Internal(format!("operation task failed: {e}")))?
}

/// Verifies the request's signature for `service` and completes the caller
/// with what the transport says (`aws:SourceIp`, `aws:SecureTransport`).
fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    service: QueryService,
) -> Result<Caller, QueryError> {
    let headers = crate::auth::request_headers(parts);
    let signed = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &headers,
        body,
    };
    let caller = state
        .auth
        .authenticate(
            &signed,
            &[service.signing_name()],
            crate::now_epoch_seconds(),
        )
        .map_err(|failure| match failure {
            AuthFailure::Signature(e) => QueryError::Auth(e),
            AuthFailure::ExpiredToken => QueryError::ExpiredToken,
        })?;
    Ok(crate::auth::with_transport(state.tls, parts, caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn signed_for(service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
    }

    /// Which requests the Query protocol takes, and for which service.
    #[test]
    fn routing() {
        let iam = signed_for("iam");
        let sts = signed_for("sts");
        let kms = signed_for("kms");
        let form = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        let cases: Vec<(Parts, bool, QueryService)> = vec![
            (
                parts("POST", "/", &[("authorization", &iam), form]),
                true,
                QueryService::Iam,
            ),
            (
                parts("POST", "/", &[("authorization", &sts)]),
                true,
                QueryService::Sts,
            ),
            (
                parts("GET", "/?Action=ListUsers", &[("authorization", &iam)]),
                true,
                QueryService::Iam,
            ),
            // KMS requests stay KMS requests, whatever their body type.
            (
                parts("POST", "/", &[("authorization", &kms), form]),
                false,
                QueryService::Iam,
            ),
            (
                parts(
                    "POST",
                    "/",
                    &[
                        ("authorization", &iam),
                        ("x-amz-target", "TrentService.ListKeys"),
                    ],
                ),
                false,
                QueryService::Iam,
            ),
            // Unsigned: by content type or a GET with an Action.
            (parts("POST", "/", &[form]), true, QueryService::Iam),
            (
                parts("GET", "/?Action=GetCallerIdentity", &[]),
                true,
                QueryService::Iam,
            ),
            (
                parts(
                    "POST",
                    "/",
                    &[("content-type", "application/x-amz-json-1.1")],
                ),
                false,
                QueryService::Iam,
            ),
            (parts("GET", "/", &[]), false, QueryService::Iam),
        ];
        for (request, is_query, service) in cases {
            assert_eq!(is_query_request(&request), is_query, "{request:?}");
            if is_query && scope_service(&request).is_some() {
                assert_eq!(service_of(&request, None), service, "{request:?}");
            }
        }
        let unsigned = parts("POST", "/", &[form]);
        assert_eq!(service_of(&unsigned, Some("AssumeRole")), QueryService::Sts);
        assert_eq!(service_of(&unsigned, Some("CreateUser")), QueryService::Iam);
    }
}
