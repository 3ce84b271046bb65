//! A KMS keyring (`framework/aws-kms/aws-kms-keyring.md`, strict mode) over
//! `aws-sdk-kms`: the first key generates the data key (`GenerateDataKey`),
//! every further key encrypts it (`Encrypt`); on decrypt, only encrypted data
//! keys with provider id `aws-kms` whose provider info is the ARN of a
//! configured key are tried, with `Decrypt(KeyId = that ARN)`.
//!
//! The `Keyring` trait is synchronous, so the keyring owns a current-thread
//! Tokio runtime and blocks on each call. Credentials, region and endpoint
//! come from the SDK's default chain, exactly as the AWS CLI finds them.

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_config::BehaviorVersion;
use aws_sdk_kms::config::ProvideCredentials;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use keyward_envelope::{
    BoxError, DataKey, DecryptionMaterials, EncryptedDataKey, EncryptionContext,
    EncryptionMaterials, Keyring, KeyringError,
};

/// The provider id of KMS encrypted data keys, as every ESDK writes it.
pub const PROVIDER_ID: &str = "aws-kms";

/// Where and as whom to call KMS. `None` fields fall back to the SDK's default
/// chain (environment, shared config and credentials files).
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// A strict KMS keyring over one or more keys (key id, ARN, alias name or
/// alias ARN). With several keys it acts as the multi-keyring of the spec:
/// the first generates, the others wrap the same data key.
pub struct KmsKeyring {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_kms::Client,
    /// The default chain's credentials provider, for `check_credentials`.
    credentials: Option<aws_sdk_kms::config::SharedCredentialsProvider>,
    keys: Vec<String>,
    /// Discovery mode: also try any `aws-kms` key ARN in the message, if its
    /// account is listed (an empty list allows every account).
    discovery: Option<Vec<String>>,
    /// The configured keys resolved to key ARNs, for strict-mode matching on
    /// decrypt (resolved once, on first use).
    resolved: OnceLock<Vec<Option<String>>>,
}

