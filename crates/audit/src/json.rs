//! Order-preserving JSON values for the free-form parts of a record.
//!
//! A CloudTrail record has members whose shape depends on the service and the
//! operation (`requestParameters`, `responseElements`, `additionalEventData`,
//! `serviceEventDetails`, session data in `userIdentity`). `serde_json::Value`
//! would hold them, but it keeps object members in a `BTreeMap` unless the
//! `preserve_order` feature is on, and turning that feature on would change the
//! JSON of every crate in the workspace. So this module owns a small value type
//! whose objects keep their members in document order: a record read from AWS
//! and written back keeps its member order, and the canonical bytes of an event
//! follow the order in which keyward built it.
//!
//! What it deliberately does not do: arbitrary-precision numbers (CloudTrail
//! numbers are counts and sizes; `serde_json::Number` holds them exactly) and
//! duplicate member names (rejected when reading, impossible when building,
//! because a duplicated name is read differently by different JSON parsers).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One JSON value; objects keep their members in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<JsonValue>),
    Object(JsonObject),
}

/// A JSON object whose members keep the order they were read or built in.
///
/// Member names are unique: reading a document with a repeated name fails, and
/// [`JsonObject::insert`] replaces the value of an existing name in place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonObject {
    members: Vec<(String, JsonValue)>,
}

impl JsonObject {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the member `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&JsonValue> {
        self.members
            .iter()
            .find(|(member_name, _)| member_name == name)
            .map(|(_, value)| value)
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &JsonValue)> {
        self.members
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Appends a member, or replaces the value of an existing one where it is.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<JsonValue>) {
        let name = name.into();
        let value = value.into();
        match self
            .members
            .iter_mut()
            .find(|(member_name, _)| *member_name == name)
        {
            Some((_, existing)) => *existing = value,
            None => self.members.push((name, value)),
        }
    }
}

impl JsonValue {
    /// The string, if this is a JSON string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The object, if this is a JSON object.
    pub fn as_object(&self) -> Option<&JsonObject> {
        match self {
            JsonValue::Object(object) => Some(object),
            _ => None,
        }
    }
}

impl From<&str> for JsonValue {
    fn from(text: &str) -> Self {
        JsonValue::String(text.to_owned())
    }
}

impl From<String> for JsonValue {
    fn from(text: String) -> Self {
        JsonValue::String(text)
    }
}

impl From<bool> for JsonValue {
    fn from(flag: bool) -> Self {
        JsonValue::Bool(flag)
    }
}

impl From<u64> for JsonValue {
    fn from(number: u64) -> Self {
        JsonValue::Number(number.into())
    }
}

impl From<JsonObject> for JsonValue {
    fn from(object: JsonObject) -> Self {
        JsonValue::Object(object)
    }
}

impl<T: Into<JsonValue>> From<Vec<T>> for JsonValue {
    fn from(items: Vec<T>) -> Self {
        JsonValue::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<K: Into<String>, V: Into<JsonValue>> FromIterator<(K, V)> for JsonObject {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(members: I) -> Self {
        let mut object = JsonObject::new();
        for (name, value) in members {
            object.insert(name, value);
        }
        object
    }
}

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonValue::Null => serializer.serialize_unit(),
            JsonValue::Bool(flag) => serializer.serialize_bool(*flag),
            JsonValue::Number(number) => number.serialize(serializer),
            JsonValue::String(text) => serializer.serialize_str(text),
            JsonValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            JsonValue::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for JsonObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.members.len()))?;
        for (name, value) in &self.members {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonValueVisitor)
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JsonObjectVisitor)
    }
}

struct JsonValueVisitor;

impl<'de> Visitor<'de> for JsonValueVisitor {
    type Value = JsonValue;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<JsonValue, E> {
        Ok(JsonValue::Bool(flag))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number(number.into()))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number(number.into()))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<JsonValue, E> {
        serde_json::Number::from_f64(number)
            .map(JsonValue::Number)
            .ok_or_else(|| E::custom("a JSON number must be finite"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<JsonValue, E> {
        Ok(JsonValue::String(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<JsonValue, E> {
        Ok(JsonValue::String(text))
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<JsonValue, D::Error> {
        JsonValue::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        // The size hint comes from the input, so it only caps the first
        // allocation; the vector grows with the elements actually read.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonValue, A::Error> {
        JsonObjectVisitor.visit_map(map).map(JsonValue::Object)
    }
}

struct JsonObjectVisitor;

impl<'de> Visitor<'de> for JsonObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut members = Vec::new();
        let mut seen_names = BTreeSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen_names.insert(name.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name `{name}`"
                )));
            }
            let value = map.next_value::<JsonValue>()?;
            members.push((name, value));
        }
        Ok(JsonObject { members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_member_order_through_a_round_trip() {
        let text = r#"{"z":1,"a":{"y":[true,null,"s"],"b":-2.5},"m":"x"}"#;
        let value: JsonValue = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
    }

    #[test]
    fn duplicate_member_names_are_rejected() {
        let result = serde_json::from_str::<JsonValue>(r#"{"a":1,"a":2}"#);
        assert!(result.is_err());
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut object: JsonObject = [("a", 1u64), ("b", 2u64)].into_iter().collect();
        object.insert("a", 3u64);
        assert_eq!(serde_json::to_string(&object).unwrap(), r#"{"a":3,"b":2}"#);
    }
}
