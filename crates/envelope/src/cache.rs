//! The data-key cache: a caching materials manager and its local cache
//! (`framework/caching-cmm.md`, `framework/local-cryptographic-materials-cache.md`).
//!
//! Encrypting many small messages calls the key service once per message for
//! a fresh data key. [`CachingCmm`] reuses encryption materials — the data
//! key, its encrypted copies and, for signed suites, the signing key, as the
//! ESDK's caching CMM does — for messages with the same partition (keyring),
//! algorithm suite request and encryption context, within limits on age,
//! messages and bytes per data key. A data key is never used past a limit:
//! the usage of a request is added *before* the materials are handed out,
//! and an entry that would exceed a limit is evicted and replaced by fresh
//! materials from the backing manager.
//!
//! As in the spec, requests that are not safe to cache bypass the cache:
//! suites without key derivation (the data key would be the content key of
//! every message), and encryption requests without a plaintext length bound
//! (their bytes cannot be counted before they are encrypted). Decryption
//! materials are cached too, keyed by the encrypted data keys, and expire by
//! age only.
//!
//! The crate has no clock: time comes from a [`Clock`] the caller gives, so
//! expiry is tested by moving a fake one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_lc_rs::digest::{self, SHA512, SHA512_OUTPUT_LEN};

use crate::error::EnvelopeError;
use crate::header::EncryptedDataKey;
use crate::materials::{
    DecryptMaterialsRequest, DecryptionMaterials, EncryptionMaterials, EncryptionMaterialsRequest,
    MaterialsManager,
};
use crate::suite::{AlgorithmSuite, KeyDerivation};
use crate::wire::put_u16_prefixed;

/// A monotonic clock: the time elapsed since some fixed origin.
pub trait Clock: Send + Sync {
    /// Now, as a duration since the clock's origin. Must never go backwards.
    fn now(&self) -> Duration;
}

/// How long and how much one data key may be used for (spec: "Cache Limit
/// TTL", "Limit Messages", "Limit Bytes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    max_age: Duration,
    max_messages: u64,
    max_bytes: u64,
}

/// The spec's default message limit: 2^32.
pub const DEFAULT_MAX_MESSAGES: u64 = 1 << 32;
/// The spec's default byte limit: 2^63 - 1.
pub const DEFAULT_MAX_BYTES: u64 = i64::MAX as u64;

impl CacheLimits {
    /// Limits with a maximum age, which the spec requires to be positive, and
    /// the default message and byte limits.
    pub fn new(max_age: Duration) -> Result<Self, EnvelopeError> {
        if max_age.is_zero() {
            return Err(EnvelopeError::InvalidCacheLimit(
                "the maximum age must be positive",
            ));
        }
        Ok(CacheLimits {
            max_age,
            max_messages: DEFAULT_MAX_MESSAGES,
            max_bytes: DEFAULT_MAX_BYTES,
        })
    }

    /// At most this many messages per data key (at least 1).
    pub fn with_max_messages(mut self, max: u64) -> Result<Self, EnvelopeError> {
        if max == 0 {
            return Err(EnvelopeError::InvalidCacheLimit(
                "the message limit must be at least 1",
            ));
        }
        self.max_messages = max;
        Ok(self)
    }

    /// At most this many plaintext bytes per data key (at most 2^63 - 1, as
    /// the spec's UInt64 interpreted by the SDKs).
    pub fn with_max_bytes(mut self, max: u64) -> Result<Self, EnvelopeError> {
        if max > DEFAULT_MAX_BYTES {
            return Err(EnvelopeError::InvalidCacheLimit(
                "the byte limit must be below 2^63",
            ));
        }
        self.max_bytes = max;
        Ok(self)
    }

    /// The maximum age.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The message limit.
    pub fn max_messages(&self) -> u64 {
        self.max_messages
    }

