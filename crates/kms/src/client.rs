//! KMS as the services inside keyward call it.
//!
//! A compute service (streaming applications, job runs, tasks) and the
//! workload runtime use customer managed keys the way AWS services do: as
//! their own service principal (`Caller::service`) or forwarding an
//! operator's request (`Caller::via_service`). Each such call must be
//! authorized for its caller and recorded in the audit trail exactly as a
//! call over the wire would be (`userIdentity` `AWSService`, or `invokedBy`),
//! so the calls go through [`KmsClient`], which keyward-server implements
//! over the same handling the wire uses (`kms_api::InternalKms`).
//!
//! The inputs and outputs are the domain's own; the errors are the AWS
//! errors a client would have been answered ([`KmsCallError`]).

use crate::{
    Caller, CreateGrantInput, CreateGrantOutput, DecryptInput, DecryptOutput, GenerateDataKeyInput,
    GenerateDataKeyOutput, RetireGrantInput, RetiredGrant,
};

/// The AWS error a KMS call was answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {}", message.as_deref().unwrap_or_default())]
pub struct KmsCallError {
    /// `DisabledException`, `AccessDeniedException`, `DryRunOperationException` …
    pub code: &'static str,
    pub message: Option<String>,
}

impl KmsCallError {
    /// Whether the call was a dry run that would have succeeded.
    pub fn is_dry_run_success(&self) -> bool {
        self.code == "DryRunOperationException"
    }
}

/// What DescribeKey says of a key, as a service checks it before use
/// (enabled, symmetric encryption: S-5, S-19, S-24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDescription {
    pub arn: String,
    pub key_id: String,
    pub key_state: String,
    pub key_spec: String,
    pub key_usage: String,
    pub enabled: bool,
}

/// KMS for the services inside keyward; see the module comment. Calls
/// block until their events are durable: call them off the async workers.
pub trait KmsClient: Send + Sync {
    fn describe_key(&self, caller: &Caller, key_id: &str) -> Result<KeyDescription, KmsCallError>;

    /// GenerateDataKey, or GenerateDataKeyWithoutPlaintext when
    /// `with_plaintext` is false.
    fn generate_data_key(
        &self,
        caller: &Caller,
        input: GenerateDataKeyInput,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyOutput, KmsCallError>;

    fn decrypt(&self, caller: &Caller, input: DecryptInput) -> Result<DecryptOutput, KmsCallError>;

    fn create_grant(
        &self,
        caller: &Caller,
        input: CreateGrantInput,
    ) -> Result<CreateGrantOutput, KmsCallError>;

    fn retire_grant(
        &self,
        caller: &Caller,
        input: RetireGrantInput,
    ) -> Result<RetiredGrant, KmsCallError>;
}
