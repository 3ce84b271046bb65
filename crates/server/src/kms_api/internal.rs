//! KMS for the services inside keyward ([`KmsClient`]): each call goes
//! through [`handle`], as a call over the wire does, with a request built
//! from the domain's input, so it is validated, authorized for its caller
//! and recorded in the trail with the same facts; its events are durable
//! before the call returns.
//!
//! What the wire would carry as base64 text (a data key, a plaintext) is
//! decoded into zeroizing buffers, and the reply bytes are zeroized too.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyward_crypto::Secret;
use keyward_kms::{
    CreateGrantInput, CreateGrantOutput, DecryptInput, DecryptOutput, GenerateDataKeyInput,
    GenerateDataKeyOutput, KeyDescription, Kms, KmsCallError, KmsClient, KmsOperation,
    RetireGrantInput, RetiredGrant,
};
use keyward_principal::Caller;
use keyward_trail::Trail;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::handle;
use crate::audit::{kms_events, time_of_ms, KmsFacts, Outcome, RequestFacts};
use crate::error::WireError;

/// KMS in-process, recording in `trail` (none: `--benchmark-only-disable-trail`).
pub struct InternalKms {
    kms: Arc<Kms>,
    trail: Option<Arc<Trail>>,
}

impl InternalKms {
    pub fn new(kms: Arc<Kms>, trail: Option<Arc<Trail>>) -> InternalKms {
        InternalKms { kms, trail }
    }

