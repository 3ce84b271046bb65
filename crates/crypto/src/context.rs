//! The encryption context and its canonical, unambiguous byte encoding.
//!
//! The context is authenticated as AES-GCM additional data, so two contexts
//! must encode to the same bytes exactly when they are equal as maps. Naive
//! concatenation fails that: `{"ab":"c"}` and `{"a":"bc"}` both give `abc`
//! (moto, LocalStack and local-kms are all open to this). We encode
//! `count:u32 (key_len:u32 key value_len:u32 value)*` with pairs sorted by
//! key bytes, which is prefix-free and therefore injective.

use std::collections::BTreeMap;

/// An encryption context: non-secret string pairs bound to a ciphertext.
/// Keys such as `aws-crypto-public-key` (added by the AWS Encryption SDK)
/// are ordinary pairs here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new(pairs: BTreeMap<String, String>) -> Self {
        EncryptionContext(pairs)
    }
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical encoding used as additional authenticated data.
    /// `BTreeMap<String, _>` iterates in byte order of the UTF-8 keys.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let size: usize = self.0.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
        let mut out = Vec::with_capacity(4 + size);
        out.extend_from_slice(&len_u32(self.0.len()).to_be_bytes());
        for (key, value) in &self.0 {
            out.extend_from_slice(&len_u32(key.len()).to_be_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&len_u32(value.len()).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }
}

impl<const N: usize> From<[(&str, &str); N]> for EncryptionContext {
    fn from(pairs: [(&str, &str); N]) -> Self {
        EncryptionContext(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

/// Lengths come from request bodies capped far below 4 GiB by the HTTP layer;
/// saturating keeps the function total without a panic path.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn concatenation_ambiguity_is_impossible() {
        let a = EncryptionContext::from([("ab", "c")]);
        let b = EncryptionContext::from([("a", "bc")]);
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        let c = EncryptionContext::from([("a", "b"), ("c", "d")]);
        let d = EncryptionContext::from([("a", "bcd")]);
        assert_ne!(c.canonical_bytes(), d.canonical_bytes());
    }

    #[test]
    fn empty_context_has_a_fixed_encoding() {
        assert_eq!(
            EncryptionContext::default().canonical_bytes(),
            vec![0, 0, 0, 0]
        );
    }

    proptest! {
        #[test]
        fn encoding_is_injective(
            a in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
            b in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
        ) {
            let ea = EncryptionContext::new(a.clone()).canonical_bytes();
            let eb = EncryptionContext::new(b.clone()).canonical_bytes();
            prop_assert_eq!(a == b, ea == eb);
        }
    }
}
