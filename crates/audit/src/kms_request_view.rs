//! What a KMS event says about its request, borrowed from the request where
//! it can be, for the event writer.
//!
//! [`KmsRequestView`] has the same fields as [`crate::KmsRequestParameters`]
//! and is written with the same member names in the same order, but holds
//! `Cow<str>`: a server that reads the request body in place lends the
//! members instead of copying them, and only a member that had to be decoded
//! (an escaped string) or rendered (a number where text was expected) is
//! owned. Like the typed builder it has no field for plaintext, ciphertext
//! blobs, data keys, grant tokens, import material or signed messages (the
//! invariant of [`crate::event_object`]).
//!
//! This module does not decide which members an operation logs, nor how a
//! member of an unexpected JSON type is rendered: the server does, as it does
//! for the typed builder.

use std::borrow::Cow;

use crate::json_text::{key, push_str, Key, ObjectWriter};

/// `requestParameters` of a KMS call, borrowed; see the module comment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsRequestView<'a> {
    pub key_id: Option<Cow<'a, str>>,
    pub grant_id: Option<Cow<'a, str>>,
    pub encryption_context: Option<ContextView<'a>>,
    pub encryption_algorithm: Option<Cow<'a, str>>,
    pub key_spec: Option<Cow<'a, str>>,
    pub number_of_bytes: Option<u64>,
    pub key_pair_spec: Option<Cow<'a, str>>,
    pub mac_algorithm: Option<Cow<'a, str>>,
    pub signing_algorithm: Option<Cow<'a, str>>,
    pub message_type: Option<Cow<'a, str>>,
    pub source_key_id: Option<Cow<'a, str>>,
    pub source_encryption_context: Option<ContextView<'a>>,
    pub source_encryption_algorithm: Option<Cow<'a, str>>,
    pub destination_key_id: Option<Cow<'a, str>>,
    pub destination_encryption_context: Option<ContextView<'a>>,
    pub destination_encryption_algorithm: Option<Cow<'a, str>>,
    pub grantee_principal: Option<Cow<'a, str>>,
    pub retiring_principal: Option<Cow<'a, str>>,
    pub operations: Option<Vec<Cow<'a, str>>>,
    pub constraints: Option<GrantConstraintsView<'a>>,
    pub name: Option<Cow<'a, str>>,
    pub policy: Option<Cow<'a, str>>,
    pub policy_name: Option<Cow<'a, str>>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub description: Option<Cow<'a, str>>,
    pub key_usage: Option<Cow<'a, str>>,
    pub origin: Option<Cow<'a, str>>,
    pub customer_master_key_spec: Option<Cow<'a, str>>,
    pub multi_region: Option<bool>,
    pub custom_key_store_id: Option<Cow<'a, str>>,
    pub xks_key_id: Option<Cow<'a, str>>,
    /// `(tagKey, tagValue)`.
    pub tags: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
    pub tag_keys: Option<Vec<Cow<'a, str>>>,
    pub alias_name: Option<Cow<'a, str>>,
    pub target_key_id: Option<Cow<'a, str>>,
    pub pending_window_in_days: Option<u64>,
    pub rotation_period_in_days: Option<u64>,
    pub wrapping_algorithm: Option<Cow<'a, str>>,
    pub wrapping_key_spec: Option<Cow<'a, str>>,
    pub expiration_model: Option<Cow<'a, str>>,
    pub valid_to: Option<Cow<'a, str>>,
    pub replica_region: Option<Cow<'a, str>>,
    pub primary_region: Option<Cow<'a, str>>,
    pub limit: Option<u64>,
    pub marker: Option<Cow<'a, str>>,
    pub dry_run: Option<bool>,
}

/// An encryption context: its pairs sorted by key, each key once.
///
/// Sorted because that is how keyward has always logged contexts (they were
/// read into serde_json's `Map`, which sorts), and a context is a JSON object,
/// whose member order carries no meaning. Each key once because a JSON object
/// with a repeated name is read differently by different readers; like
/// serde_json's `Map`, the last value wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContextView<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// `constraints` of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantConstraintsView<'a> {
    pub encryption_context_subset: Option<ContextView<'a>>,
    pub encryption_context_equals: Option<ContextView<'a>>,
}