    /// The byte limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

type CacheId = [u8; SHA512_OUTPUT_LEN];

#[derive(Clone)]
enum CachedMaterials {
    Encryption(EncryptionMaterials),
    Decryption(DecryptionMaterials),
}

struct Entry {
    materials: CachedMaterials,
    /// When the entry was created (by the inserting CMM's clock).
    created: Duration,
    /// Its maximum age, fixed by the inserting CMM.
    max_age: Duration,
    messages: u64,
    bytes: u64,
    /// For least-recently-used eviction.
    last_used: u64,
}

struct CacheState {
    entries: HashMap<CacheId, Entry>,
    uses: u64,
}

/// An in-memory cache of materials with a fixed number of entries; when it
/// is full, the least recently used entry goes. Several [`CachingCmm`]s may
/// share one; they see each other's entries only with the same partition.
pub struct MaterialsCache {
    capacity: usize,
    state: Mutex<CacheState>,
}

impl MaterialsCache {
    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(MaterialsCache {
            capacity: capacity.max(1),
            state: Mutex::new(CacheState {
                entries: HashMap::new(),
                uses: 0,
            }),
        })
    }

    /// How many entries it holds (expired ones included until they are found).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A poisoned lock only means another thread panicked while holding it;
    /// every update below leaves the map consistent, so the data is usable.
    fn lock(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, id: CacheId, mut entry: Entry) {
        let mut state = self.lock();
        state.uses += 1;
        entry.last_used = state.uses;
        if !state.entries.contains_key(&id) && state.entries.len() >= self.capacity {
            let oldest = state
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                state.entries.remove(&oldest);
            }
        }
        state.entries.insert(id, entry);
    }
}

impl std::fmt::Debug for MaterialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterialsCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

/// How a [`CachingCmm`] answered so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Encryption materials served from the cache.
    pub encrypt_hits: u64,
    /// Encryption materials fetched from the backing manager (misses,
    /// entries over a limit, and bypassed requests).
    pub encrypt_misses: u64,
    /// Decryption materials served from the cache.
    pub decrypt_hits: u64,
    /// Decryption materials fetched from the backing manager.
    pub decrypt_misses: u64,
}

/// A materials manager that reuses materials from a [`MaterialsCache`]
/// within [`CacheLimits`] (the spec's caching CMM).
pub struct CachingCmm<M> {
    backing: M,
    cache: Arc<MaterialsCache>,
    limits: CacheLimits,
    partition: [u8; SHA512_OUTPUT_LEN],
    clock: Arc<dyn Clock>,
    stats: Mutex<CacheStats>,
}

