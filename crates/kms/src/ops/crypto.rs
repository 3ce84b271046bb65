//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext), GenerateRandom.
//!
//! Order of checks, as AWS: model validation, key resolution, key state,
//! the cryptography itself, and only then DryRun — so a dry run that would
//! fail answers the real error.

use std::sync::Arc;

use keyward_crypto::{
    open, random_secret, seal, BlobHeader, EncryptionContext, Secret, BLOB_OVERHEAD,
};

use crate::authz::Ask;
use crate::error::CiphertextProblem;
use crate::ids::Accepts;
use crate::key::{Key, ENCRYPTION_ALGORITHM};
use crate::ops::{check_grant_token_syntax, check_grant_tokens, check_key_id, finish_dry_run};
use crate::state::KeyOperation;
use crate::validate::Violations;
use crate::KmsOperation;
use crate::{
    Caller, Context, DecryptInput, DecryptOutput, EncryptInput, EncryptOutput,
    GenerateDataKeyInput, GenerateDataKeyOutput, Kms, KmsError, ReEncryptInput, ReEncryptOutput,
};

const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];
const DATA_KEY_SPECS: &[&str] = &["AES_256", "AES_128"];
const MAX_PLAINTEXT: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;
const IGNORE_CIPHERTEXT: &str = "IGNORE_CIPHERTEXT";

fn check_algorithm(v: &mut Violations, member: &str, algorithm: &Option<String>) {
    v.one_of(member, algorithm.as_deref(), ENCRYPTION_ALGORITHMS);
}

/// A symmetric key encrypts with SYMMETRIC_DEFAULT only.
fn require_symmetric(algorithm: &Option<String>, key: &Key) -> Result<(), KmsError> {
    match algorithm.as_deref() {
        None | Some(ENCRYPTION_ALGORITHM) => Ok(()),
        Some(other) => Err(KmsError::InvalidKeyUsage(format!(
            "The encryption algorithm {other} is not compatible with the key spec SYMMETRIC_DEFAULT of {}.",
            key.arn
        ))),
    }
}

fn context(pairs: Option<Context>) -> EncryptionContext {
    EncryptionContext::new(pairs.unwrap_or_default())
}

fn reject_recipient(present: bool) -> Result<(), KmsError> {
    if present {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by keyward.".into(),
        ));
    }
    Ok(())
}

/// The ciphertext side of Decrypt and ReEncrypt, with the member names
/// their validation messages use.
struct CiphertextSource {
    blob: Option<Vec<u8>>,
    key_id: Option<String>,
    key_member: &'static str,
    context: Option<Context>,
    algorithm: Option<String>,
    dry_run: Option<bool>,
    modifiers: Option<Vec<String>>,
}

impl CiphertextSource {
    fn ignores_ciphertext(&self) -> bool {
        self.dry_run == Some(true)
            && self
                .modifiers
                .as_ref()
                .is_some_and(|m| m.iter().any(|x| x == IGNORE_CIPHERTEXT))
    }

    /// Without a ciphertext the key must be named; otherwise the blob is required.
    fn validate(&self, v: &mut Violations, algorithm_member: &str) {
        if self.ignores_ciphertext() {
            check_key_id(v, self.key_member, &self.key_id);
        } else {
            v.required("ciphertextBlob", &self.blob);
            v.length(
                self.key_member,
                self.key_id.as_deref(),
                1,
                super::KEY_ID_MAX,
            );
        }
        v.secret_length(
            "ciphertextBlob",
            self.blob.as_ref().map(Vec::len),
            1,
            MAX_CIPHERTEXT,
        );
        check_algorithm(v, algorithm_member, &self.algorithm);
        for (i, modifier) in self.modifiers.iter().flatten().enumerate() {
            v.one_of(
                &format!("dryRunModifiers.{}.member", i + 1),
                Some(modifier),
                &[IGNORE_CIPHERTEXT],
            );
        }
    }
}

/// What a successful decryption found.
struct Opened {
    key: Arc<Key>,
    plaintext: Secret,
    material_hex: String,
}

