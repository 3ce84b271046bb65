//! Optional record members that tell "absent" from "null".
//!
//! CloudTrail uses both: a KMS Decrypt record carries `"responseElements": null`
//! while other records simply leave `sharedEventID` or `errorCode` out (see the
//! record examples on
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).
//! `Option<T>` folds the two together, so a record read and written back would
//! change. [`Member`] keeps all three states, and every optional field of the
//! record types uses it with `#[serde(default, skip_serializing_if =
//! "Member::is_absent")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON object member that may be absent, `null`, or hold a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Member<T> {
    /// The member is not in the object at all.
    #[default]
    Absent,
    /// The member is present with the value `null`.
    Null,
    /// The member is present with a value.
    Present(T),
}

impl<T> Member<T> {
    /// Used by `skip_serializing_if`: an absent member is not written.
    pub fn is_absent(&self) -> bool {
        matches!(self, Member::Absent)
    }

    /// The value, when there is one.
    pub fn get(&self) -> Option<&T> {
        match self {
            Member::Present(value) => Some(value),
            Member::Absent | Member::Null => None,
        }
    }

    /// `Present(value)` for `Some(value)`, `Absent` for `None`.
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or(Member::Absent, Member::Present)
    }
}

impl<T> From<T> for Member<T> {
    fn from(value: T) -> Self {
        Member::Present(value)
    }
}

impl<T: Serialize> Serialize for Member<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Member::Present(value) => value.serialize(serializer),
            // `Absent` is skipped by the field attribute; if a container forgets
            // the attribute, writing `null` is the closest faithful output.
            Member::Absent | Member::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Member<T> {
    /// Only called when the member is in the document (`#[serde(default)]`
    /// supplies `Absent` otherwise), so `null` here means `Null`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Member::Present(value),
            None => Member::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(default, skip_serializing_if = "Member::is_absent")]
        field: Member<String>,
    }

    #[test]
    fn absent_null_and_present_round_trip() {
        for text in [r#"{}"#, r#"{"field":null}"#, r#"{"field":"x"}"#] {
            let holder: Holder = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&holder).unwrap(), text);
        }
    }
}
