//! Identities and request authentication.
//!
//! Today: AWS Signature Version 4, verified (and, for our own load generator
//! and tests, produced) as pure functions of the request and the time, with
//! no I/O. Looking up an access key's secret is the caller's job, through
//! [`sigv4::SecretLookup`]. Users, roles and STS arrive with the
//! authorization issue.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod sigv4;