impl Kms {
    fn seal_with_current(
        &self,
        key: &Key,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, String), KmsError> {
        let current = key.current_material()?;
        let material = self.material(key, &current.id)?;
        let blob = seal(key.key_id_bytes, current.id, &material, context, plaintext)
            .map_err(KmsError::crypto)?;
        Ok((blob, current.id.to_hex()))
    }

    pub fn encrypt(&self, caller: &Caller, input: EncryptInput) -> Result<EncryptOutput, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &input.key_id);
        v.required("plaintext", &input.plaintext);
        v.secret_length(
            "plaintext",
            input.plaintext.as_ref().map(Secret::len),
            1,
            MAX_PLAINTEXT,
        );
        check_grant_tokens(&mut v, &input.grant_tokens);
        check_algorithm(&mut v, "encryptionAlgorithm", &input.encryption_algorithm);
        v.finish()?;
        check_grant_token_syntax(&input.grant_tokens)?;
        let key = self.resolve_for(
            caller,
            input.key_id.as_deref().unwrap_or_default(),
            Accepts::Any,
            KeyOperation::Cryptographic,
            Ask::new(KmsOperation::Encrypt)
                .with_encryption_context(input.encryption_context.as_ref())
                .with_algorithm(input.encryption_algorithm.as_deref()),
        )?;
        require_symmetric(&input.encryption_algorithm, &key)?;
        finish_dry_run(input.dry_run)?;
        let plaintext = input.plaintext.unwrap_or_else(|| Secret::new(Vec::new()));
        let (blob, key_material_id) =
            self.seal_with_current(&key, &context(input.encryption_context), plaintext.expose())?;
        Ok(EncryptOutput {
            ciphertext_blob: blob,
            key_arn: key.arn.clone(),
            encryption_algorithm: ENCRYPTION_ALGORITHM,
            key_material_id,
        })
    }

    /// Finds the key a blob names, checks it against the optional `KeyId`,
    /// authorizes `ask` on it, checks its state, and opens the blob.
    fn open_blob(
        &self,
        caller: &Caller,
        blob: &[u8],
        key_id: Option<&str>,
        context: &EncryptionContext,
        ask: Ask,
    ) -> Result<Opened, KmsError> {
        let header = BlobHeader::decode(blob)
            .map_err(|_| KmsError::InvalidCiphertext(CiphertextProblem::Malformed))?;
        let blob_key_id = uuid::Uuid::from_bytes(header.key_id).to_string();
        let (key, ask) = match key_id {
            Some(requested) => {
                let (key, alias) = self.resolve(caller, requested, Accepts::Any, true)?;
                if key.key_id != blob_key_id {
                    return Err(KmsError::IncorrectKey);
                }
                let ask = match alias {
                    Some(alias) => ask.with("kms:RequestAlias", alias),
                    None => ask,
                };
                (key, ask)
            }
            // The header is authenticated only by the key it names, so a blob
            // naming no key we have is indistinguishable from a tampered one:
            // AWS's answer for both is a bare InvalidCiphertextException. The
            // key may belong to another account: authorization decides.
            None => (
                self.key_by_id(&blob_key_id)
                    .ok_or(KmsError::InvalidCiphertext(CiphertextProblem::UnknownKey))?,
                ask,
            ),
        };
        self.authorize(caller, &key, &ask)?;
        key.state.allows(KeyOperation::Cryptographic, &key.arn)?;
        if key.material(&header.material_id).is_none() {
            return Err(KmsError::InvalidCiphertext(
                CiphertextProblem::UnknownMaterial,
            ));
        }
        let material = self.material(&key, &header.material_id)?;
        let plaintext = open(blob, &material, context)
            .map_err(|_| KmsError::InvalidCiphertext(CiphertextProblem::AuthenticationFailed))?;
        Ok(Opened {
            key,
            plaintext,
            material_hex: header.material_id.to_hex(),
        })
    }

    pub fn decrypt(&self, caller: &Caller, input: DecryptInput) -> Result<DecryptOutput, KmsError> {
        let source = CiphertextSource {
            blob: input.ciphertext_blob,
            key_id: input.key_id,
            key_member: "keyId",
            context: input.encryption_context,
            algorithm: input.encryption_algorithm,
            dry_run: input.dry_run,
            modifiers: input.dry_run_modifiers,
        };
        let mut v = Violations::new();
        source.validate(&mut v, "encryptionAlgorithm");
        check_grant_tokens(&mut v, &input.grant_tokens);
        v.finish()?;
        reject_recipient(input.recipient_present)?;
        check_grant_token_syntax(&input.grant_tokens)?;
        let ask = Ask::new(KmsOperation::Decrypt)
            .with_encryption_context(source.context.as_ref())
            .with_algorithm(source.algorithm.as_deref());
        let opened = self.open_source(caller, source, ask)?;
        finish_dry_run(input.dry_run)?;
        Ok(DecryptOutput {
            key_arn: opened.key.arn.clone(),
            plaintext: opened.plaintext,
            encryption_algorithm: ENCRYPTION_ALGORITHM,
            key_material_id: opened.material_hex,
        })
    }

    pub fn re_encrypt(
        &self,
        caller: &Caller,
        input: ReEncryptInput,
    ) -> Result<ReEncryptOutput, KmsError> {
        let source = CiphertextSource {
            blob: input.ciphertext_blob,
            key_id: input.source_key_id,
            key_member: "sourceKeyId",
            context: input.source_encryption_context,
            algorithm: input.source_encryption_algorithm,
            dry_run: input.dry_run,
            modifiers: input.dry_run_modifiers,
        };
        let mut v = Violations::new();
        source.validate(&mut v, "sourceEncryptionAlgorithm");
        check_key_id(&mut v, "destinationKeyId", &input.destination_key_id);
        check_algorithm(
            &mut v,
            "destinationEncryptionAlgorithm",
            &input.destination_encryption_algorithm,
        );
        check_grant_tokens(&mut v, &input.grant_tokens);
        v.finish()?;
        check_grant_token_syntax(&input.grant_tokens)?;
        let source_ask = Ask::for_action(KmsOperation::ReEncrypt, "ReEncryptFrom")
            .with_encryption_context(source.context.as_ref())
            .with_algorithm(source.algorithm.as_deref());
        let mut destination_ask = Ask::for_action(KmsOperation::ReEncrypt, "ReEncryptTo")
            .with_encryption_context(input.destination_encryption_context.as_ref())
            .with_algorithm(input.destination_encryption_algorithm.as_deref());
        // kms:ReEncryptOnSameKey compares the two keys; the source key is
        // known from the blob's header before anything is decrypted.
        let source_key_id = source
            .blob
            .as_deref()
            .and_then(|blob| BlobHeader::decode(blob).ok())
            .map(|header| uuid::Uuid::from_bytes(header.key_id).to_string());
        let (destination_preview, _) = self.resolve(
            caller,
            input.destination_key_id.as_deref().unwrap_or_default(),
            Accepts::Any,
            true,
        )?;
        let same_key = source_key_id.as_deref() == Some(destination_preview.key_id.as_str());
        destination_ask = destination_ask.with("kms:ReEncryptOnSameKey", same_key);
        let source_ask = source_ask.with("kms:ReEncryptOnSameKey", same_key);
        let destination = self.resolve_for(
            caller,
            input.destination_key_id.as_deref().unwrap_or_default(),
            Accepts::Any,
            KeyOperation::Cryptographic,
            destination_ask,
        )?;
        require_symmetric(&input.destination_encryption_algorithm, &destination)?;
        let opened = self.open_source(caller, source, source_ask)?;
        finish_dry_run(input.dry_run)?;
        let (blob, destination_material) = self.seal_with_current(
            &destination,
            &context(input.destination_encryption_context),
            opened.plaintext.expose(),
        )?;
        Ok(ReEncryptOutput {
            ciphertext_blob: blob,
            source_key_arn: opened.key.arn.clone(),
            key_arn: destination.arn.clone(),
            source_encryption_algorithm: ENCRYPTION_ALGORITHM,
            destination_encryption_algorithm: ENCRYPTION_ALGORITHM,
            source_key_material_id: opened.material_hex,
            destination_key_material_id: destination_material,
        })
    }

    /// Opens the ciphertext that Decrypt and ReEncrypt start from. With DryRun
    /// and `IGNORE_CIPHERTEXT` there is none: the named key is checked instead
    /// and the dry run ends here.
    fn open_source(
        &self,
        caller: &Caller,
        source: CiphertextSource,
        ask: Ask,
    ) -> Result<Opened, KmsError> {
        if source.ignores_ciphertext() {
            let key = self.resolve_for(
                caller,
                source.key_id.as_deref().unwrap_or_default(),
                Accepts::Any,
                KeyOperation::Cryptographic,
                ask,
            )?;
            require_symmetric(&source.algorithm, &key)?;
            return Err(KmsError::DryRun);
        }
        let blob = source.blob.unwrap_or_default();
        let opened = self.open_blob(
            caller,
            &blob,
            source.key_id.as_deref(),
            &context(source.context),
            ask,
        )?;
        require_symmetric(&source.algorithm, &opened.key)?;
        Ok(opened)
    }

    /// GenerateDataKey (`with_plaintext`) and GenerateDataKeyWithoutPlaintext.
    pub fn generate_data_key(
        &self,
        caller: &Caller,
        input: GenerateDataKeyInput,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyOutput, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &input.key_id);
        v.range("numberOfBytes", input.number_of_bytes, 1, 1024);
        v.one_of("keySpec", input.key_spec.as_deref(), DATA_KEY_SPECS);
        check_grant_tokens(&mut v, &input.grant_tokens);
        v.finish()?;
        let length = match (input.number_of_bytes, input.key_spec.as_deref()) {
            (Some(n), None) => usize::try_from(n).unwrap_or(0),
            (None, Some("AES_128")) => 16,
            (None, Some(_)) => 32,
            _ => {
                return Err(KmsError::ValidationMessage(
                    "Please specify either number of bytes or key spec.".into(),
                ))
            }
        };
        reject_recipient(input.recipient_present)?;
        check_grant_token_syntax(&input.grant_tokens)?;
        let mut ask = Ask::new(if with_plaintext {
            KmsOperation::GenerateDataKey
        } else {
            KmsOperation::GenerateDataKeyWithoutPlaintext
        })
        .with_encryption_context(input.encryption_context.as_ref())
        .with_algorithm(None);
        if let Some(spec) = &input.key_spec {
            ask = ask.with("kms:DataKeySpec", spec.clone());
        }
        let key = self.resolve_for(
            caller,
            input.key_id.as_deref().unwrap_or_default(),
            Accepts::Any,
            KeyOperation::Cryptographic,
            ask,
        )?;
        finish_dry_run(input.dry_run)?;
        let data_key = random_secret(length).map_err(KmsError::crypto)?;
        let (blob, material_id) =
            self.seal_with_current(&key, &context(input.encryption_context), data_key.expose())?;
        debug_assert_eq!(blob.len(), length + BLOB_OVERHEAD);
        Ok(GenerateDataKeyOutput {
            ciphertext_blob: blob,
            plaintext: with_plaintext.then_some(data_key),
            key_arn: key.arn.clone(),
            key_material_id: material_id,
        })
    }

    pub fn generate_random(
        &self,
        caller: &Caller,
        number_of_bytes: Option<i64>,
        custom_key_store_id: Option<String>,
        recipient_present: bool,
    ) -> Result<Secret, KmsError> {
        let mut v = Violations::new();
        v.range("numberOfBytes", number_of_bytes, 1, 1024);
        v.length("customKeyStoreId", custom_key_store_id.as_deref(), 1, 64);
        v.finish()?;
        let Some(n) = number_of_bytes else {
            return Err(KmsError::ValidationMessage(
                "NumberOfBytes is required.".into(),
            ));
        };
        if custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported by keyward.".into(),
            ));
        }
        reject_recipient(recipient_present)?;
        self.authorize_by_iam(caller, &Ask::new(KmsOperation::GenerateRandom), None)?;
        random_secret(usize::try_from(n).unwrap_or(0)).map_err(KmsError::crypto)
    }
}
