//! The KMS domain: keys, key material, aliases, rotation, lifecycle, and one
//! function per AWS KMS operation.
//!
//! Knows nothing of HTTP or JSON (that is `keyward-server`) and reaches
//! storage only through [`keyward_store::Store`]. State lives in memory and is
//! written through to the store before any change is visible, so the hot
//! path (`Encrypt`, `Decrypt`, `GenerateDataKey`) never touches the disk.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod authz;
mod client;
mod error;
mod grants;
pub mod ids;
mod key;
mod model;
mod operations;
mod ops;
mod paging;
mod service;
pub mod state;
pub mod validate;

pub use client::{KeyDescription, KmsCallError, KmsClient};
pub use error::{CiphertextProblem, InternalError, KmsError};
pub use grants::GrantConstraints;
pub use key::{default_key_policy, ENCRYPTION_ALGORITHM, KEY_SPEC, KEY_USAGE, ORIGIN};
/// The policy language the domain evaluates, re-exported for callers that build [`Caller`]s.
pub use keyward_policy as policy;
pub(crate) use keyward_principal::{Caller, Clock, PrincipalDirectory, ServiceMode, DAY_MS};
pub use model::*;
pub use operations::{KmsOperation, OperationFacts, Runs};
pub use ops::background::{DueKey, DueWork};
pub use service::Kms;
