//! Typed builders for what a KMS event says about its request.
//!
//! Each builder lists the members KMS writes for some operation, with the
//! camelCase names CloudTrail uses, and turns into an [`EventObject`]. There is
//! no field for plaintext, ciphertext blobs, data keys, grant tokens, import
//! tokens or signed messages, so a caller cannot log them by mistake (the
//! invariant of [`crate::event_object`]).
//!
//! Member names and shapes come from the KMS CloudTrail examples,
//! <https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html>
//! and its `ct-*.html` pages (CreateKey, CreateGrant, ReEncrypt, TagResource,
//! ScheduleKeyDeletion, RetireGrant …), and from the seed records. Members are
//! written in the order the fields are declared; an unset field is left out.
//!
//! This module does not decide *which* members an operation logs: the caller,
//! which knows the operation, fills in the fields AWS fills in (for example
//! `encryptionAlgorithm` on every Decrypt, even when the request did not send
//! it).

use time::OffsetDateTime;

use crate::event_object::EventObject;
use crate::json::{JsonObject, JsonValue};
use crate::time_format::format_response_date;

/// Encryption context pairs, in the order the request gave them.
pub type ContextPairs = Vec<(String, String)>;

/// `requestParameters` of a KMS call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsRequestParameters {
    /// As the caller sent it: key id, key ARN, alias name or alias ARN.
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub encryption_context: Option<ContextPairs>,
    pub encryption_algorithm: Option<String>,
    pub key_spec: Option<String>,
    pub number_of_bytes: Option<u64>,
    pub key_pair_spec: Option<String>,
    pub mac_algorithm: Option<String>,
    pub signing_algorithm: Option<String>,
    pub message_type: Option<String>,
    /// ReEncrypt.
    pub source_key_id: Option<String>,
    pub source_encryption_context: Option<ContextPairs>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_key_id: Option<String>,
    pub destination_encryption_context: Option<ContextPairs>,
    pub destination_encryption_algorithm: Option<String>,
    /// CreateGrant.
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Option<Vec<String>>,
    pub constraints: Option<GrantConstraints>,
    /// The grant's `Name` (CreateGrant).
    pub name: Option<String>,
    /// CreateKey and key policies.
    pub policy: Option<String>,
    pub policy_name: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub origin: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub multi_region: Option<bool>,
    pub custom_key_store_id: Option<String>,
    pub xks_key_id: Option<String>,
    /// Tags as `[{"tagKey": …, "tagValue": …}]`.
    pub tags: Option<Vec<(String, String)>>,
    pub tag_keys: Option<Vec<String>>,
    /// Aliases.
    pub alias_name: Option<String>,
    pub target_key_id: Option<String>,
    /// Deletion and rotation.
    pub pending_window_in_days: Option<u64>,
    pub rotation_period_in_days: Option<u64>,
    /// Imported key material (the material and the import token are never logged).
    pub wrapping_algorithm: Option<String>,
    pub wrapping_key_spec: Option<String>,
    pub expiration_model: Option<String>,
    pub valid_to: Option<String>,
    /// Multi-Region keys.
    pub replica_region: Option<String>,
    pub primary_region: Option<String>,
    /// Paging of List* calls.
    pub limit: Option<u64>,
    pub marker: Option<String>,
    pub dry_run: Option<bool>,
}

/// `constraints` of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantConstraints {
    pub encryption_context_subset: Option<ContextPairs>,
    pub encryption_context_equals: Option<ContextPairs>,
}

/// `responseElements` of the KMS calls that have any (CreateKey, CreateGrant,
/// RetireGrant, ScheduleKeyDeletion, CancelKeyDeletion …). Cryptographic
/// operations and most others log `"responseElements": null`, which is what
/// an event has unless the caller sets these.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsResponseElements {
    pub key_metadata: Option<KeyMetadataElement>,
    /// CreateGrant returns the grant id (never the grant token).
    pub grant_id: Option<String>,
    /// A key ARN.
    pub key_id: Option<String>,
    pub key_state: Option<String>,
    /// Written in the display form of [`format_response_date`].
    pub deletion_date: Option<OffsetDateTime>,
    pub pending_window_in_days: Option<u64>,
    pub custom_key_store_id: Option<String>,
}

/// `responseElements.keyMetadata` of CreateKey. CloudTrail spells the account
/// member `aWSAccountId` and writes dates in display form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyMetadataElement {
    pub aws_account_id: Option<String>,
    pub key_id: Option<String>,
    pub arn: Option<String>,
    pub creation_date: Option<OffsetDateTime>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_state: Option<String>,
    pub deletion_date: Option<OffsetDateTime>,
    pub valid_to: Option<OffsetDateTime>,
    pub origin: Option<String>,
    pub custom_key_store_id: Option<String>,
    pub key_manager: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub key_spec: Option<String>,
    pub encryption_algorithms: Option<Vec<String>>,
    pub multi_region: Option<bool>,
}

