//! What a KMS call's event logs of its request (`requestParameters`), from
//! the decoded request: each request shape names its loggable members. The
//! view has no field for plaintext, ciphertext blobs, grant tokens or
//! recipient attestations, so those are never copied.

use std::borrow::Cow;

use keyward_audit::{ContextView, GrantConstraintsView, KmsRequestView};

use super::shapes::*;

/// A request shape whose loggable members go into its call's event.
pub(super) trait Logged {
    fn logged(&self) -> KmsRequestView<'static>;
}

fn text(value: &Option<String>) -> Option<Cow<'static, str>> {
    value.clone().map(Cow::Owned)
}

/// A count as AWS logs it: only a non-negative integer.
fn count(value: Option<i64>) -> Option<u64> {
    value.and_then(|value| u64::try_from(value).ok())
}

fn context(value: &ContextShape) -> Option<ContextView<'static>> {
    value.as_ref().map(|pairs| {
        ContextView::from_members(
            pairs
                .iter()
                .map(|(key, value)| (Cow::Owned(key.clone()), Cow::Owned(value.clone())))
                .collect(),
        )
    })
}

fn texts(values: &Option<Vec<String>>) -> Option<Vec<Cow<'static, str>>> {
    values
        .as_ref()
        .map(|values| values.iter().cloned().map(Cow::Owned).collect())
}

fn tags(values: &Option<Vec<TagShape>>) -> Option<Vec<(Cow<'static, str>, Cow<'static, str>)>> {
    values.as_ref().map(|tags| {
        tags.iter()
            .map(|tag| {
                (
                    Cow::Owned(tag.tag_key.clone().unwrap_or_default()),
                    Cow::Owned(tag.tag_value.clone().unwrap_or_default()),
                )
            })
            .collect()
    })
}

/// AWS writes the algorithm of every Encrypt and Decrypt, sent or not
/// (kms-api.md §12.1: "always present for Decrypt even if not sent").
fn algorithm_or_default(value: &Option<String>) -> Option<Cow<'static, str>> {
    Some(text(value).unwrap_or(Cow::Borrowed(keyward_kms::ENCRYPTION_ALGORITHM)))
}

impl Logged for KeyIdOnly {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for Paged {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            limit: count(self.limit),
            marker: text(&self.marker),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for KeyIdPaged {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            limit: count(self.limit),
            marker: text(&self.marker),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for CreateKeyRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            policy: text(&self.policy),
            description: text(&self.description),
            key_usage: text(&self.key_usage),
            customer_master_key_spec: text(&self.customer_master_key_spec),
            key_spec: text(&self.key_spec),
            origin: text(&self.origin),
            custom_key_store_id: text(&self.custom_key_store_id),
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
            tags: tags(&self.tags),
            multi_region: self.multi_region,
            xks_key_id: text(&self.xks_key_id),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for DescribeKeyRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for UpdateKeyDescriptionRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            description: text(&self.description),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for ScheduleKeyDeletionRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            pending_window_in_days: count(self.pending_window_in_days),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for EncryptRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            encryption_context: context(&self.encryption_context),
            encryption_algorithm: algorithm_or_default(&self.encryption_algorithm),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for DecryptRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            encryption_context: context(&self.encryption_context),
            encryption_algorithm: algorithm_or_default(&self.encryption_algorithm),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for ReEncryptRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            source_key_id: text(&self.source_key_id),
            source_encryption_context: context(&self.source_encryption_context),
            source_encryption_algorithm: text(&self.source_encryption_algorithm),
            destination_key_id: text(&self.destination_key_id),
            destination_encryption_context: context(&self.destination_encryption_context),
            destination_encryption_algorithm: text(&self.destination_encryption_algorithm),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for GenerateDataKeyRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            encryption_context: context(&self.encryption_context),
            key_spec: text(&self.key_spec),
            number_of_bytes: count(self.number_of_bytes),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for GenerateRandomRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            number_of_bytes: count(self.number_of_bytes),
            custom_key_store_id: text(&self.custom_key_store_id),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for AliasRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            alias_name: text(&self.alias_name),
            target_key_id: text(&self.target_key_id),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for EnableKeyRotationRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            rotation_period_in_days: count(self.rotation_period_in_days),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for ListKeyRotationsRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            limit: count(self.limit),
            marker: text(&self.marker),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for TagResourceRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            tags: tags(&self.tags),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for UntagResourceRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            tag_keys: texts(&self.tag_keys),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for GetKeyPolicyRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            policy_name: text(&self.policy_name),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for PutKeyPolicyRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            policy_name: text(&self.policy_name),
            policy: text(&self.policy),
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for CreateGrantRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            grantee_principal: text(&self.grantee_principal),
            retiring_principal: text(&self.retiring_principal),
            operations: texts(&self.operations),
            constraints: self
                .constraints
                .as_ref()
                .map(|constraints| GrantConstraintsView {
                    encryption_context_subset: context(&constraints.encryption_context_subset),
                    encryption_context_equals: context(&constraints.encryption_context_equals),
                }),
            name: text(&self.name),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for ListGrantsRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            grant_id: text(&self.grant_id),
            grantee_principal: text(&self.grantee_principal),
            limit: count(self.limit),
            marker: text(&self.marker),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for ListRetirableGrantsRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            retiring_principal: text(&self.retiring_principal),
            limit: count(self.limit),
            marker: text(&self.marker),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for RetireGrantRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            grant_id: text(&self.grant_id),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for RevokeGrantRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            grant_id: text(&self.grant_id),
            dry_run: self.dry_run,
            ..KmsRequestView::default()
        }
    }
}

impl Logged for GetParametersForImportRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            ..KmsRequestView::default()
        }
    }
}

/// The import token and the key material are never logged.
impl Logged for ImportKeyMaterialRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            ..KmsRequestView::default()
        }
    }
}

impl Logged for DeleteImportedKeyMaterialRequest {
    fn logged(&self) -> KmsRequestView<'static> {
        KmsRequestView {
            key_id: text(&self.key_id),
            ..KmsRequestView::default()
        }
    }
}
