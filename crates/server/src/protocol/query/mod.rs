//! The AWS Query protocol (IAM, STS): `Action=…&Version=…` form parameters
//! in a POST body or a GET query string (`form.rs`), answered in XML
//! (`xml.rs`), errors included:
//! `<ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code>
//! <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.

pub(crate) mod error;
pub(crate) mod form;
pub(crate) mod xml;

use std::borrow::Cow;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub(crate) use error::{edge_error, QueryError, QueryService};
pub(crate) use form::QueryRequest;

use crate::error::WireError;
use crate::protocol::{Input, Named, Reply};

/// A Query service: the XML namespace of its answers.
pub(crate) struct Query {
    pub namespace: &'static str,
    /// Actions an unsigned request names in its query string that pick this
    /// service over the other Query services (STS's, at the same endpoint).
    pub claims: &'static [&'static str],
}

impl Query {
    /// A request without `X-Amz-Target` whose body is a form, or a GET with
    /// an `Action`; among the Query services, the one whose actions it names.
    pub fn recognises(&self, parts: &Parts) -> bool {
        if parts.headers.contains_key("x-amz-target") {
            return false;
        }
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let action = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("Action="))
        });
        match action {
            Some(action) if parts.method == axum::http::Method::GET || form => {
                self.claims.is_empty() || self.claims.contains(&action)
            }
            _ => form && self.claims.is_empty(),
        }
    }

    /// The action the form names, and the form (or why it did not parse).
    pub fn read<'p>(&self, parts: &'p Parts, body: &[u8]) -> (Named<'p>, Input<'p>) {
        let body_text = std::str::from_utf8(body).unwrap_or_default();
        let query = parts.uri.query().unwrap_or_default();
        let form = QueryRequest::parse(&[query, body_text]);
        let named = match &form {
            Ok(form) => Named {
                name: Cow::Owned(form.action.clone()),
                in_namespace: true,
            },
            Err(_) => Named {
                name: Cow::Borrowed(""),
                in_namespace: false,
            },
        };
        (named, Input::Query(form))
    }

    pub fn error(&self, error: &WireError, request_id: &str) -> Response {
        let kind = if error.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.namespace,
            error.code,
            xml::escape(error.message.as_deref().unwrap_or_default()),
            xml::escape(request_id)
        );
        let mut response = (error.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        response
    }
}

pub(crate) fn reply(reply: Reply) -> Response {
    let body = reply.body.map_or_else(Body::empty, Body::from);
    let mut response = (reply.status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
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

    /// Which unsigned requests the Query services take, and which of them.
    #[test]
    fn recognised_requests() {
        let iam = Query {
            namespace: xml::IAM_NAMESPACE,
            claims: &[],
        };
        let sts = Query {
            namespace: xml::STS_NAMESPACE,
            claims: &["AssumeRole", "GetCallerIdentity"],
        };
        let form = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        let cases: Vec<(Parts, bool, bool)> = vec![
            (parts("POST", "/", &[form]), true, false),
            (parts("GET", "/?Action=ListUsers", &[]), true, false),
            (parts("GET", "/?Action=GetCallerIdentity", &[]), true, true),
            (parts("POST", "/?Action=AssumeRole", &[form]), true, true),
            (
                parts(
                    "POST",
                    "/",
                    &[form, ("x-amz-target", "TrentService.ListKeys")],
                ),
                false,
                false,
            ),
            (
                parts(
                    "POST",
                    "/",
                    &[("content-type", "application/x-amz-json-1.1")],
                ),
                false,
                false,
            ),
            (parts("GET", "/", &[]), false, false),
        ];
        for (request, by_iam, by_sts) in cases {
            assert_eq!(iam.recognises(&request), by_iam, "{request:?}");
            assert_eq!(sts.recognises(&request), by_sts, "{request:?}");
        }
    }
}
