//! Who is calling: SigV4 verification against the stored access keys.
//!
//! In `--dev` mode (loopback only) an unknown access key is accepted without
//! a signature check and acts as the default account's administrator, so
//! suites written for moto/LocalStack with dummy credentials run unchanged.
//! Known keys are always verified.

use std::collections::HashMap;
use std::sync::RwLock;

use keyward_iam::sigv4::{self, AuthError, Expectation, RequestParts};
use keyward_kms::Caller;
use zeroize::Zeroizing;

/// An access key the server knows.
pub struct AccessKey {
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub caller: Caller,
    pub active: bool,
}

/// A derived SigV4 signing key and the `date/region/service` scope it is for.
type ScopedSigningKey = (String, Zeroizing<Vec<u8>>);

pub struct Authenticator {
    keys: RwLock<HashMap<String, AccessKey>>,
    /// The derived SigV4 signing key of each access key for its latest scope.
    /// An access key's secret never changes (a new secret is a new access key
    /// id), so an entry is valid as long as the scope matches.
    signing_keys: RwLock<HashMap<String, ScopedSigningKey>>,
    dev: bool,
    default_caller: Caller,
    region: String,
}

impl Authenticator {
    pub fn new(keys: Vec<AccessKey>, dev: bool, default_caller: Caller, region: &str) -> Self {
        Authenticator {
            keys: RwLock::new(
                keys.into_iter()
                    .map(|k| (k.access_key_id.clone(), k))
                    .collect(),
            ),
            signing_keys: RwLock::new(HashMap::new()),
            dev,
            default_caller,
            region: region.to_string(),
        }
    }

    pub fn dev(&self) -> bool {
        self.dev
    }

    /// Verifies `parts` and returns the caller it authenticates.
    pub fn authenticate(
        &self,
        parts: &RequestParts<'_>,
        services: &[&str],
        now_epoch_seconds: i64,
    ) -> Result<Caller, AuthError> {
        let header = parts
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| *value)
            .ok_or(AuthError::Missing)?;
        let authorization = sigv4::parse_authorization(header)?;
        // keyward issues no temporary credentials yet (STS comes with issue 3),
        // so any session token is one we did not issue. Dev mode ignores them,
        // as moto does, so suites using dummy session credentials still run.
        let has_session_token = parts
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("x-amz-security-token"));
        if has_session_token && !self.dev {
            return Err(AuthError::UnknownAccessKey);
        }
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let Some(key) = keys.get(&authorization.access_key_id).filter(|k| k.active) else {
            if self.dev {
                return Ok(self.default_caller.clone());
            }
            return Err(AuthError::UnknownAccessKey);
        };
        let expect = Expectation {
            region: &self.region,
            services,
            now_epoch_seconds,
        };
        sigv4::verify_with(parts, &authorization, &expect, || {
            self.signing_key(key, &authorization)
        })?;
        Ok(key.caller.clone())
    }

    /// The signing key of `key` for the request's scope, derived once per scope.
    fn signing_key(
        &self,
        key: &AccessKey,
        authorization: &sigv4::Authorization,
    ) -> Zeroizing<Vec<u8>> {
        let scope = authorization.scope();
        let cached = self.signing_keys.read().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_scope, derived)) = cached.get(&key.access_key_id) {
            if *cached_scope == scope {
                return derived.clone();
            }
        }
        drop(cached);
        let derived = sigv4::signing_key(
            &key.secret,
            &authorization.date,
            &authorization.region,
            &authorization.service,
        );
        self.signing_keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.access_key_id.clone(), (scope, derived.clone()));
        derived
    }
}
