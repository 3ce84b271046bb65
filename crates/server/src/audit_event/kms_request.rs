//! The request members a KMS event logs, read in place from the body.
//!
//! The body is read for the loggable members only ([`Member`]), so
//! plaintext, blobs, grant tokens and recipient attestations are skipped by
//! the deserializer without being copied; the members it reads are borrowed
//! from the body ([`Loose`]) into keyward-audit's [`KmsRequestView`].
//!
//! A member of an unexpected JSON type is logged as keyward always logged it:
//! text members as the value's compact JSON, numbers and flags only when they
//! are a non-negative integer or a boolean, lists keep their strings,
//! contexts keep their object members with non-string values as JSON, sorted
//! by key. A body that is not a JSON object, or repeats a member named here,
//! has no parameters (`"requestParameters": null`).

use std::borrow::Cow;
use std::fmt;

use keyward_audit::{ContextView, GrantConstraintsView, KmsRequestView};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::loose_json::{from_body, seed_from_body, ContextPairs, Loose, Text};

/// Reads `requestParameters` of the KMS call `operation` with this body into
/// `parameters` (a default view, filled in place: it is large, and an event
/// is written for every call); `false` when the body is not a JSON object of
/// members (see the module comment), and then `parameters` means nothing.
pub(super) fn read_request_parameters<'a>(
    operation: &str,
    body: &'a [u8],
    parameters: &mut KmsRequestView<'a>,
) -> bool {
    if seed_from_body(body, RequestMembers(parameters)).is_err() {
        return false;
    }
    // AWS writes the algorithm of every Decrypt and Encrypt, sent or not
    // (kms-api.md §12.1: "always present for Decrypt even if not sent").
    if matches!(operation, "Decrypt" | "Encrypt") && parameters.encryption_algorithm.is_none() {
        parameters.encryption_algorithm = Some(Cow::Borrowed("SYMMETRIC_DEFAULT"));
    }
    true
}

/// Declares [`Member`]: each loggable member's name in the request, the
/// field of [`KmsRequestView`] it fills and how it is read, in one list.
macro_rules! members {
    ($($name:ident => $field:ident: $read:ident,)*) => {
        /// A loggable member of a KMS request.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Member {
            $($name,)*
        }

        impl Member {
            /// In this order a JSON array body fills them, as serde's derive
            /// reads a struct from an array.
            const ALL: &'static [Member] = &[$(Member::$name,)*];
            const NAMES: &'static [&'static str] = &[$(stringify!($name),)*];

            fn named(name: &str) -> Option<Member> {
                match name {
                    $(stringify!($name) => Some(Member::$name),)*
                    _ => None,
                }
            }

            fn name(self) -> &'static str {
                match self {
                    $(Member::$name => stringify!($name),)*
                }
            }

            /// Reads the member's value from an object and sets its field.
            fn read_value<'de: 'a, 'a, A: MapAccess<'de>>(
                self,
                map: &mut A,
                view: &mut KmsRequestView<'a>,
            ) -> Result<(), A::Error> {
                match self {
                    $(Member::$name => view.$field = $read(map.next_value()?),)*
                }
                Ok(())
            }

            /// Reads the member's value from an array and sets its field;
            /// `false` when the array has ended.
            fn read_element<'de: 'a, 'a, A: SeqAccess<'de>>(
                self,
                seq: &mut A,
                view: &mut KmsRequestView<'a>,
            ) -> Result<bool, A::Error> {
                match self {
                    $(Member::$name => match seq.next_element()? {
                        Some(value) => view.$field = $read(value),
                        None => return Ok(false),
                    },)*
                }
                Ok(true)
            }
        }
    };
}

members! {
    KeyId => key_id: text,
    GrantId => grant_id: text,
    EncryptionContext => encryption_context: context,
    EncryptionAlgorithm => encryption_algorithm: text,
    KeySpec => key_spec: text,
    NumberOfBytes => number_of_bytes: number,
    KeyPairSpec => key_pair_spec: text,
    MacAlgorithm => mac_algorithm: text,
    SigningAlgorithm => signing_algorithm: text,
    MessageType => message_type: text,
    SourceKeyId => source_key_id: text,
    SourceEncryptionContext => source_encryption_context: context,
    SourceEncryptionAlgorithm => source_encryption_algorithm: text,
    DestinationKeyId => destination_key_id: text,
    DestinationEncryptionContext => destination_encryption_context: context,
    DestinationEncryptionAlgorithm => destination_encryption_algorithm: text,
    GranteePrincipal => grantee_principal: text,
    RetiringPrincipal => retiring_principal: text,
    Operations => operations: strings,
    Constraints => constraints: constraints,
    Name => name: text,
    Policy => policy: text,
    PolicyName => policy_name: text,
    BypassPolicyLockoutSafetyCheck => bypass_policy_lockout_safety_check: boolean,
    Description => description: text,
    KeyUsage => key_usage: text,
    Origin => origin: text,
    CustomerMasterKeySpec => customer_master_key_spec: text,
    MultiRegion => multi_region: boolean,
    CustomKeyStoreId => custom_key_store_id: text,
    XksKeyId => xks_key_id: text,
    Tags => tags: tags,
    TagKeys => tag_keys: strings,
    AliasName => alias_name: text,
    TargetKeyId => target_key_id: text,
    PendingWindowInDays => pending_window_in_days: number,
    RotationPeriodInDays => rotation_period_in_days: number,
    WrappingAlgorithm => wrapping_algorithm: text,
    WrappingKeySpec => wrapping_key_spec: text,
    ExpirationModel => expiration_model: text,
    ReplicaRegion => replica_region: text,
    PrimaryRegion => primary_region: text,
    Limit => limit: number,
    Marker => marker: text,
    DryRun => dry_run: boolean,
}

