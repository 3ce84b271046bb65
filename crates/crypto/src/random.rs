//! Secure randomness from AWS-LC's DRBG (the FIPS DRBG in `fips` builds).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::{CryptoError, Secret};

/// Fills `out` with secure random bytes.
pub fn random_bytes(out: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| CryptoError::RandomFailure)
}

/// A fresh secret of `len` random bytes (data keys, `GenerateRandom`).
pub fn random_secret(len: usize) -> Result<Secret, CryptoError> {
    let mut bytes = vec![0u8; len];
    random_bytes(&mut bytes)?;
    Ok(Secret::new(bytes))
}
