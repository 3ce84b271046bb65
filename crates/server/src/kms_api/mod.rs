//! KMS at the endpoint (`TrentService.*`, JSON 1.1, SigV4 service `kms`):
//! the operation table (keyward-kms's [`KmsOperation`]) mapped to one
//! handler each (`operations.rs`), the request shapes (`shapes.rs`) and what
//! each logs (`logged.rs`).
//!
//! A call: the table names the operation (unknown and unsupported names are
//! answered here), the handler decodes the input once, notes the event's
//! facts, calls the domain and encodes the output; operations that write
//! the store run on the blocking pool. The events are then written from the
//! facts (`audit/kms.rs`).

mod internal;
mod logged;
mod operations;
mod shapes;

pub use internal::InternalKms;

use std::sync::Arc;

use axum::body::Bytes;
use keyward_kms::{Kms, KmsOperation, OperationFacts, Runs};
use keyward_principal::Caller;
use keyward_trail::{Entry, TrailError};

use crate::audit::{arn_in_message, kms_events, KmsFacts, Outcome, RequestFacts};
use crate::error::{ApiError, WireError};
use crate::metrics::Metrics;
use crate::protocol::json::Json;
use crate::protocol::Protocol;
use crate::service::{BoxFuture, Call, Called, Input, Reply, Service};
use operations::Handler;

/// The `X-Amz-Target` prefix of KMS.
pub const TARGET_PREFIX: &str = "TrentService.";

/// The handler of each operation of the table; `None` for the operations
/// keyward does not implement (the table's state column, checked by a
/// test). The `match` is exhaustive: a new row does not compile without an
/// arm.
fn handler(operation: KmsOperation) -> Option<Handler> {
    use KmsOperation::*;
    Some(match operation {
        CancelKeyDeletion => operations::cancel_key_deletion,
        CreateAlias => operations::create_alias,
        CreateGrant => operations::create_grant,
        CreateKey => operations::create_key,
        Decrypt => operations::decrypt,
        DeleteAlias => operations::delete_alias,
        DeleteImportedKeyMaterial => operations::delete_imported_key_material,
        DescribeKey => operations::describe_key,
        DisableKey => operations::disable_key,
        DisableKeyRotation => operations::disable_key_rotation,
        EnableKey => operations::enable_key,
        EnableKeyRotation => operations::enable_key_rotation,
        Encrypt => operations::encrypt,
        GenerateDataKey => operations::generate_data_key,
        GenerateDataKeyWithoutPlaintext => operations::generate_data_key_without_plaintext,
        GenerateRandom => operations::generate_random,
        GetKeyPolicy => operations::get_key_policy,
        GetKeyRotationStatus => operations::get_key_rotation_status,
        GetParametersForImport => operations::get_parameters_for_import,
        ImportKeyMaterial => operations::import_key_material,
        ListAliases => operations::list_aliases,
        ListGrants => operations::list_grants,
        ListKeyPolicies => operations::list_key_policies,
        ListKeyRotations => operations::list_key_rotations,
        ListKeys => operations::list_keys,
        ListResourceTags => operations::list_resource_tags,
        ListRetirableGrants => operations::list_retirable_grants,
        PutKeyPolicy => operations::put_key_policy,
        ReEncrypt => operations::re_encrypt,
        RetireGrant => operations::retire_grant,
        RevokeGrant => operations::revoke_grant,
        RotateKeyOnDemand => operations::rotate_key_on_demand,
        ScheduleKeyDeletion => operations::schedule_key_deletion,
        TagResource => operations::tag_resource,
        UntagResource => operations::untag_resource,
        UpdateAlias => operations::update_alias,
        UpdateKeyDescription => operations::update_key_description,
        ConnectCustomKeyStore
        | CreateCustomKeyStore
        | Decapsulate
        | DeleteCustomKeyStore
        | DeriveSharedSecret
        | DescribeCustomKeyStores
        | DisconnectCustomKeyStore
        | Encapsulate
        | GenerateDataKeyPair
        | GenerateDataKeyPairWithoutPlaintext
        | GenerateMac
        | GetKeyLastUsage
        | GetPublicKey
        | ReplicateKey
        | Sign
        | UpdateCustomKeyStore
        | UpdatePrimaryRegion
        | Verify
        | VerifyMac => return None,
    })
}

/// One KMS call run to its result, with its event's facts.
pub struct Handled {
    /// The table's row; `None` for a name no KMS operation has.
    pub operation: Option<&'static OperationFacts>,
    pub result: Result<Option<Vec<u8>>, ApiError>,
    pub facts: KmsFacts,
}

/// Runs the operation named `operation` (as `X-Amz-Target` names it after
/// `TrentService.`) for `caller`, on the calling thread. Public so that the
/// fuzz target and in-process services call KMS exactly as the wire does.
pub fn handle(kms: &Kms, caller: &Caller, operation: &str, body: &[u8]) -> Handled {
    let mut facts = KmsFacts::default();
    let Some(row) = KmsOperation::named(operation).map(KmsOperation::facts) else {
        return Handled {
            operation: None,
            result: Err(unknown_operation(operation)),
            facts,
        };
    };
    let result = match handler(row.operation) {
        Some(handler) => handler(kms, caller, body, &mut facts),
        None => Err(ApiError::NotImplemented(row.name.to_owned())),
    };
    if let Err(error) = &result {
        keys_of_failure(kms, caller, error, &mut facts);
    }
    Handled {
        operation: Some(row),
        result,
        facts,
    }
}