/// `additionalEventData` of a KMS event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsAdditionalEventData {
    /// Which key material served a cryptographic operation (2025+ records).
    pub key_material_id: Option<String>,
    /// The grant retired when RetireGrant was called with a grant token; the
    /// token itself is not logged and `requestParameters` is `null`.
    pub grant_id: Option<String>,
    pub custom_key_store_id: Option<String>,
}

/// `serviceEventDetails` of a KMS service event (scheduled rotation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsServiceEventDetails {
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub rotation_type: Option<String>,
    pub key_id: Option<String>,
}

/// Collects set members in declaration order.
struct MemberWriter(JsonObject);

impl MemberWriter {
    fn new() -> Self {
        MemberWriter(JsonObject::new())
    }

    fn put(&mut self, name: &str, value: Option<impl Into<JsonValue>>) {
        if let Some(value) = value {
            self.0.insert(name, value);
        }
    }

    fn put_context(&mut self, name: &str, context: Option<ContextPairs>) {
        self.put(name, context.map(context_object));
    }

    fn put_date(&mut self, name: &str, date: Option<OffsetDateTime>) {
        self.put(name, date.map(format_response_date));
    }

    fn finish(self) -> JsonObject {
        self.0
    }
}

fn context_object(pairs: ContextPairs) -> JsonObject {
    pairs.into_iter().collect()
}

impl From<KmsRequestParameters> for EventObject {
    fn from(parameters: KmsRequestParameters) -> Self {
        let mut writer = MemberWriter::new();
        writer.put("keyId", parameters.key_id);
        writer.put("grantId", parameters.grant_id);
        writer.put_context("encryptionContext", parameters.encryption_context);
        writer.put("encryptionAlgorithm", parameters.encryption_algorithm);
        writer.put("keySpec", parameters.key_spec);
        writer.put("numberOfBytes", parameters.number_of_bytes);
        writer.put("keyPairSpec", parameters.key_pair_spec);
        writer.put("macAlgorithm", parameters.mac_algorithm);
        writer.put("signingAlgorithm", parameters.signing_algorithm);
        writer.put("messageType", parameters.message_type);
        writer.put("sourceKeyId", parameters.source_key_id);
        writer.put_context(
            "sourceEncryptionContext",
            parameters.source_encryption_context,
        );
        writer.put(
            "sourceEncryptionAlgorithm",
            parameters.source_encryption_algorithm,
        );
        writer.put("destinationKeyId", parameters.destination_key_id);
        writer.put_context(
            "destinationEncryptionContext",
            parameters.destination_encryption_context,
        );
        writer.put(
            "destinationEncryptionAlgorithm",
            parameters.destination_encryption_algorithm,
        );
        writer.put("granteePrincipal", parameters.grantee_principal);
        writer.put("retiringPrincipal", parameters.retiring_principal);
        writer.put("operations", parameters.operations);
        writer.put(
            "constraints",
            parameters.constraints.map(constraints_object),
        );
        writer.put("name", parameters.name);
        writer.put("policy", parameters.policy);
        writer.put("policyName", parameters.policy_name);
        writer.put(
            "bypassPolicyLockoutSafetyCheck",
            parameters.bypass_policy_lockout_safety_check,
        );
        writer.put("description", parameters.description);
        writer.put("keyUsage", parameters.key_usage);
        writer.put("origin", parameters.origin);
        writer.put("customerMasterKeySpec", parameters.customer_master_key_spec);
        writer.put("multiRegion", parameters.multi_region);
        writer.put("customKeyStoreId", parameters.custom_key_store_id);
        writer.put("xksKeyId", parameters.xks_key_id);
        writer.put("tags", parameters.tags.map(tag_list));
        writer.put("tagKeys", parameters.tag_keys);
        writer.put("aliasName", parameters.alias_name);
        writer.put("targetKeyId", parameters.target_key_id);
        writer.put("pendingWindowInDays", parameters.pending_window_in_days);
        writer.put("rotationPeriodInDays", parameters.rotation_period_in_days);
        writer.put("wrappingAlgorithm", parameters.wrapping_algorithm);
        writer.put("wrappingKeySpec", parameters.wrapping_key_spec);
        writer.put("expirationModel", parameters.expiration_model);
        writer.put("validTo", parameters.valid_to);
        writer.put("replicaRegion", parameters.replica_region);
        writer.put("primaryRegion", parameters.primary_region);
        writer.put("limit", parameters.limit);
        writer.put("marker", parameters.marker);
        writer.put("dryRun", parameters.dry_run);
        EventObject::from_builder(writer.finish())
    }
}

