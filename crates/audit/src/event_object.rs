//! The objects an event carries about one request, and what may never be in them.
//!
//! **Invariant: an event never holds plaintext, data keys, ciphertext blobs,
//! grant tokens, import material or signed messages.** CloudTrail does not log
//! them ("Never logged" in `reference/kms-api.md` §12.1; for example the
//! Decrypt record on
//! <https://docs.aws.amazon.com/kms/latest/developerguide/ct-decrypt.html> has
//! `"responseElements": null`, and CreateGrant records carry the grant id but
//! never the grant token), and an audit trail is read by far more people than
//! may see the data it describes.
//!
//! The invariant is held by types, not by review:
//! - [`EventObject`] is the only free-form JSON an event can hold (in
//!   `requestParameters`, `responseElements`, `additionalEventData`,
//!   `serviceEventDetails` and the rarer object members such as `addendum`);
//!   every other member is a string, a flag or a typed element. Code builds an
//!   `EventObject` only from the typed builders in [`crate::kms_elements`],
//!   whose fields are the non-secret members AWS logs; none of them can take
//!   a blob, a plaintext or a token, and there is no constructor from a
//!   `JsonObject`.
//! - The one other way in is reading JSON (an event from the trail, a
//!   fixture), and it rejects an object with a top-level member named after
//!   secret material, so even a parsed event cannot carry one where AWS would
//!   have put it.
//! - The event writer ([`crate::KmsCallEvent`]), which writes a KMS call's
//!   event as bytes without building one, takes the same members as typed
//!   views ([`crate::KmsRequestView`] has the fields of
//!   [`crate::KmsRequestParameters`], [`crate::KmsAdditionalView`] those of
//!   [`crate::KmsAdditionalEventData`]) or an `EventObject`; it has no input
//!   for free-form JSON.
//!
//! What this module does not do: look inside string values. An encryption
//! context or a description is logged as given, as AWS does, and AWS warns
//! users not to put secrets there.

use serde::{Deserialize, Deserializer, Serialize};

use crate::json::{JsonObject, JsonValue};

/// The JSON object of `requestParameters`, `responseElements`,
/// `additionalEventData` or `serviceEventDetails`.
///
/// Invariant: it never holds plaintext, data keys, ciphertext blobs, grant
/// tokens, import material or signed messages. It is built from the typed
/// KMS builders ([`crate::KmsRequestParameters`] …), which have no field for
/// them, or read from JSON, which rejects [`FORBIDDEN_MEMBER_NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EventObject(JsonObject);

/// Member names that would hold secret material if they appeared at the top
/// level of an [`EventObject`]: the KMS request and response members that AWS
/// never logs, compared without regard to case.
pub const FORBIDDEN_MEMBER_NAMES: &[&str] = &[
    "plaintext",
    "ciphertextBlob",
    "sourceCiphertextBlob",
    "privateKeyPlaintext",
    "privateKeyCiphertextBlob",
    "grantToken",
    "grantTokens",
    "importToken",
    "encryptedKeyMaterial",
    "message",
    "mac",
    "secretAccessKey",
    "sessionToken",
];

impl EventObject {
    /// The members, in the order they will be written.
    pub fn as_json(&self) -> &JsonObject {
        &self.0
    }

    /// The value of the member `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&JsonValue> {
        self.0.get(name)
    }

    /// For the typed builders of this crate only: they choose the member
    /// names, so none of them is forbidden.
    pub(crate) fn from_builder(members: JsonObject) -> Self {
        debug_assert!(members.iter().all(|(name, _)| !is_forbidden(name)));
        EventObject(members)
    }
}

/// Whether `name` is one of [`FORBIDDEN_MEMBER_NAMES`].
pub fn is_forbidden(name: &str) -> bool {
    FORBIDDEN_MEMBER_NAMES
        .iter()
        .any(|forbidden| forbidden.eq_ignore_ascii_case(name))
}

impl<'de> Deserialize<'de> for EventObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let members = JsonObject::deserialize(deserializer)?;
        if let Some((name, _)) = members.iter().find(|(name, _)| is_forbidden(name)) {
            return Err(serde::de::Error::custom(format_args!(
                "an audit event may not carry the member `{name}`"
            )));
        }
        Ok(EventObject(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_rejects_secret_members_in_any_case() {
        for text in [
            r#"{"keyId":"k","plaintext":"c2VjcmV0"}"#,
            r#"{"CiphertextBlob":"AQID"}"#,
            r#"{"grantTokens":["t"]}"#,
        ] {
            assert!(serde_json::from_str::<EventObject>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn nested_names_are_data_not_members() {
        // An encryption context key is chosen by the caller and is logged as is.
        let text = r#"{"encryptionContext":{"plaintext":"label"}}"#;
        let object: EventObject = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&object).unwrap(), text);
    }
}