impl std::fmt::Debug for KmsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyring")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl KmsKeyring {
    /// A keyring for `keys`, with a client configured as the AWS CLI would be.
    /// With `discovery`, decrypt also tries every KMS key ARN in the message
    /// whose account is in the list (any account if it is empty).
    pub fn new(
        keys: Vec<String>,
        discovery: Option<Vec<String>>,
        settings: &ClientSettings,
    ) -> Result<Self, KeyringError> {
        if keys.is_empty() && discovery.is_none() {
            return Err(KeyringError::Configuration(
                "at least one KMS key is needed",
            ));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| KeyringError::Internal("cannot start the KMS client runtime"))?;
        let (client, credentials) = runtime.block_on(async {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(profile) = &settings.profile {
                loader = loader.profile_name(profile);
            }
            if let Some(region) = &settings.region {
                loader = loader.region(aws_config::Region::new(region.clone()));
            }
            if let Some(url) = &settings.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            let config = loader.load().await;
            (
                aws_sdk_kms::Client::new(&config),
                config.credentials_provider(),
            )
        });
        Ok(KmsKeyring {
            runtime,
            client,
            credentials,
            keys,
            discovery,
            resolved: OnceLock::new(),
        })
    }

    /// Loads the credentials the calls will be signed with, so that a
    /// missing configuration is reported before any input is read. With no
    /// credentials anywhere the AWS CLI looks, the message says so and where
    /// it looked, rather than how the last place tried (the EC2 instance
    /// metadata service) failed; otherwise it is the provider's own.
    pub fn check_credentials(&self, profile: Option<&str>) -> Result<(), String> {
        let Some(provider) = &self.credentials else {
            return Err(no_credentials(profile));
        };
        match self.runtime.block_on(provider.provide_credentials()) {
            Ok(_) => Ok(()),
            Err(_) if !credentials_configured() => Err(no_credentials(profile)),
            Err(error) => Err(format!(
                "loading AWS credentials failed: {}",
                display_chain(&error)
            )),
        }
    }

    fn generate(
        &self,
        key: &str,
        len: usize,
        context: &HashMap<String, String>,
    ) -> Result<(DataKey, EncryptedDataKey), KeyringError> {
        let number_of_bytes = i32::try_from(len)
            .map_err(|_| KeyringError::Configuration("data key length out of range"))?;
        let output = self
            .runtime
            .block_on(
                self.client
                    .generate_data_key()
                    .key_id(key)
                    .number_of_bytes(number_of_bytes)
                    .set_encryption_context(non_empty(context))
                    .send(),
            )
            .map_err(|error| map_error(key, error))?;
        let arn = response_arn(key, output.key_id())?;
        let plaintext = output
            .plaintext()
            .ok_or_else(|| missing(key, "Plaintext"))?
            .as_ref()
            .to_vec();
        let ciphertext = output
            .ciphertext_blob()
            .ok_or_else(|| missing(key, "CiphertextBlob"))?
            .as_ref()
            .to_vec();
        Ok((
            DataKey::new(plaintext),
            EncryptedDataKey::new(PROVIDER_ID, arn.into_bytes(), ciphertext),
        ))
    }

    fn wrap(
        &self,
        key: &str,
        data_key: &DataKey,
        context: &HashMap<String, String>,
    ) -> Result<EncryptedDataKey, KeyringError> {
        let output = self
            .runtime
            .block_on(
                self.client
                    .encrypt()
                    .key_id(key)
                    .plaintext(Blob::new(data_key.expose().to_vec()))
                    .set_encryption_context(non_empty(context))
                    .send(),
            )
            .map_err(|error| map_error(key, error))?;
        let arn = response_arn(key, output.key_id())?;
        let ciphertext = output
            .ciphertext_blob()
            .ok_or_else(|| missing(key, "CiphertextBlob"))?
            .as_ref()
            .to_vec();
        Ok(EncryptedDataKey::new(
            PROVIDER_ID,
            arn.into_bytes(),
            ciphertext,
        ))
    }

    fn unwrap_key(
        &self,
        arn: &str,
        edk: &EncryptedDataKey,
        context: &HashMap<String, String>,
    ) -> Result<DataKey, KeyringError> {
        let output = self
            .runtime
            .block_on(
                self.client
                    .decrypt()
                    .key_id(arn)
                    .ciphertext_blob(Blob::new(edk.ciphertext().to_vec()))
                    .set_encryption_context(non_empty(context))
                    .send(),
            )
            .map_err(|error| map_error(arn, error))?;
        // Spec: the response's KeyId must be the key we asked for.
        if output.key_id() != Some(arn) {
            return Err(KeyringError::UnwrapFailed {
                key_name: arn.to_owned(),
            });
        }
        let plaintext = output
            .plaintext()
            .ok_or_else(|| missing(arn, "Plaintext"))?
            .as_ref()
            .to_vec();
        Ok(DataKey::new(plaintext))
    }

    /// The configured keys as ARNs. Key ARNs are taken as they are; key ids
    /// and aliases are resolved with `DescribeKey` (`None` if that failed).
    fn resolved_keys(&self) -> &[Option<String>] {
        self.resolved.get_or_init(|| {
            self.keys
                .iter()
                .map(|key| {
                    if is_key_arn(key) {
                        Some(key.clone())
                    } else {
                        self.describe_arn(key).ok()
                    }
                })
                .collect()
        })
    }

    /// Whether discovery mode may try `arn` (a key ARN of a listed account).
    fn discovers(&self, arn: &str) -> bool {
        match &self.discovery {
            None => false,
            Some(accounts) => {
                is_key_arn(arn)
                    && (accounts.is_empty()
                        || arn
                            .split(':')
                            .nth(4)
                            .is_some_and(|account| accounts.iter().any(|a| a == account)))
            }
        }
    }

    fn describe_arn(&self, key: &str) -> Result<String, KeyringError> {
        let output = self
            .runtime
            .block_on(self.client.describe_key().key_id(key).send())
            .map_err(|error| map_error(key, error))?;
        output
            .key_metadata()
            .and_then(|metadata| metadata.arn())
            .map(str::to_owned)
            .ok_or_else(|| missing(key, "KeyMetadata.Arn"))
    }
}

impl Keyring for KmsKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
        let context = context_map(materials.encryption_context());
        let mut wrap_with = self.keys.as_slice();
        if materials.plaintext_data_key().is_none() {
            let Some((generator, rest)) = self.keys.split_first() else {
                return Err(KeyringError::Configuration(
                    "at least one KMS key is needed",
                ));
            };
            let len = materials.algorithm_suite().data_key_len();
            let (data_key, edk) = self.generate(generator, len, &context)?;
            materials.set_plaintext_data_key(data_key)?;
            materials.add_encrypted_data_key(edk)?;
            wrap_with = rest;
        }
        for key in wrap_with {
            let data_key = materials
                .plaintext_data_key()
                .ok_or(KeyringError::MissingDataKey)?;
            let edk = self.wrap(key, data_key, &context)?;
            materials.add_encrypted_data_key(edk)?;
        }
        Ok(())
    }

    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError> {
        if materials.plaintext_data_key().is_some() {
            return Err(KeyringError::DataKeyAlreadySet);
        }
        let context = context_map(materials.encryption_context());
        let resolved = self.resolved_keys();
        let arns: Vec<&str> = resolved.iter().flatten().map(String::as_str).collect();
        let mut failures = Vec::new();
        for edk in encrypted_data_keys {
            if edk.provider_id() != PROVIDER_ID {
                continue;
            }
            let Ok(edk_arn) = std::str::from_utf8(edk.provider_info()) else {
                continue;
            };
            if !arns.contains(&edk_arn) && !self.discovers(edk_arn) {
                continue;
            }
            match self.unwrap_key(edk_arn, edk, &context) {
                Ok(data_key) => {
                    materials.set_plaintext_data_key(data_key)?;
                    return Ok(());
                }
                Err(error) => failures.push(error),
            }
        }
        if failures.is_empty() {
            // No message key belongs to our keys. If a key could not even be
            // resolved, that is the cause to report (asked again, for the error).
            for (key, arn) in self.keys.iter().zip(resolved) {
                if arn.is_none() {
                    if let Err(error) = self.describe_arn(key) {
                        failures.push(error);
                    }
                }
            }
            if failures.is_empty() {
                return Err(KeyringError::NoMatchingDataKey);
            }
        }
        if failures.len() == 1 {
            if let Some(only) = failures.pop() {
                return Err(only);
            }
        }
        Err(KeyringError::AllFailed(failures))
    }
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
fn is_key_arn(key: &str) -> bool {
    key.starts_with("arn:") && key.split(':').nth(5).is_some_and(|r| r.starts_with("key/"))
}