impl<M: MaterialsManager> CachingCmm<M> {
    /// A caching CMM over `backing` (usually a `DefaultCmm` of a keyring),
    /// in its own partition of `cache`: a random partition id, so that it
    /// never uses another CMM's entries (spec, "Partition ID").
    pub fn new(
        backing: M,
        cache: Arc<MaterialsCache>,
        limits: CacheLimits,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EnvelopeError> {
        let mut partition = [0u8; 16];
        aws_lc_rs::rand::fill(&mut partition)
            .map_err(|_| EnvelopeError::Internal("random generator failed"))?;
        Ok(Self::with_partition_bytes(
            backing, cache, limits, clock, &partition,
        ))
    }

    /// A caching CMM in the named partition: CMMs sharing a cache share
    /// entries if and only if their partition ids are equal, so equal ids
    /// must mean equivalent keyrings.
    pub fn with_partition(
        backing: M,
        cache: Arc<MaterialsCache>,
        limits: CacheLimits,
        clock: Arc<dyn Clock>,
        partition_id: &str,
    ) -> Self {
        Self::with_partition_bytes(backing, cache, limits, clock, partition_id.as_bytes())
    }

    fn with_partition_bytes(
        backing: M,
        cache: Arc<MaterialsCache>,
        limits: CacheLimits,
        clock: Arc<dyn Clock>,
        partition_id: &[u8],
    ) -> Self {
        CachingCmm {
            backing,
            cache,
            limits,
            partition: sha512(partition_id),
            clock,
            stats: Mutex::new(CacheStats::default()),
        }
    }

    /// The backing materials manager.
    pub fn backing(&self) -> &M {
        &self.backing
    }

    /// The limits.
    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, update: impl FnOnce(&mut CacheStats)) {
        update(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Spec Appendix A, "Encryption Materials, With/Without Algorithm Suite".
    fn encryption_id(
        &self,
        request: &EncryptionMaterialsRequest,
    ) -> Result<CacheId, EnvelopeError> {
        let mut input = Vec::with_capacity(3 * SHA512_OUTPUT_LEN);
        input.extend_from_slice(&self.partition);
        match request.algorithm_suite {
            None => input.push(0),
            Some(suite) => {
                input.push(1);
                input.extend_from_slice(&suite.id().to_be_bytes());
            }
        }
        input.extend_from_slice(&sha512(&request.encryption_context.serialize()?));
        Ok(sha512(&input))
    }

    /// Spec Appendix A, "Decryption Materials".
    fn decryption_id(
        &self,
        request: &DecryptMaterialsRequest<'_>,
    ) -> Result<CacheId, EnvelopeError> {
        let mut key_hashes = request
            .encrypted_data_keys
            .iter()
            .map(|key| serialize_edk(key).map(|bytes| sha512(&bytes)))
            .collect::<Result<Vec<_>, _>>()?;
        key_hashes.sort_unstable();
        let mut input = Vec::with_capacity((key_hashes.len() + 3) * SHA512_OUTPUT_LEN + 2);
        input.extend_from_slice(&self.partition);
        input.extend_from_slice(&request.algorithm_suite.id().to_be_bytes());
        for hash in &key_hashes {
            input.extend_from_slice(hash);
        }
        input.extend_from_slice(&[0u8; SHA512_OUTPUT_LEN]);
        input.extend_from_slice(&sha512(&request.encryption_context.serialize()?));
        Ok(sha512(&input))
    }

    fn expired(&self, entry: &Entry, now: Duration) -> bool {
        now.saturating_sub(entry.created) >= entry.max_age
    }

    /// Takes one message of `bytes` from a cached entry, or evicts it if it
    /// is expired or that message would exceed a limit.
    fn take_encryption(&self, id: &CacheId, bytes: u64) -> Option<EncryptionMaterials> {
        let now = self.clock.now();
        let mut state = self.cache.lock();
        state.uses += 1;
        let uses = state.uses;
        let entry = state.entries.get_mut(id)?;
        let CachedMaterials::Encryption(materials) = &entry.materials else {
            return None;
        };
        let messages = entry.messages.saturating_add(1);
        let total = entry.bytes.saturating_add(bytes);
        if self.expired(entry, now)
            || messages > self.limits.max_messages
            || total > self.limits.max_bytes
        {
            state.entries.remove(id);
            return None;
        }
        let materials = materials.clone();
        entry.messages = messages;
        entry.bytes = total;
        entry.last_used = uses;
        Some(materials)
    }

    fn take_decryption(&self, id: &CacheId) -> Option<DecryptionMaterials> {
        let now = self.clock.now();
        let mut state = self.cache.lock();
        state.uses += 1;
        let uses = state.uses;
        let entry = state.entries.get_mut(id)?;
        let CachedMaterials::Decryption(materials) = &entry.materials else {
            return None;
        };
        if self.expired(entry, now) {
            state.entries.remove(id);
            return None;
        }
        let materials = materials.clone();
        entry.last_used = uses;
        Some(materials)
    }
}

fn safe_to_cache(suite: AlgorithmSuite) -> bool {
    suite.key_derivation() != KeyDerivation::Identity
}

impl<M: MaterialsManager> MaterialsManager for CachingCmm<M> {
    fn get_encryption_materials(
        &self,
        request: &EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials, EnvelopeError> {
        let cacheable_suite = request.algorithm_suite.is_none_or(safe_to_cache);
        let bytes = match request.max_plaintext_length {
            // A message larger than a data key may encrypt cannot share one.
            Some(bytes) if cacheable_suite && bytes <= self.limits.max_bytes => bytes,
            _ => {
                self.count(|stats| stats.encrypt_misses += 1);
                return self.backing.get_encryption_materials(request);
            }
        };
        let id = self.encryption_id(request)?;
        if let Some(materials) = self.take_encryption(&id, bytes) {
            self.count(|stats| stats.encrypt_hits += 1);
            return Ok(materials);
        }
        self.count(|stats| stats.encrypt_misses += 1);
        // Spec: the backing CMM learns how much the materials may encrypt.
        let backing_request = EncryptionMaterialsRequest {
            max_plaintext_length: Some(self.limits.max_bytes),
            ..request.clone()
        };
        let materials = self.backing.get_encryption_materials(&backing_request)?;
        if safe_to_cache(materials.algorithm_suite()) {
            self.cache.insert(
                id,
                Entry {
                    materials: CachedMaterials::Encryption(materials.clone()),
                    created: self.clock.now(),
                    max_age: self.limits.max_age,
                    messages: 1,
                    bytes,
                    last_used: 0,
                },
            );
        }
        Ok(materials)
    }

    fn decrypt_materials(
        &self,
        request: &DecryptMaterialsRequest<'_>,
    ) -> Result<DecryptionMaterials, EnvelopeError> {
        if !safe_to_cache(request.algorithm_suite) {
            self.count(|stats| stats.decrypt_misses += 1);
            return self.backing.decrypt_materials(request);
        }
        let id = self.decryption_id(request)?;
        if let Some(materials) = self.take_decryption(&id) {
            self.count(|stats| stats.decrypt_hits += 1);
            return Ok(materials);
        }
        self.count(|stats| stats.decrypt_misses += 1);
        let materials = self.backing.decrypt_materials(request)?;
        self.cache.insert(
            id,
            Entry {
                materials: CachedMaterials::Decryption(materials.clone()),
                created: self.clock.now(),
                max_age: self.limits.max_age,
                messages: 0,
                bytes: 0,
                last_used: 0,
            },
        );
        Ok(materials)
    }
}

impl<M> std::fmt::Debug for CachingCmm<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingCmm")
            .field("limits", &self.limits)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn sha512(bytes: &[u8]) -> CacheId {
    let mut out = [0u8; SHA512_OUTPUT_LEN];
    out.copy_from_slice(digest::digest(&SHA512, bytes).as_ref());
    out
}

/// The header's encrypted-data-key entry (`data-format/message-header.md`).
fn serialize_edk(key: &EncryptedDataKey) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = Vec::with_capacity(
        6 + key.provider_id().len() + key.provider_info().len() + key.ciphertext().len(),
    );
    put_u16_prefixed(&mut out, key.provider_id().as_bytes())
        .and_then(|()| put_u16_prefixed(&mut out, key.provider_info()))
        .and_then(|()| put_u16_prefixed(&mut out, key.ciphertext()))
        .ok_or(EnvelopeError::Internal("encrypted data key too long"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        decrypt_to_vec, encrypt_to_vec, DecryptOptions, DefaultCmm, EncryptOptions,
        EncryptionContext, Keyring, KeyringError, RawAesKeyring,
    };
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock the test moves by hand.
    #[derive(Default)]
    struct FakeClock(AtomicU64);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            Duration::from_millis(self.0.load(Ordering::SeqCst))
        }
    }

    /// A raw AES keyring that counts how often it makes a data key.
    struct Counting {
        inner: RawAesKeyring,
        generated: AtomicU64,
        unwrapped: AtomicU64,
    }

    impl Keyring for Counting {
        fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
            self.generated.fetch_add(1, Ordering::SeqCst);
            self.inner.on_encrypt(materials)
        }
        fn on_decrypt(
            &self,
            materials: &mut DecryptionMaterials,
            keys: &[EncryptedDataKey],
        ) -> Result<(), KeyringError> {
            self.unwrapped.fetch_add(1, Ordering::SeqCst);
            self.inner.on_decrypt(materials, keys)
        }
    }