/// Reads a body's loggable members into a view, as serde's derive reads a
/// struct with these fields (each an `Option`, all defaulted): from an object
/// by name, skipping other members and refusing a repeated one; from an
/// array by position. Written by hand so that the members go straight into
/// the view, not through a struct of 45 fields that is moved about.
struct RequestMembers<'v, 'a>(&'v mut KmsRequestView<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for RequestMembers<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("KmsRequestMembers", Member::NAMES, self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RequestMembers<'_, 'a> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("the members of a KMS request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0u64;
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let Some(member) = Member::named(&name) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u64 << (member as u32);
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(member.name()));
            }
            seen |= bit;
            member.read_value(&mut map, self.0)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for member in Member::ALL {
            if !member.read_element(&mut seq, self.0)? {
                break;
            }
        }
        Ok(())
    }
}

/// Members read only to find what an event names, never logged: RetireGrant's
/// `GrantToken` (its grant id and key are logged instead). Read apart from
/// the logged members, so that a token of the wrong type only loses the
/// grant, not the parameters.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NamingMembers<'a> {
    #[serde(borrow)]
    grant_token: Option<Text<'a>>,
}

/// The grant token of a RetireGrant body, if it has one.
pub(super) fn grant_token(body: &[u8]) -> Option<Cow<'_, str>> {
    from_body::<NamingMembers<'_>>(body)
        .ok()?
        .grant_token
        .map(|Text(token)| token)
}

fn text(value: Option<Loose<'_>>) -> Option<Cow<'_, str>> {
    // `null` never gets here: `Option` reads it as `None`.
    value.map(Loose::into_text)
}

fn number(value: Option<Loose<'_>>) -> Option<u64> {
    match value? {
        Loose::Other(value) => value.as_u64(),
        Loose::Str(_) | Loose::Object(_) => None,
    }
}

fn boolean(value: Option<Loose<'_>>) -> Option<bool> {
    match value? {
        Loose::Other(value) => value.as_bool(),
        Loose::Str(_) | Loose::Object(_) => None,
    }
}

/// The strings of a list (other items are dropped).
fn strings(value: Option<Loose<'_>>) -> Option<Vec<Cow<'static, str>>> {
    match value? {
        Loose::Other(Value::Array(items)) => Some(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(Cow::Owned(text)),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// An encryption context member, read as its pairs ([`ContextPairs`]).
fn context(value: Option<ContextPairs<'_>>) -> Option<ContextView<'_>> {
    value?.0.map(ContextView::from_members)
}

/// An encryption context inside another member (grant constraints).
fn loose_context(value: Option<Loose<'_>>) -> Option<ContextView<'_>> {
    match value? {
        Loose::Object(members) => Some(ContextView::from_members(
            members
                .into_iter()
                .map(|(key, value)| (key, value.into_text()))
                .collect(),
        )),
        Loose::Str(_) | Loose::Other(_) => None,
    }
}

/// `[{"TagKey": …, "TagValue": …}]`; a missing or non-string part is "".
fn tags(value: Option<Loose<'_>>) -> Option<Vec<(Cow<'static, str>, Cow<'static, str>)>> {
    match value? {
        Loose::Other(Value::Array(items)) => Some(
            items
                .iter()
                .map(|tag| {
                    let field = |name: &str| {
                        Cow::Owned(
                            tag.get(name)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        )
                    };
                    (field("TagKey"), field("TagValue"))
                })
                .collect(),
        ),
        _ => None,
    }
}

fn constraints(value: Option<Loose<'_>>) -> Option<GrantConstraintsView<'_>> {
    let mut value = value?;
    Some(GrantConstraintsView {
        encryption_context_subset: loose_context(value.take_member("EncryptionContextSubset")),
        encryption_context_equals: loose_context(value.take_member("EncryptionContextEquals")),
    })
}
