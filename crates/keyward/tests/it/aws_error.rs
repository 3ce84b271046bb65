//! Turns an SDK call's failure into what AWS put on the wire: error code,
//! message and HTTP status, so tests can compare them with kms-api.md §3/§4.

use std::fmt::Debug;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

/// The parts of an AWS error response a client can observe.
#[derive(Debug)]
pub struct ServiceFailure {
    pub code: String,
    /// `None` when the body carried no `message` (AWS does this for InvalidCiphertextException).
    pub message: Option<String>,
    pub status: u16,
}

/// Expects a service error (a parsed AWS error response) and returns its parts.
/// Panics with the full value on success or on a transport/parse failure.
#[track_caller]
pub fn service_failure<T: Debug, E>(result: Result<T, SdkError<E>>) -> ServiceFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let err = match result {
        Ok(output) => panic!("expected an AWS error response, the call succeeded: {output:?}"),
        Err(err) => err,
    };
    let (status, service_error) = match err {
        SdkError::ServiceError(context) => (context.raw().status().as_u16(), context.into_err()),
        other => panic!(
            "expected an AWS error response, got a client-side failure: {}",
            DisplayChain(&other)
        ),
    };
    let code = match service_error.code() {
        Some(code) => code.to_owned(),
        None => panic!("error response without an error code: {service_error:?}"),
    };
    ServiceFailure {
        code,
        message: service_error.message().map(str::to_owned),
        status,
    }
}

/// Asserts a client error (HTTP 400, as real AWS sends for all of them) with this code and message.
#[track_caller]
pub fn assert_failure<T: Debug, E>(result: Result<T, SdkError<E>>, code: &str, message: &str)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let failure = service_failure(result);
    assert_eq!(failure.code, code, "error code; whole error: {failure:?}");
    assert_eq!(
        failure.message.as_deref(),
        Some(message),
        "error message; whole error: {failure:?}"
    );
    assert_eq!(
        failure.status, 400,
        "HTTP status (AWS sends 400 for client errors); whole error: {failure:?}"
    );
}

/// Like `assert_failure`, for errors whose message AWS does not document exactly.
#[track_caller]
pub fn assert_failure_code<T: Debug, E>(
    result: Result<T, SdkError<E>>,
    code: &str,
) -> ServiceFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let failure = service_failure(result);
    assert_eq!(failure.code, code, "error code; whole error: {failure:?}");
    assert_eq!(
        failure.status, 400,
        "HTTP status (AWS sends 400 for client errors); whole error: {failure:?}"
    );
    failure
}

/// InvalidCiphertextException comes with no message at all (kms-api.md §3).
#[track_caller]
pub fn assert_invalid_ciphertext<T: Debug, E>(result: Result<T, SdkError<E>>)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let failure = assert_failure_code(result, "InvalidCiphertextException");
    assert!(
        failure.message.as_deref().unwrap_or_default().is_empty(),
        "InvalidCiphertextException must carry no message: {failure:?}"
    );
}

/// Formats an error with its `source()` chain, which `Display` alone hides.
struct DisplayChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}