    struct Fixture {
        keyring: Arc<Counting>,
        clock: Arc<FakeClock>,
        cmm: CachingCmm<DefaultCmm<Arc<Counting>>>,
    }

    fn fixture(limits: CacheLimits) -> Fixture {
        let keyring = Arc::new(Counting {
            inner: RawAesKeyring::new("test", "key", &[9u8; 32]).unwrap(),
            generated: AtomicU64::new(0),
            unwrapped: AtomicU64::new(0),
        });
        let clock = Arc::new(FakeClock::default());
        let cmm = CachingCmm::new(
            DefaultCmm::new(keyring.clone()),
            MaterialsCache::new(16),
            limits,
            clock.clone(),
        )
        .unwrap();
        Fixture {
            keyring,
            clock,
            cmm,
        }
    }

    impl Fixture {
        fn generated(&self) -> u64 {
            self.keyring.generated.load(Ordering::SeqCst)
        }
    }

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    fn edk_of(message: &[u8], cmm: &dyn MaterialsManager) -> Vec<u8> {
        let (_, header) = decrypt_to_vec(cmm, &DecryptOptions::new(), message).unwrap();
        header.encrypted_data_keys()[0].ciphertext().to_vec()
    }

    fn unsigned() -> EncryptOptions {
        EncryptOptions::new().with_algorithm_suite(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)
    }