    /// Runs `operation` with `request` for `caller` and records it: the
    /// reply's bytes, and the facts its event was written from.
    fn call(
        &self,
        caller: &Caller,
        operation: KmsOperation,
        request: &Value,
    ) -> Result<(Zeroizing<Vec<u8>>, KmsFacts), KmsCallError> {
        let body = Zeroizing::new(request.to_string().into_bytes());
        let handled = handle(&self.kms, caller, operation.name(), &body);
        let reply = handled.result.map_err(|error| error.wire());
        if let Some(trail) = &self.trail {
            let request_id = uuid::Uuid::new_v4().to_string();
            let facts = RequestFacts {
                event_source: "kms.amazonaws.com",
                event_name: operation.name(),
                region: self.kms.region(),
                source_ip: None,
                user_agent: "",
                request_id: &request_id,
                access_key_id: None,
                event_time: time_of_ms(self.kms.clock().now_ms()),
            };
            let written = kms_events(
                &facts,
                caller,
                handled.operation,
                &handled.facts,
                Outcome::of(&reply),
            )
            .map_err(keyward_trail::TrailError::from)
            .and_then(|entries| trail.append_blocking(entries));
            if let Err(error) = written {
                // As on the wire: no answer without its record.
                tracing::error!(%error, operation = operation.name(), "an internal KMS call's event could not be written");
                return Err(KmsCallError {
                    code: "KMSInternalException",
                    message: Some(
                        "The request could not be completed due to an internal error.".into(),
                    ),
                });
            }
        }
        match reply {
            Ok(body) => Ok((Zeroizing::new(body.unwrap_or_default()), handled.facts)),
            Err(WireError { code, message, .. }) => Err(KmsCallError { code, message }),
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(reply: &'a [u8]) -> Result<T, KmsCallError> {
    serde_json::from_slice(reply).map_err(|error| {
        tracing::error!(%error, "an internal KMS reply did not parse");
        KmsCallError {
            code: "KMSInternalException",
            message: Some("The request could not be completed due to an internal error.".into()),
        }
    })
}

fn blob(text: &str) -> Result<Vec<u8>, KmsCallError> {
    STANDARD.decode(text).map_err(|_| KmsCallError {
        code: "KMSInternalException",
        message: Some("The request could not be completed due to an internal error.".into()),
    })
}

fn secret(text: &str) -> Result<Secret, KmsCallError> {
    blob(text).map(Secret::new)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedKey {
    key_metadata: DescribedMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedMetadata {
    arn: String,
    key_id: String,
    key_state: String,
    key_spec: String,
    key_usage: String,
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKey {
    ciphertext_blob: String,
    plaintext: Option<Zeroizing<String>>,
    key_id: String,
    key_material_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Decrypted {
    key_id: String,
    plaintext: Zeroizing<String>,
    key_material_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Granted {
    grant_token: String,
    grant_id: String,
}

fn internal(what: &str) -> KmsCallError {
    tracing::error!(
        what,
        "an internal KMS call answered without what it must name"
    );
    KmsCallError {
        code: "KMSInternalException",
        message: Some("The request could not be completed due to an internal error.".into()),
    }
}

impl KmsClient for InternalKms {
    fn describe_key(&self, caller: &Caller, key_id: &str) -> Result<KeyDescription, KmsCallError> {
        let (reply, _) = self.call(
            caller,
            KmsOperation::DescribeKey,
            &json!({ "KeyId": key_id }),
        )?;
        let described: DescribedKey = parse(&reply)?;
        let m = described.key_metadata;
        Ok(KeyDescription {
            arn: m.arn,
            key_id: m.key_id,
            key_state: m.key_state,
            key_spec: m.key_spec,
            key_usage: m.key_usage,
            enabled: m.enabled,
        })
    }

    fn generate_data_key(
        &self,
        caller: &Caller,
        input: GenerateDataKeyInput,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyOutput, KmsCallError> {
        let operation = if with_plaintext {
            KmsOperation::GenerateDataKey
        } else {
            KmsOperation::GenerateDataKeyWithoutPlaintext
        };
        let request = json!({
            "KeyId": input.key_id,
            "EncryptionContext": input.encryption_context,
            "NumberOfBytes": input.number_of_bytes,
            "KeySpec": input.key_spec,
            "GrantTokens": input.grant_tokens,
            "DryRun": input.dry_run,
        });
        let (reply, _) = self.call(caller, operation, &strip_nulls(request))?;
        let key: DataKey = parse(&reply)?;
        Ok(GenerateDataKeyOutput {
            ciphertext_blob: blob(&key.ciphertext_blob)?,
            plaintext: key
                .plaintext
                .as_deref()
                .map(|text| secret(text))
                .transpose()?,
            key_arn: key.key_id,
            key_material_id: key.key_material_id,
        })
    }

    fn decrypt(&self, caller: &Caller, input: DecryptInput) -> Result<DecryptOutput, KmsCallError> {
        let request = json!({
            "CiphertextBlob": input.ciphertext_blob.as_deref().map(|blob| STANDARD.encode(blob)),
            "EncryptionContext": input.encryption_context,
            "GrantTokens": input.grant_tokens,
            "KeyId": input.key_id,
            "EncryptionAlgorithm": input.encryption_algorithm,
            "DryRun": input.dry_run,
            "DryRunModifiers": input.dry_run_modifiers,
        });
        let (reply, _) = self.call(caller, KmsOperation::Decrypt, &strip_nulls(request))?;
        let decrypted: Decrypted = parse(&reply)?;
        Ok(DecryptOutput {
            key_arn: decrypted.key_id,
            plaintext: secret(&decrypted.plaintext)?,
            encryption_algorithm: keyward_kms::ENCRYPTION_ALGORITHM,
            key_material_id: decrypted.key_material_id,
        })
    }

    fn create_grant(
        &self,
        caller: &Caller,
        input: CreateGrantInput,
    ) -> Result<CreateGrantOutput, KmsCallError> {
        let request = json!({
            "KeyId": input.key_id,
            "GranteePrincipal": input.grantee_principal,
            "RetiringPrincipal": input.retiring_principal,
            "Operations": input.operations,
            "Constraints": input.constraints.map(|c| json!({
                "EncryptionContextSubset": c.encryption_context_subset,
                "EncryptionContextEquals": c.encryption_context_equals,
            })),
            "GrantTokens": input.grant_tokens,
            "Name": input.name,
            "DryRun": input.dry_run,
        });
        let (reply, facts) = self.call(caller, KmsOperation::CreateGrant, &strip_nulls(request))?;
        let granted: Granted = parse(&reply)?;
        Ok(CreateGrantOutput {
            grant_token: granted.grant_token,
            grant_id: granted.grant_id,
            key_arn: facts
                .keys()
                .first()
                .cloned()
                .ok_or_else(|| internal("a grant's key"))?,
        })
    }

    fn retire_grant(
        &self,
        caller: &Caller,
        input: RetireGrantInput,
    ) -> Result<RetiredGrant, KmsCallError> {
        let request = json!({
            "GrantToken": input.grant_token,
            "KeyId": input.key_id,
            "GrantId": input.grant_id,
            "DryRun": input.dry_run,
        });
        let (_, facts) = self.call(caller, KmsOperation::RetireGrant, &strip_nulls(request))?;
        let key_arn = facts
            .keys()
            .first()
            .cloned()
            .ok_or_else(|| internal("a retired grant's key"))?;
        // By token, the grant is the one the token named.
        let grant_id = input.grant_id.or(facts.grant_id).unwrap_or_default();
        Ok(RetiredGrant { grant_id, key_arn })
    }
}

/// Leaves out the members the input did not set, as an SDK does (a `null`
/// member is not the same request as an absent one: it would be logged).
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| (name, strip_nulls(value)))
                .collect(),
        ),
        other => other,
    }
}