fn constraints_object(constraints: GrantConstraints) -> JsonObject {
    let mut writer = MemberWriter::new();
    writer.put_context(
        "encryptionContextSubset",
        constraints.encryption_context_subset,
    );
    writer.put_context(
        "encryptionContextEquals",
        constraints.encryption_context_equals,
    );
    writer.finish()
}

fn tag_list(tags: Vec<(String, String)>) -> Vec<JsonValue> {
    tags.into_iter()
        .map(|(tag_key, tag_value)| {
            JsonValue::Object(
                [("tagKey", tag_key), ("tagValue", tag_value)]
                    .into_iter()
                    .collect(),
            )
        })
        .collect()
}

impl From<KmsResponseElements> for EventObject {
    fn from(elements: KmsResponseElements) -> Self {
        let mut writer = MemberWriter::new();
        writer.put(
            "keyMetadata",
            elements.key_metadata.map(key_metadata_object),
        );
        writer.put("grantId", elements.grant_id);
        writer.put("keyId", elements.key_id);
        writer.put("keyState", elements.key_state);
        writer.put_date("deletionDate", elements.deletion_date);
        writer.put("pendingWindowInDays", elements.pending_window_in_days);
        writer.put("customKeyStoreId", elements.custom_key_store_id);
        EventObject::from_builder(writer.finish())
    }
}

fn key_metadata_object(metadata: KeyMetadataElement) -> JsonObject {
    let mut writer = MemberWriter::new();
    writer.put("aWSAccountId", metadata.aws_account_id);
    writer.put("keyId", metadata.key_id);
    writer.put("arn", metadata.arn);
    writer.put_date("creationDate", metadata.creation_date);
    writer.put("enabled", metadata.enabled);
    writer.put("description", metadata.description);
    writer.put("keyUsage", metadata.key_usage);
    writer.put("keyState", metadata.key_state);
    writer.put_date("deletionDate", metadata.deletion_date);
    writer.put_date("validTo", metadata.valid_to);
    writer.put("origin", metadata.origin);
    writer.put("customKeyStoreId", metadata.custom_key_store_id);
    writer.put("keyManager", metadata.key_manager);
    writer.put("customerMasterKeySpec", metadata.customer_master_key_spec);
    writer.put("keySpec", metadata.key_spec);
    writer.put("encryptionAlgorithms", metadata.encryption_algorithms);
    writer.put("multiRegion", metadata.multi_region);
    writer.finish()
}

impl From<KmsAdditionalEventData> for EventObject {
    fn from(data: KmsAdditionalEventData) -> Self {
        let mut writer = MemberWriter::new();
        writer.put("keyMaterialId", data.key_material_id);
        writer.put("grantId", data.grant_id);
        writer.put("customKeyStoreId", data.custom_key_store_id);
        EventObject::from_builder(writer.finish())
    }
}