    #[test]
    fn reuses_a_data_key_within_the_message_limit_and_never_beyond() {
        let f = fixture(
            CacheLimits::new(minutes(5))
                .unwrap()
                .with_max_messages(3)
                .unwrap(),
        );
        let messages: Vec<Vec<u8>> = (0..7)
            .map(|i| encrypt_to_vec(&f.cmm, &unsigned(), format!("m{i}").as_bytes()).unwrap())
            .collect();
        // 7 messages, at most 3 per data key: 3 + 3 + 1.
        assert_eq!(f.generated(), 3);
        let edks: Vec<Vec<u8>> = messages.iter().map(|m| edk_of(m, &f.cmm)).collect();
        assert_eq!(edks[0], edks[1]);
        assert_eq!(edks[1], edks[2]);
        assert_ne!(edks[2], edks[3]);
        assert_eq!(edks[3], edks[5]);
        assert_ne!(edks[5], edks[6]);
        // Every message still decrypts (each has its own message id and keys).
        for (i, message) in messages.iter().enumerate() {
            let (plaintext, _) = decrypt_to_vec(&f.cmm, &DecryptOptions::new(), message).unwrap();
            assert_eq!(plaintext.as_bytes(), format!("m{i}").as_bytes());
        }
        let stats = f.cmm.stats();
        assert_eq!((stats.encrypt_hits, stats.encrypt_misses), (4, 3));
    }

    #[test]
    fn counts_bytes_by_the_declared_bound_and_never_exceeds_the_byte_limit() {
        let f = fixture(
            CacheLimits::new(minutes(5))
                .unwrap()
                .with_max_bytes(100)
                .unwrap(),
        );
        // 40 + 40 fit; the third 40 would make 120 > 100: a fresh key.
        for _ in 0..3 {
            encrypt_to_vec(&f.cmm, &unsigned(), &[1u8; 40]).unwrap();
        }
        assert_eq!(f.generated(), 2);
        // Larger than the limit by itself: never cached, never served from the cache.
        encrypt_to_vec(&f.cmm, &unsigned(), &[1u8; 101]).unwrap();
        encrypt_to_vec(&f.cmm, &unsigned(), &[1u8; 101]).unwrap();
        assert_eq!(f.generated(), 4);
        // The entry holding 40 bytes still serves up to 60 more.
        encrypt_to_vec(&f.cmm, &unsigned(), &[1u8; 60]).unwrap();
        assert_eq!(f.generated(), 4);
        encrypt_to_vec(&f.cmm, &unsigned(), &[1u8; 1]).unwrap();
        assert_eq!(f.generated(), 5);
    }

    #[test]
    fn entries_expire_at_their_maximum_age() {
        let f = fixture(CacheLimits::new(minutes(5)).unwrap());
        encrypt_to_vec(&f.cmm, &unsigned(), b"a").unwrap();
        f.clock.advance(minutes(4));
        encrypt_to_vec(&f.cmm, &unsigned(), b"b").unwrap();
        assert_eq!(f.generated(), 1);
        f.clock.advance(minutes(1));
        encrypt_to_vec(&f.cmm, &unsigned(), b"c").unwrap();
        assert_eq!(f.generated(), 2, "an entry exactly max_age old is expired");
        f.clock.advance(minutes(4));
        encrypt_to_vec(&f.cmm, &unsigned(), b"d").unwrap();
        assert_eq!(f.generated(), 2);
    }

