//! Any body for any operation of the KMS operation table, through the same
//! handling the wire uses (`keyward_server::kms_api::handle`) and the
//! call's events: a success or a client error (400), never a panic or a
//! server fault, and every event written is a CloudTrail record that
//! decodes and re-encodes to exactly its bytes (the trail's canonical form).
#![no_main]

use std::sync::{Arc, OnceLock};

use keyward_audit::CloudTrailEvent;
use keyward_crypto::RootKey;
use keyward_kms::{Kms, KmsOperation};
use keyward_principal::{Caller, Clock};
use keyward_server::audit::{kms_events, time_of_ms, Outcome, RequestFacts};
use keyward_server::kms_api::handle;
use keyward_store::{SqliteStore, Store};
use libfuzzer_sys::fuzz_target;

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
    let operation = KmsOperation::ALL[usize::from(selector) % KmsOperation::ALL.len()];
    let caller = Caller::root("111122223333");
    let handled = handle(kms(), &caller, operation.name(), body);
    let reply = handled.result.map_err(|error| error.wire());
    if let Err(error) = &reply {
        assert_eq!(error.status.as_u16(), 400, "{operation:?}: {error:?}");
    }
    let facts = RequestFacts {
        event_source: "kms.amazonaws.com",
        event_name: operation.name(),
        region: "us-east-1",
        source_ip: None,
        user_agent: "fuzz",
        request_id: "00000000-0000-0000-0000-000000000000",
        access_key_id: None,
        event_time: time_of_ms(1_800_000_000_000),
    };
    let entries = kms_events(&facts, &caller, handled.operation, &handled.facts, Outcome::of(&reply))
        .expect("an event of a handled call is always written");
    for entry in entries {
        let event = CloudTrailEvent::decode(&entry.bytes).expect("a written event decodes");
        assert_eq!(event.encode().expect("re-encodes"), entry.bytes, "{operation:?}");
    }
});
