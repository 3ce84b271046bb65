//! Integration tests of keyward-audit through its public API only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod digests;
mod export;
mod properties;
mod seeds;
mod tamper;