    #[test]
    fn separates_encryption_contexts_and_suites() {
        let f = fixture(CacheLimits::new(minutes(5)).unwrap());
        let with = |pairs: &[(&str, &str)]| {
            let mut context = EncryptionContext::new();
            for (k, v) in pairs {
                context.insert(*k, *v);
            }
            unsigned().with_encryption_context(context)
        };
        let a1 = encrypt_to_vec(&f.cmm, &with(&[("tenant", "a")]), b"x").unwrap();
        let b1 = encrypt_to_vec(&f.cmm, &with(&[("tenant", "b")]), b"x").unwrap();
        let a2 = encrypt_to_vec(&f.cmm, &with(&[("tenant", "a")]), b"x").unwrap();
        // Injective serialization: "ab"/"c" and "a"/"bc" are different entries.
        encrypt_to_vec(&f.cmm, &with(&[("ab", "c")]), b"x").unwrap();
        encrypt_to_vec(&f.cmm, &with(&[("a", "bc")]), b"x").unwrap();
        assert_eq!(f.generated(), 4);
        assert_eq!(edk_of(&a1, &f.cmm), edk_of(&a2, &f.cmm));
        assert_ne!(edk_of(&a1, &f.cmm), edk_of(&b1, &f.cmm));
        // Each message carries its own context, whichever entry it came from.
        let (_, header) = decrypt_to_vec(&f.cmm, &DecryptOptions::new(), &b1).unwrap();
        assert_eq!(header.encryption_context().get("tenant"), Some("b"));

        // Another suite, or no suite (the default), is another entry too.
        let signed = EncryptOptions::new()
            .with_algorithm_suite(AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384);
        encrypt_to_vec(&f.cmm, &signed, b"x").unwrap();
        encrypt_to_vec(&f.cmm, &EncryptOptions::new(), b"x").unwrap();
        assert_eq!(f.generated(), 6);
    }

    /// The ESDK caches signed suites too, signing key included: the messages
    /// share the key pair and still verify.
    #[test]
    fn signed_suites_are_cached_with_their_signing_key() {
        let f = fixture(CacheLimits::new(minutes(5)).unwrap());
        let options = EncryptOptions::new();
        let one = encrypt_to_vec(&f.cmm, &options, b"one").unwrap();
        let two = encrypt_to_vec(&f.cmm, &options, b"two").unwrap();
        assert_eq!(f.generated(), 1);
        let decrypt = DecryptOptions::new();
        let (_, h1) = decrypt_to_vec(&f.cmm, &decrypt, &one).unwrap();
        let (p2, h2) = decrypt_to_vec(&f.cmm, &decrypt, &two).unwrap();
        assert_eq!(p2.as_bytes(), b"two");
        assert_eq!(
            h1.encryption_context().get(crate::PUBLIC_KEY_CONTEXT_KEY),
            h2.encryption_context().get(crate::PUBLIC_KEY_CONTEXT_KEY)
        );
        assert_ne!(h1.message_id(), h2.message_id());
    }

    #[test]
    fn bypasses_requests_without_a_length_bound_and_unsafe_suites() {
        let f = fixture(CacheLimits::new(minutes(5)).unwrap());
        for _ in 0..2 {
            let mut out = Vec::new();
            crate::encrypt(&f.cmm, &unsigned(), &b"streamed"[..], &mut out).unwrap();
        }
        assert_eq!(f.generated(), 2, "a stream of unknown length is not cached");
        assert!(!safe_to_cache(AlgorithmSuite::Aes256GcmIv12Tag16NoKdf));
        let request = EncryptionMaterialsRequest {
            encryption_context: EncryptionContext::new(),
            algorithm_suite: Some(AlgorithmSuite::Aes256GcmIv12Tag16NoKdf),
            commitment_policy: crate::CommitmentPolicy::ForbidEncryptAllowDecrypt,
            max_plaintext_length: Some(1),
        };
        for _ in 0..2 {
            f.cmm.get_encryption_materials(&request).unwrap();
        }
        assert_eq!(
            f.generated(),
            4,
            "a suite without key derivation is not cached"
        );
        assert_eq!(f.cmm.cache.len(), 0);
    }