fn unknown_operation(operation: &str) -> ApiError {
    ApiError::UnknownOperation(if operation.is_empty() {
        "Missing X-Amz-Target header: an AWS JSON request must name its operation.".to_string()
    } else {
        format!("Unknown operation: {operation}")
    })
}

/// The keys a failed call names, when its handler noted none: the keys
/// its request members name (an alias through the key store, whatever the
/// outcome), else the one its error message names.
fn keys_of_failure(kms: &Kms, caller: &Caller, error: &ApiError, facts: &mut KmsFacts) {
    if facts.has_keys() {
        return;
    }
    if let Some(request) = &facts.request {
        let ids: Vec<String> = [
            &request.key_id,
            &request.source_key_id,
            &request.destination_key_id,
            &request.target_key_id,
        ]
        .into_iter()
        .flatten()
        .map(|id| id.to_string())
        .collect();
        for id in ids {
            facts.key(kms.key_arn_named(caller, &id).as_deref());
        }
    }
    if !facts.has_keys() {
        if let Some(message) = error.wire().message {
            facts.key(arn_in_message(&message));
        }
    }
}

/// The KMS service at the endpoint.
pub(crate) struct KmsService {
    kms: Arc<Kms>,
    metrics: Arc<Metrics>,
    protocol: Protocol,
}

impl KmsService {
    pub fn new(kms: Arc<Kms>, metrics: Arc<Metrics>) -> KmsService {
        KmsService {
            kms,
            metrics,
            protocol: Protocol::Json(Json {
                target_prefix: TARGET_PREFIX,
            }),
        }
    }

    async fn run(&self, call: Call<'_>) -> Called {
        let body = match call.input {
            Input::Json(body) => body,
            Input::Rest { body, .. } => body,
            Input::Query(_) => Bytes::new(),
        };
        let operation = call.operation.and_then(KmsOperation::named);
        let handled = match operation.map(|op| op.facts().runs) {
            None => Handled {
                operation: None,
                result: Err(unknown_operation(call.facts.event_name)),
                facts: KmsFacts::default(),
            },
            Some(Runs::Blocking) => {
                let kms = Arc::clone(&self.kms);
                let caller = call.caller.clone();
                let name = call.facts.event_name.to_owned();
                tokio::task::spawn_blocking(move || handle(&kms, &caller, &name, &body))
                    .await
                    .unwrap_or_else(|error| {
                        // The task panicked: the call has no facts left.
                        tracing::error!(%error, "a KMS operation task failed");
                        Handled {
                            operation: operation.map(KmsOperation::facts),
                            result: Err(ApiError::Internal(format!(
                                "operation task failed: {error}"
                            ))),
                            facts: KmsFacts::default(),
                        }
                    })
            }
            Some(Runs::Inline) => handle(&self.kms, call.caller, call.facts.event_name, &body),
        };
        // S-27, S-28: every attempt to use a disabled or pending-deletion
        // key is counted by key and logged.
        if let Err(ApiError::Kms(error)) = &handled.result {
            if let Some((key_arn, key_state)) = error.unusable_key() {
                self.metrics.disabled_key_used(
                    key_arn,
                    call.facts.event_name,
                    key_state,
                    call.caller.principal_arn(),
                );
            }
        }
        let reply = match handled.result {
            Ok(body) => Ok(Reply::ok(body)),
            Err(error) => {
                if error.is_server_fault() {
                    tracing::error!(request_id = call.facts.request_id, operation = call.facts.event_name, error = ?error, "KMS call failed");
                }
                Err(error.wire())
            }
        };
        let events = if call.record {
            kms_events(
                &call.facts,
                call.caller,
                handled.operation,
                &handled.facts,
                Outcome::of(&reply),
            )
            .map_err(TrailError::from)
        } else {
            Ok(Vec::new())
        };
        Called { reply, events }
    }
}

impl Service for KmsService {
    fn signing_names(&self) -> &'static [&'static str] {
        &["kms"]
    }

    fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    fn event_source(&self) -> &'static str {
        "kms.amazonaws.com"
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Called> {
        Box::pin(self.run(call))
    }

    fn internal_error(&self) -> WireError {
        ApiError::Internal(String::new()).wire()
    }

    fn failure_events(
        &self,
        facts: &RequestFacts<'_>,
        caller: &Caller,
        error: &WireError,
    ) -> Result<Vec<Entry>, TrailError> {
        let operation = KmsOperation::named(facts.event_name).map(KmsOperation::facts);
        let failed: Result<(), WireError> = Err(error.clone());
        kms_events(
            facts,
            caller,
            operation,
            &KmsFacts::default(),
            Outcome::of(&failed),
        )
        .map_err(TrailError::from)
    }
}

#[cfg(test)]
mod tests;
