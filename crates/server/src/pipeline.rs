//! The one path every AWS request takes, whatever its service and protocol:
//!
//! 1. pick the service (`Registry::route`: the credential scope, else the
//!    protocol's own marks);
//! 2. read the body, bounded in size and time;
//! 3. authenticate once (SigV4 against the service's signing names);
//! 4. let the protocol name the operation and decode as far as it can
//!    before the operation is known;
//! 5. run the call in the service (its domain authorizes; a panic becomes
//!    the service's internal error, never a dropped connection);
//! 6. make the call's events durable (its answer waits for them);
//! 7. encode the answer or the error in the protocol's form, and count it.
//!
//! Requests that fail before an identity is established (2, 3) get no event:
//! AWS delivers none for a request it refused before it knew who sent it.
//! They are counted in `/metrics` under their error code.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use keyward_principal::Caller;
use keyward_sigv4::RequestParts;

use crate::audit::{time_of_ms, RequestFacts};
use crate::auth::{self, AuthFailure};
use crate::error::{EdgeError, WireError};
use crate::service::{Call, Called, CatchUnwind, Service};
use crate::state::{AppState, MAX_BODY_BYTES};

/// Serves one AWS API request; see the module comment.
pub(crate) async fn aws_request(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    // From here until its events are queued, the trail's group commit may
    // hold a batch back for this call to join it.
    let in_progress = state.trail.as_ref().map(|trail| trail.begin_call());
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let service = state.services.route(&parts);
    let protocol = service.protocol();
    let label = service.signing_names().first().copied().unwrap_or_default();

    let refused = |error: EdgeError| {
        let wire = protocol.edge_error(&error);
        tracing::debug!(
            request_id,
            code = wire.code,
            "request refused before authentication"
        );
        state
            .metrics
            .observe(label, "unauthenticated", wire.code, started.elapsed());
        answer(protocol.error(&wire, &request_id), &request_id)
    };
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(error) => return refused(error),
    };
    let caller = match authenticate(&state, &parts, &body, service.signing_names()) {
        Ok(caller) => caller,
        Err(error) => return refused(error),
    };

    let (named, input) = protocol.read(&parts, body);
    let operation = &*named.name;
    let facts = RequestFacts {
        event_source: service.event_source(),
        event_name: operation,
        region: state.kms.region(),
        source_ip: peer_ip(&parts),
        user_agent: header_text(&parts, "user-agent"),
        request_id: &request_id,
        access_key_id: access_key_id(&parts),
        event_time: time_of_ms(state.kms.clock().now_ms()),
    };
    let record = state.trail.is_some();
    let call = Call {
        operation: named.in_namespace.then_some(operation),
        input,
        caller: &caller,
        facts,
        record,
    };
    let called = match CatchUnwind(service.call(call)).await {
        Ok(called) => called,
        Err(()) => panicked(service, &facts, &caller, record),
    };

    let mut reply = called.reply;
    if let Some(trail) = &state.trail {
        let written = match (called.events, in_progress) {
            (Ok(entries), Some(in_progress)) => in_progress.append(entries).await,
            (Ok(entries), None) => trail.append(entries).await,
            (Err(error), _) => Err(error),
        };
        if let Err(error) = written {
            tracing::error!(request_id, operation = %operation, %error, "the call's audit event could not be written; answering an internal error");
            reply = Err(service.internal_error());
        }
    }
    let outcome = match &reply {
        Ok(_) => "success",
        Err(error) => error.code,
    };
    state
        .metrics
        .observe(label, operation, outcome, started.elapsed());
    let response = match reply {
        Ok(reply) => protocol.reply(reply),
        Err(error) => protocol.error(&error, &request_id),
    };
    tracing::trace!(
        request_id,
        operation = %operation,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64
    );
    answer(response, &request_id)
}

/// A call whose service panicked: the service's internal error, and an
/// event saying who called what and that it failed.
fn panicked(
    service: &dyn Service,
    facts: &RequestFacts<'_>,
    caller: &Caller,
    record: bool,
) -> Called {
    tracing::error!(
        request_id = facts.request_id,
        operation = facts.event_name,
        "the operation panicked; answering an internal error"
    );
    let error: WireError = service.internal_error();
    let events = if record {
        service.failure_events(facts, caller, &error)
    } else {
        Ok(Vec::new())
    };
    Called {
        reply: Err(error),
        events,
    }
}

fn answer(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// The body, within the size limit and the body timeout.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, EdgeError> {
    match tokio::time::timeout(
        state.body_read_timeout,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(EdgeError::BodyTooLarge(MAX_BODY_BYTES)),
        Err(_) => Err(EdgeError::BodyTimeout),
    }
}

/// Verifies the request's signature for one of `services` and completes
/// the caller with what the transport says (`aws:SourceIp`,
/// `aws:SecureTransport`).
fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    services: &[&str],
) -> Result<Caller, EdgeError> {
    let headers = auth::request_headers(parts);
    let signed = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &headers,
        body,
    };
    let caller = state
        .auth
        .authenticate(&signed, services, now_epoch_seconds())
        .map_err(|failure| match failure {
            AuthFailure::Signature(error) => EdgeError::Auth(error),
            AuthFailure::ExpiredToken => EdgeError::ExpiredToken,
        })?;
    Ok(caller.with_transport(peer_ip(parts), state.tls))
}

fn now_epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The access key id the request was signed with: from the first
/// `Authorization` header (not a secret).
fn access_key_id(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .find_map(|value| value.to_str().ok())?;
    let credential = value.split("Credential=").nth(1)?;
    let id = credential.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

fn header_text<'p>(parts: &'p Parts, name: &str) -> &'p str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The peer's address, when the server was started with connect info.
fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
