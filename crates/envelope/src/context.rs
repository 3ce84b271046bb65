//! The encryption context and its ESDK serialization
//! (`framework/structures.md`, "Encryption Context" → "Serialization").
//!
//! The serialization is used twice: inside the header AAD field and, by the
//! raw AES keyring, as the AAD of the data key wrapping. It is canonical —
//! pairs sorted by the UTF-8 bytes of their keys, no duplicates — and the
//! decoder rejects anything else, so that `encode(decode(b)) == b` holds and
//! two different byte strings never stand for the same context.
//!
//! This is not `keyward_crypto::EncryptionContext`: KMS's own blob format
//! encodes contexts with 32-bit lengths, the ESDK with 16-bit ones.

use std::collections::BTreeMap;

use crate::error::{EnvelopeError, Malformation, MessageSection};
use crate::wire::{put_u16_prefixed, FieldReader};

/// The key under which the default CMM stores the signature verification key
/// of a signed message (Base64 of the compressed curve point).
pub const PUBLIC_KEY_CONTEXT_KEY: &str = "aws-crypto-public-key";

/// The prefix the SDK reserves for its own encryption context entries.
pub const RESERVED_CONTEXT_PREFIX: &str = "aws-crypto-";

/// Non-secret string pairs bound to a message as authenticated data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        EncryptionContext(BTreeMap::new())
    }

    /// Adds or replaces a pair, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Removes a pair, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// The pairs, in serialization order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs as a map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The ESDK serialization: empty for an empty context, else
    /// `count:u16 (key_len:u16 key value_len:u16 value)*` sorted by key bytes.
    /// `BTreeMap<String, _>` iterates in byte order of the UTF-8 keys, which is
    /// exactly the order the spec requires.
    pub fn serialize(&self) -> Result<Vec<u8>, EnvelopeError> {
        if self.0.is_empty() {
            return Ok(Vec::new());
        }
        let count =
            u16::try_from(self.0.len()).map_err(|_| EnvelopeError::EncryptionContextTooLarge)?;
        let size: usize = self.0.iter().map(|(k, v)| 4 + k.len() + v.len()).sum();
        let mut out = Vec::with_capacity(2 + size);
        out.extend_from_slice(&count.to_be_bytes());
        for (key, value) in &self.0 {
            put_u16_prefixed(&mut out, key.as_bytes())
                .ok_or(EnvelopeError::EncryptionContextTooLarge)?;
            put_u16_prefixed(&mut out, value.as_bytes())
                .ok_or(EnvelopeError::EncryptionContextTooLarge)?;
        }
        Ok(out)
    }

    /// Parses a whole serialization (the inverse of [`serialize`](Self::serialize)).
    pub fn deserialize(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let mut map = BTreeMap::new();
        if bytes.is_empty() {
            return Ok(EncryptionContext(map));
        }
        let mut reader = FieldReader::new(bytes, MessageSection::Field);
        let count = reader.u16()?;
        if count == 0 {
            return Err(Malformation::EncryptionContextZeroCount.into());
        }
        let mut previous: Option<String> = None;
        for _ in 0..count {
            let key = utf8(reader.u16_prefixed()?)?;
            let value = utf8(reader.u16_prefixed()?)?;
            // Strictly ascending keys: sorted and unique in one comparison.
            if previous
                .as_deref()
                .is_some_and(|prev| prev.as_bytes() >= key.as_bytes())
            {
                return Err(Malformation::EncryptionContextNotCanonical.into());
            }
            previous = Some(key.clone());
            map.insert(key, value);
        }
        if !reader.remaining().is_empty() {
            return Err(Malformation::EncryptionContextLength.into());
        }
        Ok(EncryptionContext(map))
    }
}

fn utf8(bytes: &[u8]) -> Result<String, EnvelopeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Malformation::EncryptionContextNotUtf8.into())
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        EncryptionContext(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<const N: usize> From<[(&str, &str); N]> for EncryptionContext {
    fn from(pairs: [(&str, &str); N]) -> Self {
        pairs.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_context_serializes_to_nothing() {
        assert_eq!(
            EncryptionContext::new().serialize().unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(
            EncryptionContext::deserialize(&[]).unwrap(),
            EncryptionContext::new()
        );
    }

    /// The first three pairs of the spec's example header
    /// (`data-format/message-header.md`, "Example Bytes"), with the
    /// example's typo in "encryption" (`79774690` for `79707469`) corrected.
    /// The first key is "0this" as in the bytes (the annotation says "0This").
    #[test]
    fn known_answer_from_spec_example() {
        let context = EncryptionContext::from([
            ("0this", "is"),
            ("1an", "encryption"),
            ("2context", "example"),
        ]);
        let expected = hex::decode(concat!(
            "0003",
            "0005",
            "3074686973",
            "0002",
            "6973",
            "0003",
            "31616e",
            "000a",
            "656e6372797074696f6e",
            "0008",
            "32636f6e74657874",
            "0007",
            "6578616d706c65",
        ))
        .unwrap();
        assert_eq!(context.serialize().unwrap(), expected);
        assert_eq!(EncryptionContext::deserialize(&expected).unwrap(), context);
    }

    #[test]
    fn rejects_non_canonical_forms() {
        let unsorted = hex::decode("0002000162000178000161000179").unwrap();
        assert!(matches!(
            EncryptionContext::deserialize(&unsorted),
            Err(EnvelopeError::Malformed(
                Malformation::EncryptionContextNotCanonical
            ))
        ));
        let duplicate = hex::decode("0002000161000178000161000179").unwrap();
        assert!(EncryptionContext::deserialize(&duplicate).is_err());
        assert!(EncryptionContext::deserialize(&[0, 0]).is_err());
        let trailing = hex::decode("00010001610001780000").unwrap();
        assert!(EncryptionContext::deserialize(&trailing).is_err());
        let not_utf8 = hex::decode("0001000161000180").unwrap();
        assert!(EncryptionContext::deserialize(&not_utf8).is_err());
        let truncated = hex::decode("000100016100").unwrap();
        assert!(matches!(
            EncryptionContext::deserialize(&truncated),
            Err(EnvelopeError::Truncated(_))
        ));
    }

    #[test]
    fn oversized_entries_do_not_serialize() {
        let big = "x".repeat(usize::from(u16::MAX) + 1);
        let context = EncryptionContext::from([("k", big.as_str())]);
        assert!(matches!(
            context.serialize(),
            Err(EnvelopeError::EncryptionContextTooLarge)
        ));
    }

    proptest! {
        #[test]
        fn round_trips(pairs in proptest::collection::btree_map(".{0,12}", ".{0,20}", 0..8)) {
            let context: EncryptionContext = pairs.into_iter().collect();
            let bytes = context.serialize().unwrap();
            prop_assert_eq!(EncryptionContext::deserialize(&bytes).unwrap(), context);
        }

        #[test]
        fn decode_never_panics_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(context) = EncryptionContext::deserialize(&bytes) {
                prop_assert_eq!(context.serialize().unwrap(), bytes);
            }
        }
    }
}
