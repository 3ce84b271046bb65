//! The AWS wire protocols keyward speaks, each a codec of its own: which
//! operation a request names, its input, and how a reply or an error is
//! written.
//!
//! - JSON 1.1 (`json.rs`): `POST /`, `X-Amz-Target: <prefix>.<Operation>`,
//!   a JSON body; KMS, CloudTrail, and the next services.
//! - REST-JSON (`rest_json.rs`): the method and path name the operation
//!   (`POST /applications/{applicationId}/jobruns`), input in the path, the
//!   query string and the body; errors name their type in `x-amzn-ErrorType`.
//! - Query (`query/`): `Action=…&Version=…` form parameters, XML replies;
//!   IAM and STS.
//!
//! Protocols know nothing of any service's operations: a service hands its
//! protocol its target prefix, routes or XML namespace.

pub(crate) mod json;
pub(crate) mod query;
pub(crate) mod rest_json;

use std::borrow::Cow;

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::response::Response;

use axum::http::StatusCode;

use crate::error::{EdgeError, WireError};
use query::{QueryError, QueryRequest};
use rest_json::PathParams;

/// A call's input, decoded as far as its protocol goes before the operation
/// is known.
pub(crate) enum Input<'a> {
    /// JSON 1.1: the body.
    Json(Bytes),
    /// REST-JSON: path parameters of the matched route, the query string and
    /// the body.
    #[cfg_attr(not(test), allow(dead_code))]
    Rest {
        path: PathParams,
        query: &'a str,
        body: Bytes,
    },
    /// Query: the form (query string and body), or why it did not parse.
    Query(Result<QueryRequest, QueryError>),
}

/// A successful reply, before the protocol adds its headers.
pub(crate) struct Reply {
    pub status: StatusCode,
    /// `None`: no body at all.
    pub body: Option<Vec<u8>>,
}

impl Reply {
    pub fn ok(body: Option<Vec<u8>>) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
        }
    }
}

/// The operation a request names, as its protocol reads it.
pub(crate) struct Named<'p> {
    /// As the client named it, for the event: the target without the
    /// service's prefix (or the whole target), the `Action`, the route's
    /// operation; empty when it names none.
    pub name: Cow<'p, str>,
    /// Whether it names an operation in the service's namespace at all (a
    /// target with the service's prefix, an `Action`, a route): if not, it
    /// is an unknown operation whatever its name.
    pub in_namespace: bool,
}

/// A service's wire protocol, with what it needs to know of the service.
pub(crate) enum Protocol {
    Json(json::Json),
    #[cfg_attr(not(test), allow(dead_code))]
    RestJson(rest_json::RestJson),
    Query(query::Query),
}

impl Protocol {
    /// Whether an unsigned request looks like one of this protocol's (and
    /// this service's): see `Registry::route`.
    pub fn recognises(&self, parts: &Parts) -> bool {
        match self {
            Protocol::Json(json) => json.recognises(parts),
            Protocol::RestJson(rest) => rest.route(parts).is_some(),
            Protocol::Query(query) => query.recognises(parts),
        }
    }

    /// The operation the request names, and its input.
    pub fn read<'p>(&self, parts: &'p Parts, body: Bytes) -> (Named<'p>, Input<'p>) {
        match self {
            Protocol::Json(json) => (json.operation(parts), Input::Json(body)),
            Protocol::RestJson(rest) => rest.read(parts, body),
            Protocol::Query(query) => query.read(parts, &body),
        }
    }

    /// The HTTP answer of a successful call.
    pub fn reply(&self, reply: Reply) -> Response {
        match self {
            Protocol::Json(_) => json::reply(reply),
            Protocol::RestJson(_) => rest_json::reply(reply),
            Protocol::Query(_) => query::reply(reply),
        }
    }

    /// The HTTP answer of a failed call.
    pub fn error(&self, error: &WireError, request_id: &str) -> Response {
        match self {
            Protocol::Json(_) => json::error(error),
            Protocol::RestJson(_) => rest_json::error(error),
            Protocol::Query(query) => query.error(error, request_id),
        }
    }

    /// An error of the pipeline (authentication, body), as this protocol's
    /// services word it.
    pub fn edge_error(&self, error: &EdgeError) -> WireError {
        match self {
            Protocol::Json(_) => json::edge_error(error),
            Protocol::RestJson(_) => rest_json::edge_error(error),
            Protocol::Query(_) => query::edge_error(error),
        }
    }
}
