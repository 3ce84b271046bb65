//! JSON members read in place from a request or a reply, for its event.
//!
//! The event of a call names members of the request body as they were sent,
//! whatever their JSON type. Reading them into `serde_json::Value` would copy
//! every string and sort every object into a map; these types borrow strings
//! from the body instead (a string with escapes has to be decoded, and is the
//! only one owned), and they accept and reject exactly what `Value` does.
//! Non-strings go through `Value` itself ([`Loose::into_value`]), so a member
//! of an unexpected type is rendered exactly as it always was.
//!
//! What this module does not do: decide which members are read or logged
//! (`kms_request.rs` and `kms_response.rs` do).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Any JSON value: a string borrowed where it can be, an object as its
/// members in document order, anything else as a `Value`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Loose<'a> {
    Str(Cow<'a, str>),
    Object(Vec<(Cow<'a, str>, Loose<'a>)>),
    Other(Value),
}

/// A JSON string, borrowed where it can be: what `String` accepts, without
/// the copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

/// Reads `T` from a body as `serde_json::from_slice` does, checking the
/// UTF-8 of the body once instead of every string again: a body that is UTF-8
/// as a whole is read as a `str`; any other (whose invalid bytes may sit in a
/// skipped member, which `from_slice` accepts) as bytes.
pub(super) fn from_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> serde_json::Result<T> {
    seed_from_body(body, PhantomData::<T>)
}

/// [`from_body`] for a seed (what `serde_json::from_slice` does for a type).
pub(super) fn seed_from_body<'a, S: DeserializeSeed<'a>>(
    body: &'a [u8],
    seed: S,
) -> serde_json::Result<S::Value> {
    match std::str::from_utf8(body) {
        Ok(text) => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let value = seed.deserialize(&mut deserializer)?;
            deserializer.end()?;
            Ok(value)
        }
        Err(_) => {
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let value = seed.deserialize(&mut deserializer)?;
            deserializer.end()?;
            Ok(value)
        }
    }
}

impl<'a> Loose<'a> {
    /// The same value as a `serde_json::Value`: an object's members go into a
    /// `Map` in document order, so a repeated name keeps its last value.
    pub(super) fn into_value(self) -> Value {
        match self {
            Loose::Str(text) => Value::String(text.into_owned()),
            Loose::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(name, value)| (name.into_owned(), value.into_value()))
                    .collect(),
            ),
            Loose::Other(value) => value,
        }
    }

    /// The value as text: a string as itself, anything else as its compact
    /// JSON (`Value::to_string`).
    pub(super) fn into_text(self) -> Cow<'a, str> {
        match self {
            Loose::Str(text) => text,
            other => Cow::Owned(other.into_value().to_string()),
        }
    }

    /// The member `name` of an object (the last one, as `Value::get` sees a
    /// repeated name); `None` for anything else.
    pub(super) fn take_member(&mut self, name: &str) -> Option<Loose<'a>> {
        match self {
            Loose::Object(members) => {
                let index = members.iter().rposition(|(member, _)| member == name)?;
                Some(members.remove(index).1)
            }
            Loose::Str(_) | Loose::Other(_) => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other(Value::Bool(flag)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Loose::Other(Value::from(number)))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Loose::Other(Value::from(number)))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        // What `Value`'s own visitor does with a float.
        Ok(Loose::Other(Value::from(number)))
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(text)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Loose::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        // Arrays are never read in place: `Value` reads them, element by
        // element, from the same deserializer (same checks, same depth limit).
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Loose::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let value = map.next_value::<Loose<'de>>()?;
            members.push((name, value));
        }
        Ok(Loose::Object(members))
    }
}

/// A member read as an encryption context: an object's members as text
/// pairs in document order, each value as [`Loose::into_text`] renders it;
/// `None` for any other value. Read straight into pairs, not through
/// [`Loose::Object`], since every encrypting call sends a context.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ContextPairs<'a>(pub(super) Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>);

impl<'de: 'a, 'a> Deserialize<'de> for ContextPairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ContextPairsVisitor)
    }
}

/// [`LooseVisitor`], except that objects become pairs and nothing else is kept.
struct ContextPairsVisitor;

impl<'de> Visitor<'de> for ContextPairsVisitor {
    type Value = ContextPairs<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ContextPairs(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        ContextPairs::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        // Read (and checked) as `Loose` reads it, then dropped.
        LooseVisitor.visit_seq(seq).map(|_| ContextPairs(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let value = map.next_value::<Loose<'de>>()?;
            pairs.push((name, value.into_text()));
        }
        Ok(ContextPairs(Some(pairs)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reading `json` as a `Loose` and as a `Value` agree: both fail, or
    /// they give the same value; and reading it as `ContextPairs` fails
    /// alike or gives the object's pairs.
    fn agrees(json: &str) {
        let loose = serde_json::from_str::<Loose<'_>>(json);
        let value = serde_json::from_str::<Value>(json);
        let pairs = serde_json::from_str::<ContextPairs<'_>>(json);
        match (&loose, &value, pairs) {
            (Ok(loose), Ok(value), Ok(pairs)) => {
                assert_eq!(&loose.clone().into_value(), value, "{json}");
                let expected = match loose.clone() {
                    Loose::Object(members) => Some(
                        members
                            .into_iter()
                            .map(|(key, value)| (key, value.into_text()))
                            .collect::<Vec<_>>(),
                    ),
                    Loose::Str(_) | Loose::Other(_) => None,
                };
                assert_eq!(pairs.0, expected, "{json}");
            }
            (Err(_), Err(_), Err(_)) => {}
            (loose, value, pairs) => panic!("{json}: {loose:?} against {value:?} and {pairs:?}"),
        }
    }

    #[test]
    fn odd_values_read_as_value_reads_them() {
        for json in [
            r#""plain""#,
            r#""esc\"aped\\ \u00e9 \ud83d\ude00""#,
            r#""\ud800""#,
            r#"{"b":1,"a":{"y":[1,"x",null],"x":-2.5e3},"b":true}"#,
            r#"{"":""}"#,
            "1e400",
            "-0",
            "18446744073709551616",
            "[1, 2,]",
            "nul",
            &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
            &format!(
                "{}{}",
                r#"{"a":"#.repeat(126),
                "1".to_owned() + &"}".repeat(126)
            ),
            &format!(
                "{}{}",
                r#"{"a":"#.repeat(127),
                "1".to_owned() + &"}".repeat(127)
            ),
            &format!(
                "{}{}",
                r#"{"a":"#.repeat(128),
                "1".to_owned() + &"}".repeat(128)
            ),
        ] {
            agrees(json);
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let json = r#"{"KeyId":"alias/app","Escaped":"a\nb"}"#;
        let Loose::Object(members) = serde_json::from_str::<Loose<'_>>(json).unwrap() else {
            panic!("not an object");
        };
        assert!(matches!(members[0].0, Cow::Borrowed("KeyId")));
        assert!(matches!(
            members[0].1,
            Loose::Str(Cow::Borrowed("alias/app"))
        ));
        assert!(matches!(&members[1].1, Loose::Str(Cow::Owned(text)) if text == "a\nb"));
    }

    proptest! {
        #[test]
        fn any_json_value_reads_as_value_reads_it(value in arbitrary_json()) {
            agrees(&value.to_string());
        }

        #[test]
        fn any_text_reads_as_value_reads_it(json in "[\\[\\]{}\":,0-9a-z\\\\ .eE+-]{0,24}") {
            agrees(&json);
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }
}