/// `additionalEventData` of a KMS event, borrowed: the members of
/// [`crate::KmsAdditionalEventData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KmsAdditionalView<'a> {
    pub key_material_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub custom_key_store_id: Option<&'a str>,
}

impl<'a> ContextView<'a> {
    /// The context of `pairs` given in document order: sorted by key, and a
    /// repeated key keeps its last value.
    pub fn from_members(mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> Self {
        // Stable, so the pairs of one key stay in document order.
        pairs.sort_by(|(a, _), (b, _)| a.cmp(b));
        // `dedup_by` keeps the first of a run; it takes the later value.
        pairs.dedup_by(|later, kept| {
            let repeated = later.0 == kept.0;
            if repeated {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            repeated
        });
        ContextView { pairs }
    }

    /// The pairs, sorted by key, each key once.
    pub fn pairs(&self) -> &[(Cow<'a, str>, Cow<'a, str>)] {
        &self.pairs
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            push_str(out, key);
            out.push(b':');
            push_str(out, value);
        }
        out.push(b'}');
    }

    /// `{"key":"value",…}` when no text needs an escape.
    fn size_hint(&self) -> usize {
        self.pairs
            .iter()
            .map(|(key, value)| key.len() + value.len() + 6)
            .sum::<usize>()
            + 1
    }
}

impl KmsRequestView<'_> {
    /// Appends the `requestParameters` object, members in the order of
    /// `From<KmsRequestParameters> for EventObject`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::open(out);
        object.opt_str(key!("keyId"), self.key_id.as_deref());
        object.opt_str(key!("grantId"), self.grant_id.as_deref());
        write_context(
            &mut object,
            key!("encryptionContext"),
            &self.encryption_context,
        );
        object.opt_str(
            key!("encryptionAlgorithm"),
            self.encryption_algorithm.as_deref(),
        );
        object.opt_str(key!("keySpec"), self.key_spec.as_deref());
        object.opt_u64(key!("numberOfBytes"), self.number_of_bytes);
        object.opt_str(key!("keyPairSpec"), self.key_pair_spec.as_deref());
        object.opt_str(key!("macAlgorithm"), self.mac_algorithm.as_deref());
        object.opt_str(key!("signingAlgorithm"), self.signing_algorithm.as_deref());
        object.opt_str(key!("messageType"), self.message_type.as_deref());
        object.opt_str(key!("sourceKeyId"), self.source_key_id.as_deref());
        write_context(
            &mut object,
            key!("sourceEncryptionContext"),
            &self.source_encryption_context,
        );
        object.opt_str(
            key!("sourceEncryptionAlgorithm"),
            self.source_encryption_algorithm.as_deref(),
        );
        object.opt_str(key!("destinationKeyId"), self.destination_key_id.as_deref());
        write_context(
            &mut object,
            key!("destinationEncryptionContext"),
            &self.destination_encryption_context,
        );
        object.opt_str(
            key!("destinationEncryptionAlgorithm"),
            self.destination_encryption_algorithm.as_deref(),
        );
        object.opt_str(key!("granteePrincipal"), self.grantee_principal.as_deref());
        object.opt_str(
            key!("retiringPrincipal"),
            self.retiring_principal.as_deref(),
        );
        write_strings(&mut object, key!("operations"), &self.operations);
        if let Some(constraints) = &self.constraints {
            let mut inner = ObjectWriter::open(object.member(key!("constraints")));
            write_context(
                &mut inner,
                key!("encryptionContextSubset"),
                &constraints.encryption_context_subset,
            );
            write_context(
                &mut inner,
                key!("encryptionContextEquals"),
                &constraints.encryption_context_equals,
            );
            inner.close();
        }
        object.opt_str(key!("name"), self.name.as_deref());
        object.opt_str(key!("policy"), self.policy.as_deref());
        object.opt_str(key!("policyName"), self.policy_name.as_deref());
        object.opt_bool(
            key!("bypassPolicyLockoutSafetyCheck"),
            self.bypass_policy_lockout_safety_check,
        );
        object.opt_str(key!("description"), self.description.as_deref());
        object.opt_str(key!("keyUsage"), self.key_usage.as_deref());
        object.opt_str(key!("origin"), self.origin.as_deref());
        object.opt_str(
            key!("customerMasterKeySpec"),
            self.customer_master_key_spec.as_deref(),
        );
        object.opt_bool(key!("multiRegion"), self.multi_region);
        object.opt_str(
            key!("customKeyStoreId"),
            self.custom_key_store_id.as_deref(),
        );
        object.opt_str(key!("xksKeyId"), self.xks_key_id.as_deref());
        if let Some(tags) = &self.tags {
            let out = object.member(key!("tags"));
            out.push(b'[');
            for (index, (tag_key, tag_value)) in tags.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                let mut tag = ObjectWriter::open(out);
                tag.str(key!("tagKey"), tag_key);
                tag.str(key!("tagValue"), tag_value);
                tag.close();
            }
            out.push(b']');
        }
        write_strings(&mut object, key!("tagKeys"), &self.tag_keys);
        object.opt_str(key!("aliasName"), self.alias_name.as_deref());
        object.opt_str(key!("targetKeyId"), self.target_key_id.as_deref());
        object.opt_u64(key!("pendingWindowInDays"), self.pending_window_in_days);
        object.opt_u64(key!("rotationPeriodInDays"), self.rotation_period_in_days);
        object.opt_str(
            key!("wrappingAlgorithm"),
            self.wrapping_algorithm.as_deref(),
        );
        object.opt_str(key!("wrappingKeySpec"), self.wrapping_key_spec.as_deref());
        object.opt_str(key!("expirationModel"), self.expiration_model.as_deref());
        object.opt_str(key!("validTo"), self.valid_to.as_deref());
        object.opt_str(key!("replicaRegion"), self.replica_region.as_deref());
        object.opt_str(key!("primaryRegion"), self.primary_region.as_deref());
        object.opt_u64(key!("limit"), self.limit);
        object.opt_str(key!("marker"), self.marker.as_deref());
        object.opt_bool(key!("dryRun"), self.dry_run);
        object.close();
    }

    /// About how many bytes [`KmsRequestView::write`] writes: the common
    /// members and contexts (the rarer ones may grow the buffer).
    pub(crate) fn size_hint(&self) -> usize {
        let text: usize = [
            &self.key_id,
            &self.encryption_algorithm,
            &self.key_spec,
            &self.source_key_id,
            &self.destination_key_id,
            &self.description,
            &self.policy,
        ]
        .iter()
        .map(|member| member.as_ref().map_or(0, |text| text.len() + 24))
        .sum();
        let contexts: usize = [
            &self.encryption_context,
            &self.source_encryption_context,
            &self.destination_encryption_context,
        ]
        .iter()
        .map(|context| {
            context
                .as_ref()
                .map_or(0, |context| context.size_hint() + 32)
        })
        .sum();
        text + contexts + 32
    }
}

