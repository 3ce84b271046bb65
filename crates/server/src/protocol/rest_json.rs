//! AWS REST-JSON: the method and path name the operation
//! (`POST /applications/{applicationId}/jobruns`, botocore's
//! `http.requestUri`), input comes from path labels, the query string and a
//! JSON body, and the status code is the operation's (`http.responseCode`).
//! An error names its type in the `x-amzn-ErrorType` header and its message
//! in the body's `message` (botocore's `RestJSONParser` reads both).
//!
//! A path label matches one segment, percent-decoded (botocore encodes `/`
//! inside a label, such as an ARN in `/tags/{resourceArn}`, as `%2F`); a
//! greedy label `{name+}` matches the rest of the path.
//!
//! No service at the endpoint speaks it yet: emr-serverless will be the
//! first (issue 20). Until then the pipeline's tests serve a REST-JSON
//! service of their own through it (`pipeline_tests.rs`).
#![cfg_attr(not(test), allow(dead_code))]

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_sigv4::AuthError;

use crate::error::{EdgeError, WireError};
use crate::protocol::{Input, Named, Reply};

const CONTENT_TYPE: &str = "application/json";

/// One operation's place in the URL space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub method: &'static str,
    /// The path template, e.g. `/applications/{applicationId}/jobruns`.
    pub path: &'static str,
    pub operation: &'static str,
}

/// A REST-JSON service: its routes.
pub(crate) struct RestJson {
    pub routes: &'static [Route],
}

/// The path labels of the matched route, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value.as_str())
    }
}

impl RestJson {
    /// The route `parts` takes, with its labels.
    pub fn route(&self, parts: &Parts) -> Option<(&'static Route, PathParams)> {
        let method = parts.method.as_str();
        let path = parts.uri.path();
        self.routes
            .iter()
            .filter(|route| route.method == method)
            .find_map(|route| matches(route.path, path).map(|params| (route, params)))
    }

    /// The operation and input of a request: an unknown method and path
    /// names no operation (`""`).
    pub fn read<'p>(&self, parts: &'p Parts, body: Bytes) -> (Named<'p>, Input<'p>) {
        let query = parts.uri.query().unwrap_or_default();
        match self.route(parts) {
            Some((route, path)) => (
                Named {
                    name: Cow::Borrowed(route.operation),
                    in_namespace: true,
                },
                Input::Rest { path, query, body },
            ),
            None => (
                Named {
                    name: Cow::Borrowed(""),
                    in_namespace: false,
                },
                Input::Rest {
                    path: PathParams::default(),
                    query,
                    body,
                },
            ),
        }
    }
}

/// The labels of `template` in `path`, if `path` is one of its paths.
fn matches(template: &'static str, path: &str) -> Option<PathParams> {
    let mut params = Vec::new();
    let mut segments = path.trim_start_matches('/').split('/');
    let mut labels = template.trim_start_matches('/').split('/').peekable();
    while let Some(label) = labels.next() {
        if let Some(greedy) = label.strip_prefix('{').and_then(|l| l.strip_suffix("+}")) {
            let rest: Vec<&str> = segments.by_ref().collect();
            if rest.is_empty() || labels.peek().is_some() {
                return None;
            }
            params.push((greedy, percent_decode(&rest.join("/"))?));
            return Some(PathParams(params));
        }
        let segment = segments.next()?;
        match label.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => params.push((name, percent_decode(segment)?)),
            Some(_) => return None,
            None if label == segment => {}
            None => return None,
        }
    }
    match segments.next() {
        None => Some(PathParams(params)),
        // A trailing slash names the same resource.
        Some("") if segments.next().is_none() => Some(PathParams(params)),
        Some(_) => None,
    }
}

/// `%XX` decoding (no `+`: that is a form encoding, not a path's); `None`
/// when malformed or not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The query string's parameters, decoded (`+` is a space here), in order;
/// a repeated name appears repeatedly (list members).
pub(crate) fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode(&text.replace('+', " "));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
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
        Some(message) => serde_json::json!({ "message": message }),
        None => serde_json::json!({}),
    };
    let mut response = (error.status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error.code));
    response
}

