//! Any body for any operation through the JSON dispatch: a success or a
//! client error (400), never a panic or a server fault.
#![no_main]

use std::sync::{Arc, OnceLock};

use keyward_crypto::RootKey;
use keyward_kms::Kms;
use keyward_principal::{Caller, Clock};
use keyward_server::kms_api::dispatch;
use keyward_store::{SqliteStore, Store};
use libfuzzer_sys::fuzz_target;

const OPERATIONS: &[&str] = &[
    "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey", "ScheduleKeyDeletion",
    "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom", "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases", "EnableKeyRotation",
    "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations", "TagResource",
    "UntagResource", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "CreateGrant",
    "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant",
];

fn kms() -> &'static Kms {
    static KMS: OnceLock<(tempfile::TempDir, Kms)> = OnceLock::new();
    &KMS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).expect("store"));
        let snapshot = store.load().expect("load");
        let kms = Kms::open(store, &snapshot, RootKey::generate().expect("root"), "us-east-1", Arc::new(Clock::new()))
            .expect("kms");
        (dir, kms)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let operation = OPERATIONS[usize::from(selector) % OPERATIONS.len()];
    let caller = Caller::root("111122223333");
    if let Err(error) = dispatch(kms(), &caller, operation, body) {
        assert_eq!(error.wire().status.as_u16(), 400, "{operation}: {error:?}");
    }
});
