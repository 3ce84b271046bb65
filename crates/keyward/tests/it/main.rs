//! Integration tests: the real `keyward` binary driven by the real `aws-sdk-kms`
//! client (STYLE.md 2.13 (c)). One test binary; every test starts its own
//! server on `127.0.0.1:0` with a fresh data directory (see `harness`).
//!
//! Expected behaviour comes from `shared/reference/kms-api.md`; section numbers
//! in comments point there.

// Tests fail by panicking; the workspace denies these lints for library code only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_error;
mod fixtures;
mod harness;
mod raw_http;

mod accounts;
mod aliases;
mod authentication;
mod completions;
mod concurrency;
mod crypto_ops;
mod deletion;
mod dry_run;
mod durability;
mod envelope_cli;
mod identity;
mod key_lifecycle;
mod raw_protocol;
mod rotation;
mod startup;
mod tags_and_policy;
mod trail;
mod wire;
