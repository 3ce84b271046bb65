//! What a service at the endpoint is to the pipeline, and what one call of
//! it takes and gives back.
//!
//! A service (KMS, IAM, STS, CloudTrail; the compute services next) names
//! the SigV4 credential-scope names it is signed for and its wire
//! [`Protocol`], and runs a [`Call`]: it decodes the input with its
//! protocol's codec, runs the operation in its domain (authorization
//! inside), writes the call's audit events from the typed facts the domain
//! returned, and hands back the reply or the error, still in the protocol's
//! neutral form ([`Called`]). The pipeline (`pipeline.rs`) does everything
//! around it: body, authentication, durability of the events, encoding,
//! metrics.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header;
use axum::http::request::Parts;
use keyward_principal::Caller;
use keyward_trail::{Entry, TrailError};

use crate::audit::RequestFacts;
use crate::error::WireError;
use crate::protocol::Protocol;
pub(crate) use crate::protocol::{Input, Reply};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One AWS service at the endpoint; see the module comment.
pub(crate) trait Service: Send + Sync {
    /// The SigV4 credential-scope service names it is signed for; the first
    /// is the one an error names.
    fn signing_names(&self) -> &'static [&'static str];

    fn protocol(&self) -> &Protocol;

    /// `kms.amazonaws.com`: the `eventSource` of its events.
    fn event_source(&self) -> &'static str;

    /// Runs one authenticated call and writes its events.
    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Called>;

    /// The AWS error of an internal failure (a panic, a failed trail write):
    /// a generic message, the details only in the log.
    fn internal_error(&self) -> WireError;

    /// The events of a call that ended before the service could tell more
    /// (a panic): who called what, and the error.
    fn failure_events(
        &self,
        facts: &RequestFacts<'_>,
        caller: &Caller,
        error: &WireError,
    ) -> Result<Vec<Entry>, TrailError>;
}

/// One authenticated call, as the protocol read it.
pub(crate) struct Call<'a> {
    /// The operation the protocol found in the service's namespace (a
    /// target with the service's prefix, an `Action`, a route), or `None`:
    /// an unknown operation, whatever `facts.event_name` says.
    pub operation: Option<&'a str>,
    pub input: Input<'a>,
    pub caller: &'a Caller,
    /// What the event needs from the request besides its input.
    pub facts: RequestFacts<'a>,
    /// Whether events are written at all (no trail:
    /// `--benchmark-only-disable-trail`).
    pub record: bool,
}

/// What a call gave back: the reply or the error, and its events.
pub(crate) struct Called {
    pub reply: Result<Reply, WireError>,
    /// The call's events, written; empty when not recorded.
    pub events: Result<Vec<Entry>, TrailError>,
}

/// A row of a service's operation table, for services whose operations
/// need no more facts than these (IAM, STS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operation {
    pub name: &'static str,
    /// CloudTrail's `readOnly` (`Get*`, `List*`).
    pub read_only: bool,
}

impl Operation {
    pub const fn reads(name: &'static str) -> Operation {
        Operation {
            name,
            read_only: true,
        }
    }

    pub const fn writes(name: &'static str) -> Operation {
        Operation {
            name,
            read_only: false,
        }
    }
}

/// The services at the endpoint, and which one a request is for.
pub(crate) struct Registry {
    /// The service of requests that name no other (KMS, whose clients are
    /// the many); it then refuses them in its protocol's words.
    default: Arc<dyn Service>,
    /// Every service, the default included, in the order they are asked
    /// whether they recognise an unsigned request.
    services: Vec<Arc<dyn Service>>,
}

impl Registry {
    pub fn new(default: Arc<dyn Service>, others: Vec<Arc<dyn Service>>) -> Registry {
        let mut services = vec![Arc::clone(&default)];
        services.extend(others);
        Registry { default, services }
    }

    /// The service a request is for: the one its credential scope names;
    /// unsigned (or signed for a service keyward does not serve), the one
    /// whose protocol recognises it (an `X-Amz-Target` prefix, a Query form,
    /// a REST route); else the default, which then refuses the request.
    pub fn route(&self, parts: &Parts) -> &dyn Service {
        let signed_for = scope_service(parts).and_then(|scope| {
            self.services
                .iter()
                .find(|service| service.signing_names().contains(&scope))
        });
        signed_for
            .or_else(|| {
                self.services
                    .iter()
                    .find(|service| service.protocol().recognises(parts))
            })
            .unwrap_or(&self.default)
            .as_ref()
    }
}

/// The credential-scope service of a signed request
/// (`Credential=AKID/date/region/SERVICE/aws4_request`).
pub(crate) fn scope_service(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let credential = value.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

/// A service call that answers `Err(())` instead of unwinding through the
/// pipeline when it panics, so the request still gets an AWS-shaped answer
/// and its event (rust-analyzer catches panics per request the same way).
pub(crate) struct CatchUnwind<'a>(pub BoxFuture<'a, Called>);

impl Future for CatchUnwind<'_> {
    type Output = Result<Called, ()>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(context))) {
            Ok(Poll::Ready(called)) => Poll::Ready(Ok(called)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