    #[test]
    fn partitions_do_not_share_entries_unless_named_alike() {
        let f = fixture(CacheLimits::new(minutes(5)).unwrap());
        let cache = MaterialsCache::new(8);
        let limits = CacheLimits::new(minutes(5)).unwrap();
        let make = |partition: Option<&str>| {
            let backing = DefaultCmm::new(f.keyring.clone());
            match partition {
                Some(name) => CachingCmm::with_partition(
                    backing,
                    cache.clone(),
                    limits,
                    f.clock.clone(),
                    name,
                ),
                None => CachingCmm::new(backing, cache.clone(), limits, f.clock.clone()).unwrap(),
            }
        };
        let (one, two) = (make(None), make(None));
        encrypt_to_vec(&one, &unsigned(), b"x").unwrap();
        encrypt_to_vec(&two, &unsigned(), b"x").unwrap();
        assert_eq!(f.generated(), 2);
        let (three, four) = (make(Some("keys-a")), make(Some("keys-a")));
        encrypt_to_vec(&three, &unsigned(), b"x").unwrap();
        encrypt_to_vec(&four, &unsigned(), b"x").unwrap();
        assert_eq!(f.generated(), 3);
    }

    #[test]
    fn decryption_materials_are_cached_until_they_expire() {
        let f = fixture(CacheLimits::new(minutes(5)).unwrap());
        let plain = DefaultCmm::new(RawAesKeyring::new("test", "key", &[9u8; 32]).unwrap());
        let message = encrypt_to_vec(&plain, &unsigned(), b"hello").unwrap();
        for _ in 0..3 {
            let (plaintext, _) = decrypt_to_vec(&f.cmm, &DecryptOptions::new(), &message).unwrap();
            assert_eq!(plaintext.as_bytes(), b"hello");
        }
        assert_eq!(f.keyring.unwrapped.load(Ordering::SeqCst), 1);
        f.clock.advance(minutes(5));
        decrypt_to_vec(&f.cmm, &DecryptOptions::new(), &message).unwrap();
        assert_eq!(f.keyring.unwrapped.load(Ordering::SeqCst), 2);
        // A different message (other data key) is another entry.
        let other = encrypt_to_vec(&plain, &unsigned(), b"hello").unwrap();
        decrypt_to_vec(&f.cmm, &DecryptOptions::new(), &other).unwrap();
        assert_eq!(f.keyring.unwrapped.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used_entry() {
        let keyring = Arc::new(Counting {
            inner: RawAesKeyring::new("test", "key", &[9u8; 32]).unwrap(),
            generated: AtomicU64::new(0),
            unwrapped: AtomicU64::new(0),
        });
        let cache = MaterialsCache::new(2);
        let cmm = CachingCmm::new(
            DefaultCmm::new(keyring.clone()),
            cache.clone(),
            CacheLimits::new(minutes(5)).unwrap(),
            Arc::new(FakeClock::default()),
        )
        .unwrap();
        let ctx = |v: &str| unsigned().with_encryption_context(EncryptionContext::from([("k", v)]));
        for v in ["a", "b", "a", "c", "a", "b"] {
            encrypt_to_vec(&cmm, &ctx(v), b"x").unwrap();
        }
        // a, b miss; a hits; c evicts b (least recently used); a hits; b misses.
        assert_eq!(keyring.generated.load(Ordering::SeqCst), 4);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn limits_are_validated() {
        assert!(CacheLimits::new(Duration::ZERO).is_err());
        let limits = CacheLimits::new(minutes(1)).unwrap();
        assert!(limits.with_max_messages(0).is_err());
        assert!(limits.with_max_bytes(u64::MAX).is_err());
        assert_eq!(limits.max_messages(), DEFAULT_MAX_MESSAGES);
        assert_eq!(limits.max_bytes(), DEFAULT_MAX_BYTES);
    }
}