/// The pipeline's errors as AWS's REST-JSON services answer them: an
/// unauthenticated request is refused with 403.
pub(crate) fn edge_error(error: &EdgeError) -> WireError {
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    let (code, status, message) = match error {
        EdgeError::Auth(e) => {
            let message = e.to_string();
            match e {
                AuthError::Missing => ("MissingAuthenticationTokenException", FORBIDDEN, message),
                AuthError::Incomplete(_) => ("IncompleteSignatureException", FORBIDDEN, message),
                AuthError::UnknownAccessKey => ("UnrecognizedClientException", FORBIDDEN, message),
                AuthError::Expired(_) | AuthError::BadScope(_) | AuthError::Mismatch => {
                    ("InvalidSignatureException", FORBIDDEN, message)
                }
            }
        }
        EdgeError::ExpiredToken => (
            "ExpiredTokenException",
            FORBIDDEN,
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

    const ROUTES: &[Route] = &[
        Route {
            method: "GET",
            path: "/applications",
            operation: "ListApplications",
        },
        Route {
            method: "POST",
            path: "/applications",
            operation: "CreateApplication",
        },
        Route {
            method: "GET",
            path: "/applications/{applicationId}",
            operation: "GetApplication",
        },
        Route {
            method: "POST",
            path: "/applications/{applicationId}/jobruns",
            operation: "StartJobRun",
        },
        Route {
            method: "GET",
            path: "/applications/{applicationId}/jobruns/{jobRunId}",
            operation: "GetJobRun",
        },
        Route {
            method: "POST",
            path: "/tags/{resourceArn}",
            operation: "TagResource",
        },
        Route {
            method: "GET",
            path: "/files/{key+}",
            operation: "GetFile",
        },
    ];

    fn check(method: &str, uri: &str, expected: Option<(&str, &[(&str, &str)])>) {
        let service = RestJson { routes: ROUTES };
        let parts = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let found = service.route(&parts).map(|(route, params)| {
            let params: Vec<(&str, String)> = params.0.into_iter().collect();
            (route.operation, params)
        });
        let expected = expected.map(|(operation, params)| {
            let params: Vec<(&str, String)> = params
                .iter()
                .map(|(name, value)| (*name, value.to_string()))
                .collect();
            (operation, params)
        });
        assert_eq!(found, expected, "{method} {uri}");
    }

    #[test]
    fn routes() {
        check("GET", "/applications", Some(("ListApplications", &[])));
        check("GET", "/applications/", Some(("ListApplications", &[])));
        check("POST", "/applications", Some(("CreateApplication", &[])));
        check("DELETE", "/applications", None);
        check(
            "GET",
            "/applications/00f1abc?x=1",
            Some(("GetApplication", &[("applicationId", "00f1abc")])),
        );
        check(
            "POST",
            "/applications/app-1/jobruns",
            Some(("StartJobRun", &[("applicationId", "app-1")])),
        );
        check(
            "GET",
            "/applications/app-1/jobruns/run%201",
            Some((
                "GetJobRun",
                &[("applicationId", "app-1"), ("jobRunId", "run 1")],
            )),
        );
        check(
            "POST",
            "/tags/arn%3Aaws%3Aemr-serverless%3Aus-east-1%3A111122223333%3A%2Fapplications%2Fapp-1",
            Some((
                "TagResource",
                &[(
                    "resourceArn",
                    "arn:aws:emr-serverless:us-east-1:111122223333:/applications/app-1",
                )],
            )),
        );
        check(
            "GET",
            "/files/a/b/c.txt",
            Some(("GetFile", &[("key", "a/b/c.txt")])),
        );
        check("GET", "/files", None);
        check("GET", "/applications//jobruns", None);
        check("GET", "/applications/app-1/jobruns/run-1/extra", None);
        check("GET", "/applications/%zz", None);
        check("GET", "/", None);
    }

    #[test]
    fn query_strings() {
        assert_eq!(
            query_params("maxResults=10&states=RUNNING&states=SUCCESS&name=a+b%2Fc&flag"),
            vec![
                ("maxResults".to_string(), "10".to_string()),
                ("states".to_string(), "RUNNING".to_string()),
                ("states".to_string(), "SUCCESS".to_string()),
                ("name".to_string(), "a b/c".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn errors_name_their_type_in_a_header() {
        let response = error(&WireError {
            code: "ResourceNotFoundException",
            status: StatusCode::NOT_FOUND,
            message: Some("Application app-1 does not exist".into()),
        });
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers().get("x-amzn-errortype").unwrap(),
            "ResourceNotFoundException"
        );
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/json"
        );
    }

    #[test]
    fn the_edge_error_table() {
        let cases: Vec<(EdgeError, &str, u16)> = vec![
            (
                EdgeError::Auth(AuthError::Missing),
                "MissingAuthenticationTokenException",
                403,
            ),
            (
                EdgeError::Auth(AuthError::UnknownAccessKey),
                "UnrecognizedClientException",
                403,
            ),
            (
                EdgeError::Auth(AuthError::Mismatch),
                "InvalidSignatureException",
                403,
            ),
            (EdgeError::ExpiredToken, "ExpiredTokenException", 403),
            (
                EdgeError::BodyTooLarge(10),
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
}