impl From<KmsServiceEventDetails> for EventObject {
    fn from(details: KmsServiceEventDetails) -> Self {
        let mut writer = MemberWriter::new();
        writer.put("rotationType", details.rotation_type);
        writer.put("keyId", details.key_id);
        EventObject::from_builder(writer.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn json(object: impl Into<EventObject>) -> String {
        serde_json::to_string(&object.into()).unwrap()
    }

    #[test]
    fn decrypt_parameters_as_in_the_seed() {
        let parameters = KmsRequestParameters {
            key_id: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            encryption_context: Some(vec![("aws:kinesisanalytics:arn".into(), "app".into())]),
            encryption_algorithm: Some("SYMMETRIC_DEFAULT".into()),
            dry_run: Some(true),
            ..KmsRequestParameters::default()
        };
        assert_eq!(
            json(parameters),
            r#"{"keyId":"arn:aws:kms:us-east-1:123456789012:key/k","encryptionContext":{"aws:kinesisanalytics:arn":"app"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT","dryRun":true}"#
        );
    }

    #[test]
    fn create_grant_parameters_and_response() {
        let parameters = KmsRequestParameters {
            key_id: Some("k".into()),
            grantee_principal: Some("fargate.us-west-2.amazonaws.com".into()),
            retiring_principal: Some("ec2.us-west-2.amazonaws.com".into()),
            operations: Some(vec!["Decrypt".into()]),
            constraints: Some(GrantConstraints {
                encryption_context_subset: Some(vec![
                    ("b".into(), "2".into()),
                    ("a".into(), "1".into()),
                ]),
                encryption_context_equals: None,
            }),
            ..KmsRequestParameters::default()
        };
        assert_eq!(
            json(parameters),
            r#"{"keyId":"k","granteePrincipal":"fargate.us-west-2.amazonaws.com","retiringPrincipal":"ec2.us-west-2.amazonaws.com","operations":["Decrypt"],"constraints":{"encryptionContextSubset":{"b":"2","a":"1"}}}"#
        );
        let response = KmsResponseElements {
            grant_id: Some("e3b0".into()),
            key_id: Some("k".into()),
            ..KmsResponseElements::default()
        };
        assert_eq!(json(response), r#"{"grantId":"e3b0","keyId":"k"}"#);
    }

    #[test]
    fn tags_and_dates_use_the_cloudtrail_shapes() {
        let parameters = KmsRequestParameters {
            key_id: Some("k".into()),
            tags: Some(vec![("Department".into(), "IT".into())]),
            ..KmsRequestParameters::default()
        };
        assert_eq!(
            json(parameters),
            r#"{"keyId":"k","tags":[{"tagKey":"Department","tagValue":"IT"}]}"#
        );
        let response = KmsResponseElements {
            key_id: Some("k".into()),
            key_state: Some("PendingDeletion".into()),
            deletion_date: Some(datetime!(2021-11-02 23:25:25 UTC)),
            pending_window_in_days: Some(30),
            ..KmsResponseElements::default()
        };
        assert_eq!(
            json(response),
            r#"{"keyId":"k","keyState":"PendingDeletion","deletionDate":"Nov 2, 2021, 11:25:25 PM","pendingWindowInDays":30}"#
        );
    }

    #[test]
    fn create_key_metadata_spells_the_account_member_as_aws_does() {
        let response = KmsResponseElements {
            key_metadata: Some(KeyMetadataElement {
                aws_account_id: Some("111122223333".into()),
                creation_date: Some(datetime!(2022-08-10 22:38:27 UTC)),
                enabled: Some(true),
                encryption_algorithms: Some(vec!["SYMMETRIC_DEFAULT".into()]),
                ..KeyMetadataElement::default()
            }),
            ..KmsResponseElements::default()
        };
        assert_eq!(
            json(response),
            r#"{"keyMetadata":{"aWSAccountId":"111122223333","creationDate":"Aug 10, 2022, 10:38:27 PM","enabled":true,"encryptionAlgorithms":["SYMMETRIC_DEFAULT"]}}"#
        );
    }

    #[test]
    fn no_builder_writes_a_forbidden_member() {
        let everything = KmsRequestParameters {
            key_id: Some(String::new()),
            grant_id: Some(String::new()),
            encryption_context: Some(vec![]),
            encryption_algorithm: Some(String::new()),
            key_spec: Some(String::new()),
            number_of_bytes: Some(1),
            key_pair_spec: Some(String::new()),
            mac_algorithm: Some(String::new()),
            signing_algorithm: Some(String::new()),
            message_type: Some(String::new()),
            source_key_id: Some(String::new()),
            source_encryption_context: Some(vec![]),
            source_encryption_algorithm: Some(String::new()),
            destination_key_id: Some(String::new()),
            destination_encryption_context: Some(vec![]),
            destination_encryption_algorithm: Some(String::new()),
            grantee_principal: Some(String::new()),
            retiring_principal: Some(String::new()),
            operations: Some(vec![]),
            constraints: Some(GrantConstraints::default()),
            name: Some(String::new()),
            policy: Some(String::new()),
            policy_name: Some(String::new()),
            bypass_policy_lockout_safety_check: Some(false),
            description: Some(String::new()),
            key_usage: Some(String::new()),
            origin: Some(String::new()),
            customer_master_key_spec: Some(String::new()),
            multi_region: Some(false),
            custom_key_store_id: Some(String::new()),
            xks_key_id: Some(String::new()),
            tags: Some(vec![]),
            tag_keys: Some(vec![]),
            alias_name: Some(String::new()),
            target_key_id: Some(String::new()),
            pending_window_in_days: Some(7),
            rotation_period_in_days: Some(90),
            wrapping_algorithm: Some(String::new()),
            wrapping_key_spec: Some(String::new()),
            expiration_model: Some(String::new()),
            valid_to: Some(String::new()),
            replica_region: Some(String::new()),
            primary_region: Some(String::new()),
            limit: Some(1),
            marker: Some(String::new()),
            dry_run: Some(true),
        };
        let object = EventObject::from(everything);
        assert_eq!(object.as_json().len(), 46);
        // Reading the written object back goes through the forbidden-name check.
        let text = serde_json::to_string(&object).unwrap();
        assert_eq!(serde_json::from_str::<EventObject>(&text).unwrap(), object);
    }
}