fn context_map(context: &EncryptionContext) -> HashMap<String, String> {
    context
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn non_empty(context: &HashMap<String, String>) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| context.clone())
}

fn response_arn(key: &str, key_id: Option<&str>) -> Result<String, KeyringError> {
    match key_id {
        Some(arn) if is_key_arn(arn) => Ok(arn.to_owned()),
        Some(other) => Err(KeyringError::Service {
            key_id: key.to_owned(),
            source: format!("KMS answered with KeyId {other:?}, which is not a key ARN").into(),
        }),
        None => Err(missing(key, "KeyId")),
    }
}

fn missing(key: &str, field: &str) -> KeyringError {
    KeyringError::Service {
        key_id: key.to_owned(),
        source: format!("the KMS response has no {field}").into(),
    }
}

/// KMS error codes onto the keyring's causes; the SDK error stays the source.
fn map_error<E>(key: &str, error: E) -> KeyringError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let key_id = key.to_owned();
    let code = error.code().unwrap_or_default().to_owned();
    let source: BoxError = Box::new(Described(
        match error.message() {
            Some(message) => format!("{code}: {message}"),
            None if code.is_empty() => display_chain(&error),
            None => code.clone(),
        },
        Box::new(error),
    ));
    match code.as_str() {
        "AccessDeniedException" => KeyringError::AccessDenied { key_id, source },
        "DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException" => {
            KeyringError::KeyDisabled { key_id, source }
        }
        "NotFoundException" => KeyringError::KeyNotFound { key_id, source },
        "InvalidCiphertextException" | "IncorrectKeyException" => {
            KeyringError::UnwrapFailed { key_name: key_id }
        }
        _ => KeyringError::Service { key_id, source },
    }
}

/// The shared credentials and config files the SDK reads, as the AWS CLI
/// finds them: `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`, else
/// `~/.aws/credentials` and `~/.aws/config`.
fn shared_files() -> [std::path::PathBuf; 2] {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |variable: &str, name: &str| match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => std::path::PathBuf::from(path),
        _ => home
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("~"))
            .join(".aws")
            .join(name),
    };
    [
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        file("AWS_CONFIG_FILE", "config"),
    ]
}

/// Whether any place the default credential chain reads (other than the
/// instance metadata service, always tried last) is set up.
fn credentials_configured() -> bool {
    let set = |variable: &str| std::env::var_os(variable).is_some_and(|v| !v.is_empty());
    set("AWS_ACCESS_KEY_ID")
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || shared_files()
            .iter()
            .any(|path| std::fs::metadata(path).is_ok_and(|meta| meta.len() > 0))
}

/// The message for no credentials anywhere, naming where they were looked for.
fn no_credentials(profile: Option<&str>) -> String {
    let profile = profile
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_else(|| "default".to_owned());
    let [credentials, config] = shared_files();
    format!(
        "no AWS credentials found (looked in the environment (AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY), profile {profile:?} of {} and {}, web identity \
         (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS container endpoint and the EC2 instance \
         metadata service); for a local keyward, export \
         AWS_SHARED_CREDENTIALS_FILE=<data-dir>/admin-credentials",
        credentials.display(),
        config.display()
    )
}

/// An error and its sources on one line, `a: b: c`, without repeats.
fn display_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// An SDK error with a one-line description (the SDK's own `Display` says
/// only "service error"). The SDK error is kept for `Debug`; it is not a
/// `source`, so that one-line reports do not repeat it.
struct Described(String, BoxError);

impl std::fmt::Debug for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.0, self.1)
    }
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.replace('\n', " "))
    }
}

impl std::error::Error for Described {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_are_told_from_ids_and_aliases() {
        assert!(is_key_arn(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!is_key_arn("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(!is_key_arn("alias/mine"));
        assert!(!is_key_arn("arn:aws:kms:us-east-1:111122223333:alias/mine"));
    }
}
