//! Who is calling, below every domain: the [`Caller`] a request was
//! authenticated as (or the service principal a service inside keyward acts
//! as), the service [`Clock`], the [`PrincipalDirectory`] a domain asks
//! whether a named principal exists, and the one [`RequestContextBuilder`]
//! that gives every policy evaluation its global condition keys.
//!
//! Architecture invariants:
//! - No I/O, no HTTP, no domain: KMS, IAM/STS, CloudTrail and the compute
//!   services all depend on this crate, and it depends on none of them.
//! - A caller that is a service, or that a service forwards
//!   ([`Caller::service`], [`Caller::via_service`]), can be made only with a
//!   [`ServicePrincipal`], and a `ServicePrincipal` only from a `&'static
//!   str`: a name written in keyward's own code, never request data.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod caller;
mod clock;
mod context;
mod directory;

pub use caller::{Caller, ServiceCall, ServiceMode, ServicePrincipal};
pub use clock::{Clock, DAY_MS, MAX_ADVANCE_MS};
pub use context::RequestContextBuilder;
pub use directory::{AnyPrincipal, PrincipalDirectory};
