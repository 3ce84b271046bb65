//! Who is calling: SigV4 verification against the identity domain's access
//! keys and session tokens.
//!
//! The identity domain (`keyward_identity::Identities::resolve`) turns an
//! access key id (and, for temporary credentials, the
//! `X-Amz-Security-Token`) into the secret to verify with and the `Caller`;
//! this module checks the signature and keeps the hot path cheap: the
//! derived SigV4 signing key of each access key is cached per scope
//! (date/region/service), so a request costs one HMAC instead of five.
//!
//! In `--dev` mode (loopback only) an unknown long-term access key id
//! (`AKIA…`-style, or any id not starting with `ASIA`: moto's `testing`) is
//! accepted without a signature check and acts as the default account's root
//! user, with or without a session token keyward did not issue (moto's
//! suites set `AWS_SESSION_TOKEN=testing`), so suites written for
//! moto/LocalStack with dummy credentials run unchanged. Known keys are
//! always verified, and so are temporary credentials (`ASIA…`): they are
//! keyward's own STS sessions, and a session key with a wrong or missing
//! token is refused as it is without `--dev`. Inactive keys and expired
//! sessions are refused, dev or not.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keyward_identity::{CredentialError, Identities};
use keyward_principal::Caller;
use keyward_sigv4::{self as sigv4, AuthError, Expectation, RequestParts};
use zeroize::Zeroizing;

/// A derived SigV4 signing key and the `date/region/service` scope it is for.
type ScopedSigningKey = (String, Zeroizing<Vec<u8>>);

/// Bound on cached signing keys: session keys are many and short-lived, so
/// the cache is emptied rather than allowed to grow without limit.
const MAX_CACHED_SIGNING_KEYS: usize = 10_000;

/// IAM is a global service signed for `us-east-1` whatever region a client
/// is configured for (botocore's endpoint rules for `aws-global`); STS's
/// global endpoint is too. Both are accepted for those services beside the
/// server's own region.
const GLOBAL_SIGNING_REGION: &str = "us-east-1";

/// Why a request was not authenticated.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    Signature(AuthError),
    /// A keyward session token whose expiry has passed.
    ExpiredToken,
}

pub struct Authenticator {
    identities: Arc<Identities>,
    /// The derived SigV4 signing key of each access key for its latest scope.
    /// An access key's secret never changes (a new secret is a new access key
    /// id), so an entry is valid as long as the scope matches; entries of
    /// deactivated or deleted keys are dropped (`forget`), and such keys are
    /// refused before the cache is consulted anyway.
    signing_keys: RwLock<HashMap<String, ScopedSigningKey>>,
    dev: bool,
    default_caller: Caller,
    region: String,
}

impl Authenticator {
    pub fn new(identities: Arc<Identities>, dev: bool, region: &str) -> Self {
        let default_caller = Caller::root(identities.default_account_id());
        Authenticator {
            identities,
            signing_keys: RwLock::new(HashMap::new()),
            dev,
            default_caller,
            region: region.to_string(),
        }
    }

    pub fn dev(&self) -> bool {
        self.dev
    }

    pub fn identities(&self) -> &Arc<Identities> {
        &self.identities
    }

    /// Drops the cached signing key of `access_key_id` (deactivated or deleted).
    pub fn forget(&self, access_key_id: &str) {
        self.signing_keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(access_key_id);
    }

    /// Verifies `parts` and returns the caller it authenticates. `services`
    /// are the credential-scope services this endpoint accepts for the request.
    pub fn authenticate(
        &self,
        parts: &RequestParts<'_>,
        services: &[&str],
        now_epoch_seconds: i64,
    ) -> Result<Caller, AuthFailure> {
        let header = parts
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| *value)
            .ok_or(AuthFailure::Signature(AuthError::Missing))?;
        let authorization = sigv4::parse_authorization(header).map_err(AuthFailure::Signature)?;
        let session_token = parts
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-security-token"))
            .map(|(_, value)| *value);
        let access_key_id = authorization.access_key_id.as_str();
        let credential = match self.identities.resolve(access_key_id, session_token) {
            Ok(credential) => credential,
            Err(CredentialError::ExpiredSessionToken) => return Err(AuthFailure::ExpiredToken),
            Err(CredentialError::UnknownAccessKey | CredentialError::InvalidSessionToken)
                if self.dev_stand_in(access_key_id) =>
            {
                return Ok(self.default_caller.clone())
            }
            Err(_) => return Err(AuthFailure::Signature(AuthError::UnknownAccessKey)),
        };
        let global = services.iter().any(|s| *s == "iam" || *s == "sts")
            && authorization.region == GLOBAL_SIGNING_REGION;
        let expect = Expectation {
            region: if global {
                GLOBAL_SIGNING_REGION
            } else {
                &self.region
            },
            services,
            now_epoch_seconds,
        };
        sigv4::verify_with(parts, &authorization, &expect, || {
            self.signing_key(access_key_id, &credential.secret, &authorization)
        })
        .map_err(AuthFailure::Signature)?;
        Ok(credential.caller)
    }

    /// Whether `--dev` lets `access_key_id`, which did not resolve, act as
    /// the default root: only a long-term id keyward does not know. A
    /// temporary id (`ASIA…`, AWS's prefix for STS credentials) is one of
    /// keyward's sessions or nothing, and is verified as without `--dev`.
    fn dev_stand_in(&self, access_key_id: &str) -> bool {
        self.dev
            && !access_key_id.starts_with("ASIA")
            && !self.identities.knows_access_key(access_key_id)
    }

    /// The signing key of `access_key_id` for the request's scope, derived once per scope.
    fn signing_key(
        &self,
        access_key_id: &str,
        secret: &str,
        authorization: &sigv4::Authorization,
    ) -> Zeroizing<Vec<u8>> {
        let scope = authorization.scope();
        let cached = self.signing_keys.read().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_scope, derived)) = cached.get(access_key_id) {
            if *cached_scope == scope {
                return derived.clone();
            }
        }
        drop(cached);
        let derived = sigv4::signing_key(
            secret,
            &authorization.date,
            &authorization.region,
            &authorization.service,
        );
        let mut cache = self.signing_keys.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_SIGNING_KEYS {
            cache.clear();
        }
        cache.insert(access_key_id.to_string(), (scope, derived.clone()));
        derived
    }
}

/// The request's headers as SigV4 sees them. HTTP/2 carries the host in
/// `:authority`, which SigV4 signs as `host`.
pub fn request_headers(parts: &axum::http::request::Parts) -> Vec<(&str, &str)> {
    let mut headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
        .collect();
    if !parts.headers.contains_key(axum::http::header::HOST) {
        if let Some(authority) = parts.uri.authority() {
            headers.push(("host", authority.as_str()));
        }
    }
    headers
}