impl KmsAdditionalView<'_> {
    /// Appends the `additionalEventData` object, members in the order of
    /// `From<KmsAdditionalEventData> for EventObject`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::open(out);
        object.opt_str(key!("keyMaterialId"), self.key_material_id);
        object.opt_str(key!("grantId"), self.grant_id);
        object.opt_str(key!("customKeyStoreId"), self.custom_key_store_id);
        object.close();
    }
}

fn write_context(object: &mut ObjectWriter<'_>, key: Key, context: &Option<ContextView<'_>>) {
    if let Some(context) = context {
        context.write(object.member(key));
    }
}

fn write_strings(object: &mut ObjectWriter<'_>, key: Key, items: &Option<Vec<Cow<'_, str>>>) {
    if let Some(items) = items {
        let out = object.member(key);
        out.push(b'[');
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            push_str(out, item);
        }
        out.push(b']');
    }
}

/// The typed builders' values for the same members: the reference the
/// writer's bytes are checked against.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;
    use crate::kms_elements::{
        ContextPairs, GrantConstraints, KmsAdditionalEventData, KmsRequestParameters,
    };

    fn owned(text: &Option<Cow<'_, str>>) -> Option<String> {
        text.as_deref().map(str::to_owned)
    }

    fn pairs(context: &Option<ContextView<'_>>) -> Option<ContextPairs> {
        context.as_ref().map(|context| {
            context
                .pairs()
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect()
        })
    }

    fn strings(items: &Option<Vec<Cow<'_, str>>>) -> Option<Vec<String>> {
        items
            .as_ref()
            .map(|items| items.iter().map(|item| item.to_string()).collect())
    }

    impl From<&KmsRequestView<'_>> for KmsRequestParameters {
        fn from(view: &KmsRequestView<'_>) -> Self {
            KmsRequestParameters {
                key_id: owned(&view.key_id),
                grant_id: owned(&view.grant_id),
                encryption_context: pairs(&view.encryption_context),
                encryption_algorithm: owned(&view.encryption_algorithm),
                key_spec: owned(&view.key_spec),
                number_of_bytes: view.number_of_bytes,
                key_pair_spec: owned(&view.key_pair_spec),
                mac_algorithm: owned(&view.mac_algorithm),
                signing_algorithm: owned(&view.signing_algorithm),
                message_type: owned(&view.message_type),
                source_key_id: owned(&view.source_key_id),
                source_encryption_context: pairs(&view.source_encryption_context),
                source_encryption_algorithm: owned(&view.source_encryption_algorithm),
                destination_key_id: owned(&view.destination_key_id),
                destination_encryption_context: pairs(&view.destination_encryption_context),
                destination_encryption_algorithm: owned(&view.destination_encryption_algorithm),
                grantee_principal: owned(&view.grantee_principal),
                retiring_principal: owned(&view.retiring_principal),
                operations: strings(&view.operations),
                constraints: view.constraints.as_ref().map(|c| GrantConstraints {
                    encryption_context_subset: pairs(&c.encryption_context_subset),
                    encryption_context_equals: pairs(&c.encryption_context_equals),
                }),
                name: owned(&view.name),
                policy: owned(&view.policy),
                policy_name: owned(&view.policy_name),
                bypass_policy_lockout_safety_check: view.bypass_policy_lockout_safety_check,
                description: owned(&view.description),
                key_usage: owned(&view.key_usage),
                origin: owned(&view.origin),
                customer_master_key_spec: owned(&view.customer_master_key_spec),
                multi_region: view.multi_region,
                custom_key_store_id: owned(&view.custom_key_store_id),
                xks_key_id: owned(&view.xks_key_id),
                tags: view.tags.as_ref().map(|tags| {
                    tags.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                tag_keys: strings(&view.tag_keys),
                alias_name: owned(&view.alias_name),
                target_key_id: owned(&view.target_key_id),
                pending_window_in_days: view.pending_window_in_days,
                rotation_period_in_days: view.rotation_period_in_days,
                wrapping_algorithm: owned(&view.wrapping_algorithm),
                wrapping_key_spec: owned(&view.wrapping_key_spec),
                expiration_model: owned(&view.expiration_model),
                valid_to: owned(&view.valid_to),
                replica_region: owned(&view.replica_region),
                primary_region: owned(&view.primary_region),
                limit: view.limit,
                marker: owned(&view.marker),
                dry_run: view.dry_run,
            }
        }
    }

    impl From<&KmsAdditionalView<'_>> for KmsAdditionalEventData {
        fn from(view: &KmsAdditionalView<'_>) -> Self {
            KmsAdditionalEventData {
                key_material_id: view.key_material_id.map(str::to_owned),
                grant_id: view.grant_id.map(str::to_owned),
                custom_key_store_id: view.custom_key_store_id.map(str::to_owned),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_object::EventObject;
    use crate::kms_elements::KmsRequestParameters;

    fn check(view: &KmsRequestView<'_>) {
        let mut written = Vec::new();
        view.write(&mut written);
        let reference =
            serde_json::to_vec(&EventObject::from(KmsRequestParameters::from(view))).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    fn text(value: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(value))
    }

    fn context<'a>(pairs: &[(&'a str, &'a str)]) -> Option<ContextView<'a>> {
        Some(ContextView::from_members(
            pairs
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
                .collect(),
        ))
    }

    #[test]
    fn a_context_is_sorted_and_a_repeated_key_keeps_its_last_value() {
        let context = context(&[("b", "1"), ("a", "2"), ("b", "3"), ("", "4")]).unwrap();
        let keys: Vec<(&str, &str)> = context
            .pairs()
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(keys, [("", "4"), ("a", "2"), ("b", "3")]);
    }

    #[test]
    fn every_member_is_written_as_the_typed_builder_writes_it() {
        check(&KmsRequestView::default());
        let everything = KmsRequestView {
            key_id: text("k\"\\\n"),
            grant_id: text(""),
            encryption_context: context(&[("purpose", "tést"), ("\u{1}", "\u{7f}")]),
            encryption_algorithm: text("SYMMETRIC_DEFAULT"),
            key_spec: text("AES_256"),
            number_of_bytes: Some(32),
            key_pair_spec: text("RSA_2048"),
            mac_algorithm: text("HMAC_SHA_256"),
            signing_algorithm: text("RSASSA_PSS_SHA_256"),
            message_type: text("RAW"),
            source_key_id: text("s"),
            source_encryption_context: context(&[]),
            source_encryption_algorithm: text("SYMMETRIC_DEFAULT"),
            destination_key_id: text("d"),
            destination_encryption_context: context(&[("a", "")]),
            destination_encryption_algorithm: text("SYMMETRIC_DEFAULT"),
            grantee_principal: text("arn:aws:iam::1:root"),
            retiring_principal: text("arn:aws:iam::2:root"),
            operations: Some(vec![Cow::Borrowed("Decrypt"), Cow::Borrowed("Encrypt")]),
            constraints: Some(GrantConstraintsView {
                encryption_context_subset: context(&[("x", "y")]),
                encryption_context_equals: None,
            }),
            name: text("grant"),
            policy: text("{\"Version\":\"2012-10-17\"}"),
            policy_name: text("default"),
            bypass_policy_lockout_safety_check: Some(false),
            description: text("a\tb"),
            key_usage: text("ENCRYPT_DECRYPT"),
            origin: text("AWS_KMS"),
            customer_master_key_spec: text("SYMMETRIC_DEFAULT"),
            multi_region: Some(true),
            custom_key_store_id: text("cks"),
            xks_key_id: text("xks"),
            tags: Some(vec![
                (Cow::Borrowed("Department"), Cow::Borrowed("IT")),
                (Cow::Borrowed(""), Cow::Borrowed("")),
            ]),
            tag_keys: Some(vec![]),
            alias_name: text("alias/a"),
            target_key_id: text("t"),
            pending_window_in_days: Some(7),
            rotation_period_in_days: Some(365),
            wrapping_algorithm: text("RSAES_OAEP_SHA_256"),
            wrapping_key_spec: text("RSA_4096"),
            expiration_model: text("KEY_MATERIAL_DOES_NOT_EXPIRE"),
            valid_to: text("Nov 2, 2021, 11:25:25 PM"),
            replica_region: text("eu-west-1"),
            primary_region: text("us-east-1"),
            limit: Some(u64::MAX),
            marker: text("m"),
            dry_run: Some(true),
        };
        check(&everything);
        check(&KmsRequestView {
            constraints: Some(GrantConstraintsView::default()),
            tags: Some(vec![]),
            ..KmsRequestView::default()
        });
    }

    #[test]
    fn additional_event_data_is_written_as_the_typed_builder_writes_it() {
        use crate::kms_elements::KmsAdditionalEventData;
        for view in [
            KmsAdditionalView::default(),
            KmsAdditionalView {
                key_material_id: Some("ab"),
                grant_id: Some("g"),
                custom_key_store_id: Some("c"),
            },
            KmsAdditionalView {
                grant_id: Some("g\""),
                ..KmsAdditionalView::default()
            },
        ] {
            let mut written = Vec::new();
            view.write(&mut written);
            let reference =
                serde_json::to_vec(&EventObject::from(KmsAdditionalEventData::from(&view)))
                    .unwrap();
            assert_eq!(written, reference);
        }
    }
}
