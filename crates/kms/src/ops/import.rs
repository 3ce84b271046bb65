//! GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial.
//!
//! These operations work only on keys whose origin is `EXTERNAL`. keyward
//! creates key material itself (every key's origin is `AWS_KMS`), so each of
//! them, once the request is valid, the key found and the caller allowed,
//! answers what AWS answers for an `AWS_KMS` key: UnsupportedOperationException
//! "<key ARN> origin is AWS_KMS which is not valid for this operation."
//! (LocalStack's AWS-validated `test_get_parameters_for_import_raises_for_non_external_kms_keys`).
//! Hence the return type: these functions cannot succeed.

use std::convert::Infallible;

use crate::authz::Ask;
use crate::ids::Accepts;
use crate::key::ORIGIN;
use crate::ops::check_key_id;
use crate::validate::Violations;
use crate::{Caller, ImportKeyMaterialInput, Kms, KmsError, KmsOperation};

const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];
const IMPORT_TYPES: &[&str] = &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"];

/// `KeyMaterialId`: 64 lower-case hex digits (model constraints).
fn check_key_material_id(v: &mut Violations, key_material_id: Option<&str>) {
    v.length("keyMaterialId", key_material_id, 64, 64);
    v.pattern("keyMaterialId", key_material_id, "^[a-f0-9]+$", |id| {
        id.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
    });
}

impl Kms {
    pub fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        wrapping_algorithm: Option<String>,
        wrapping_key_spec: Option<String>,
    ) -> Result<Infallible, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.required("wrappingAlgorithm", &wrapping_algorithm);
        v.one_of(
            "wrappingAlgorithm",
            wrapping_algorithm.as_deref(),
            WRAPPING_ALGORITHMS,
        );
        v.required("wrappingKeySpec", &wrapping_key_spec);
        v.one_of(
            "wrappingKeySpec",
            wrapping_key_spec.as_deref(),
            WRAPPING_KEY_SPECS,
        );
        v.finish()?;
        self.refuse_import(
            caller,
            key_id.as_deref(),
            KmsOperation::GetParametersForImport,
        )
    }

    pub fn import_key_material(
        &self,
        caller: &Caller,
        input: ImportKeyMaterialInput,
    ) -> Result<Infallible, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &input.key_id);
        v.required("importToken", &input.import_token_len);
        v.secret_length("importToken", input.import_token_len, 1, 6144);
        v.required("encryptedKeyMaterial", &input.encrypted_key_material_len);
        v.secret_length(
            "encryptedKeyMaterial",
            input.encrypted_key_material_len,
            1,
            6144,
        );
        v.one_of(
            "expirationModel",
            input.expiration_model.as_deref(),
            EXPIRATION_MODELS,
        );
        v.one_of("importType", input.import_type.as_deref(), IMPORT_TYPES);
        check_key_material_id(&mut v, input.key_material_id.as_deref());
        v.length(
            "keyMaterialDescription",
            input.key_material_description.as_deref(),
            0,
            256,
        );
        v.finish()?;
        self.refuse_import(
            caller,
            input.key_id.as_deref(),
            KmsOperation::ImportKeyMaterial,
        )
    }

    pub fn delete_imported_key_material(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        key_material_id: Option<String>,
    ) -> Result<Infallible, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        check_key_material_id(&mut v, key_material_id.as_deref());
        v.finish()?;
        self.refuse_import(
            caller,
            key_id.as_deref(),
            KmsOperation::DeleteImportedKeyMaterial,
        )
    }

    /// The key is found (key ID or key ARN, the caller's account only) and
    /// the caller allowed `operation`; then its origin refuses the operation.
    fn refuse_import(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        operation: KmsOperation,
    ) -> Result<Infallible, KmsError> {
        let (key, _) = self.resolve(caller, key_id.unwrap_or_default(), Accepts::KeyOnly, false)?;
        self.authorize(caller, &key, &Ask::new(operation))?;
        Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {ORIGIN} which is not valid for this operation.",
            key.arn
        )))
    }
}
