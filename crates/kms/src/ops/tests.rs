//! Domain tests: every operation through `Kms`, on a real SQLite store in a
//! temp directory, with the clock moved instead of waited for.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_crypto::{RootKey, Secret};
use keyward_store::{SqliteStore, Store};

use crate::*;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    root: RootKey,
    kms: Kms,
}

fn caller() -> Caller {
    Caller::root("111122223333")
}

fn open_kms(path: &std::path::Path, root: &RootKey) -> Kms {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    let snapshot = store.load().unwrap();
    Kms::open(
        store,
        &snapshot,
        root.clone(),
        "us-east-1",
        Arc::new(Clock::new()),
    )
    .unwrap()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kms.sqlite");
    let root = RootKey::generate().unwrap();
    let kms = open_kms(&path, &root);
    Fixture {
        _dir: dir,
        path,
        root,
        kms,
    }
}

impl Fixture {
    fn key(&self) -> KeyMetadata {
        self.kms
            .create_key(&caller(), CreateKeyInput::default())
            .unwrap()
    }
    fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &[(&str, &str)],
    ) -> Result<EncryptOutput, KmsError> {
        self.kms.encrypt(
            &caller(),
            EncryptInput {
                key_id: Some(key_id.into()),
                plaintext: Some(Secret::new(plaintext.to_vec())),
                encryption_context: Some(ctx(context)),
                ..Default::default()
            },
        )
    }
    fn decrypt(
        &self,
        blob: &[u8],
        key_id: Option<&str>,
        context: &[(&str, &str)],
    ) -> Result<DecryptOutput, KmsError> {
        self.kms.decrypt(
            &caller(),
            DecryptInput {
                ciphertext_blob: Some(blob.to_vec()),
                key_id: key_id.map(str::to_string),
                encryption_context: Some(ctx(context)),
                ..Default::default()
            },
        )
    }
}

fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn code(result: Result<impl std::fmt::Debug, KmsError>) -> String {
    let error = result.unwrap_err();
    let name = format!("{error:?}");
    name.split(['(', ' '])
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn new_key_metadata_matches_aws() {
    let f = fixture();
    let m = f
        .kms
        .create_key(
            &caller(),
            CreateKeyInput {
                description: Some("d".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        m.arn,
        format!("arn:aws:kms:us-east-1:111122223333:key/{}", m.key_id)
    );
    assert_eq!(
        (m.key_state, m.enabled, m.key_spec, m.key_usage, m.origin),
        (
            "Enabled",
            true,
            "SYMMETRIC_DEFAULT",
            "ENCRYPT_DECRYPT",
            "AWS_KMS"
        )
    );
    assert_eq!(m.current_key_material_id.len(), 64);
    let (policy, name) = f
        .kms
        .get_key_policy(&caller(), Some(m.key_id.clone()), None)
        .unwrap();
    assert_eq!(name, "default");
    assert_eq!(policy, default_key_policy("111122223333"));
    assert!(policy.contains("\"Sid\" : \"Enable IAM User Permissions\""));
}

#[test]
fn other_key_specs_and_features_are_refused_clearly() {
    let f = fixture();
    let spec = |s: &str| CreateKeyInput {
        key_spec: Some(s.into()),
        key_usage: Some("SIGN_VERIFY".into()),
        ..Default::default()
    };
    assert_eq!(
        code(f.kms.create_key(&caller(), spec("RSA_2048"))),
        "UnsupportedOperation"
    );
    // Without a KeyUsage, AWS asks for one before judging the spec.
    let no_usage = CreateKeyInput {
        key_spec: Some("RSA_2048".into()),
        ..Default::default()
    };
    assert_eq!(
        code(f.kms.create_key(&caller(), no_usage)),
        "ValidationMessage"
    );
    assert_eq!(
        code(f.kms.create_key(&caller(), spec("AES_999"))),
        "Validation"
    );
    let multi = CreateKeyInput {
        multi_region: Some(true),
        ..Default::default()
    };
    assert_eq!(
        code(f.kms.create_key(&caller(), multi)),
        "UnsupportedOperation"
    );
    let usage = CreateKeyInput {
        key_usage: Some("SIGN_VERIFY".into()),
        ..Default::default()
    };
    assert_eq!(
        code(f.kms.create_key(&caller(), usage)),
        "ValidationMessage"
    );
}

#[test]
fn encrypt_decrypt_binds_the_context_exactly() {
    let f = fixture();
    let key = f.key();
    let out = f.encrypt(&key.key_id, b"secret", &[("ab", "c")]).unwrap();
    assert_eq!(out.key_arn, key.arn);
    let plain = f
        .decrypt(&out.ciphertext_blob, None, &[("ab", "c")])
        .unwrap();
    assert_eq!(plain.plaintext.expose(), b"secret");
    assert_eq!(plain.key_material_id, key.current_key_material_id);
    for wrong in [
        &[("a", "bc")][..],
        &[][..],
        &[("ab", "c"), ("x", "y")][..],
        &[("AB", "c")][..],
    ] {
        assert_eq!(
            code(f.decrypt(&out.ciphertext_blob, None, wrong)),
            "InvalidCiphertext",
            "{wrong:?}"
        );
    }
}

#[test]
fn decrypt_with_another_key_id_is_incorrect_key() {
    let f = fixture();
    let (a, b) = (f.key(), f.key());
    let out = f.encrypt(&a.key_id, b"x", &[]).unwrap();
    assert_eq!(
        code(f.decrypt(&out.ciphertext_blob, Some(&b.key_id), &[])),
        "IncorrectKey"
    );
    assert!(f.decrypt(&out.ciphertext_blob, Some(&a.arn), &[]).is_ok());
}

#[test]
fn tampered_or_truncated_blobs_are_invalid_ciphertext() {
    let f = fixture();
    let key = f.key();
    let blob = f
        .encrypt(&key.key_id, b"hello", &[])
        .unwrap()
        .ciphertext_blob;
    for i in [0, 20, 60, 70, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[i] ^= 0x40;
        let result = f.decrypt(&bad, None, &[]);
        assert!(
            matches!(
                result,
                Err(KmsError::InvalidCiphertext(_) | KmsError::NotFound(_))
            ),
            "byte {i}: {result:?}"
        );
    }
    assert_eq!(code(f.decrypt(&blob[..10], None, &[])), "InvalidCiphertext");
}

#[test]
fn plaintext_and_data_key_limits() {
    let f = fixture();
    let key = f.key();
    let too_big = f
        .encrypt(&key.key_id, &[0u8; 4097], &[])
        .unwrap_err()
        .to_string();
    assert_eq!(too_big, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
    assert!(f.encrypt(&key.key_id, &[0u8; 4096], &[]).is_ok());
    let gdk = |n: Option<i64>, spec: Option<&str>| {
        f.kms.generate_data_key(
            &caller(),
            GenerateDataKeyInput {
                key_id: Some(key.key_id.clone()),
                number_of_bytes: n,
                key_spec: spec.map(str::to_string),
                ..Default::default()
            },
            true,
        )
    };
    assert_eq!(gdk(Some(64), None).unwrap().plaintext.unwrap().len(), 64);
    assert_eq!(
        gdk(None, Some("AES_128")).unwrap().plaintext.unwrap().len(),
        16
    );
    assert_eq!(
        gdk(None, Some("AES_256")).unwrap().plaintext.unwrap().len(),
        32
    );
    assert_eq!(
        gdk(Some(32), Some("AES_256")).unwrap_err().to_string(),
        "Please specify either number of bytes or key spec."
    );
    assert_eq!(
        gdk(None, None).unwrap_err().to_string(),
        "Please specify either number of bytes or key spec."
    );
    assert!(gdk(Some(1025), None)
        .unwrap_err()
        .to_string()
        .contains("Value '1025' at 'numberOfBytes'"));
    let without = f
        .kms
        .generate_data_key(
            &caller(),
            GenerateDataKeyInput {
                key_id: Some(key.key_id.clone()),
                number_of_bytes: Some(64),
                ..Default::default()
            },
            false,
        )
        .unwrap();
    assert!(without.plaintext.is_none());
    assert_eq!(
        f.decrypt(&without.ciphertext_blob, None, &[])
            .unwrap()
            .plaintext
            .len(),
        64
    );
}

#[test]
fn key_states_gate_operations_with_aws_messages() {
    let f = fixture();
    let key = f.key();
    f.kms
        .disable_key(&caller(), Some(key.key_id.clone()))
        .unwrap();
    assert_eq!(
        f.encrypt(&key.key_id, b"x", &[]).unwrap_err().to_string(),
        format!("{} is disabled.", key.arn)
    );
    f.kms
        .enable_key(&caller(), Some(key.key_id.clone()))
        .unwrap();
    let blob = f.encrypt(&key.key_id, b"x", &[]).unwrap().ciphertext_blob;
    let scheduled = f
        .kms
        .schedule_key_deletion(&caller(), Some(key.key_id.clone()), Some(7))
        .unwrap();
    assert_eq!(
        (scheduled.key_state, scheduled.pending_window_in_days),
        ("PendingDeletion", 7)
    );
    assert_eq!(
        f.decrypt(&blob, None, &[]).unwrap_err().to_string(),
        format!("{} is pending deletion.", key.arn)
    );
    let described = f
        .kms
        .describe_key(&caller(), Some(key.key_id.clone()), None)
        .unwrap();
    assert_eq!(
        (
            described.key_state,
            described.enabled,
            described.deletion_date_ms
        ),
        ("PendingDeletion", false, Some(scheduled.deletion_date_ms))
    );
    assert_eq!(
        code(f.kms.enable_key(&caller(), Some(key.key_id.clone()))),
        "KeyPendingDeletion"
    );
    f.kms
        .cancel_key_deletion(&caller(), Some(key.key_id.clone()))
        .unwrap();
    assert_eq!(
        f.kms
            .describe_key(&caller(), Some(key.key_id.clone()), None)
            .unwrap()
            .key_state,
        "Disabled"
    );
    assert_eq!(
        f.kms
            .cancel_key_deletion(&caller(), Some(key.key_id.clone()))
            .unwrap_err()
            .to_string(),
        format!("{} is not pending deletion.", key.arn)
    );
    for days in [6, 31] {
        assert_eq!(
            code(
                f.kms
                    .schedule_key_deletion(&caller(), Some(key.key_id.clone()), Some(days))
            ),
            "Validation"
        );
    }
}

#[test]
fn deletion_happens_when_the_window_passes() {
    let f = fixture();
    let key = f.key();
    f.kms
        .create_alias(
            &caller(),
            Some("alias/doomed".into()),
            Some(key.key_id.clone()),
        )
        .unwrap();
    f.kms
        .schedule_key_deletion(&caller(), Some(key.key_id.clone()), None)
        .unwrap();
    f.kms.clock().advance_ms(29 * DAY_MS);
    assert_eq!(f.kms.run_due_work().unwrap(), DueWork::default());
    f.kms.clock().advance_ms(DAY_MS + 1000);
    assert_eq!(
        f.kms.run_due_work().unwrap().deleted_keys,
        vec![DueKey {
            key_id: key.key_id.clone(),
            arn: key.arn.clone(),
            account_id: key.account_id.clone(),
            key_material_id: None,
        }]
    );
    assert_eq!(
        f.kms
            .describe_key(&caller(), Some(key.key_id.clone()), None)
            .unwrap_err()
            .to_string(),
        format!("Key '{}' does not exist", key.arn)
    );
    assert!(f
        .kms
        .list_aliases(
            &caller(),
            None,
            PageRequest {
                limit: None,
                marker: None
            }
        )
        .unwrap()
        .items
        .is_empty());
    // Really gone from storage too.
    let reopened = open_kms(&f.path, &f.root);
    assert!(reopened
        .list_keys(
            &caller(),
            PageRequest {
                limit: None,
                marker: None
            }
        )
        .unwrap()
        .items
        .is_empty());
}

#[test]
fn rotation_keeps_old_material_and_encrypts_with_the_new() {
    let f = fixture();
    let key = f.key();
    let old = f.encrypt(&key.key_id, b"old", &[]).unwrap().ciphertext_blob;
    f.kms
        .enable_key_rotation(&caller(), Some(key.key_id.clone()), Some(90))
        .unwrap();
    let status = f
        .kms
        .get_key_rotation_status(&caller(), Some(key.key_id.clone()))
        .unwrap();
    assert_eq!(
        (status.enabled, status.rotation_period_in_days),
        (true, Some(90))
    );
    let next = status.next_rotation_date_ms.unwrap();
    assert!((next - key.creation_date_ms - 90 * DAY_MS).abs() < 60_000);
    f.kms
        .rotate_key_on_demand(&caller(), Some(key.key_id.clone()))
        .unwrap();
    f.kms.clock().advance_ms(91 * DAY_MS);
    let rotated = f.kms.run_due_work().unwrap().rotated_keys;
    assert_eq!(
        rotated.iter().map(|k| &k.key_id).collect::<Vec<_>>(),
        vec![&key.key_id]
    );
    let current = f
        .kms
        .describe_key(&caller(), Some(key.key_id.clone()), None)
        .unwrap()
        .current_key_material_id;
    assert_eq!(rotated[0].key_material_id, Some(current));
    let rotations = f
        .kms
        .list_key_rotations(
            &caller(),
            Some(key.key_id.clone()),
            None,
            PageRequest {
                limit: None,
                marker: None,
            },
        )
        .unwrap()
        .items;
    assert_eq!(
        rotations
            .iter()
            .map(|r| r.rotation_type.unwrap())
            .collect::<Vec<_>>(),
        vec!["ON_DEMAND", "AUTOMATIC"]
    );
    assert_eq!(
        rotations
            .iter()
            .map(|r| r.key_material_state)
            .collect::<Vec<_>>(),
        vec!["NON_CURRENT", "CURRENT"]
    );
    let all = f
        .kms
        .list_key_rotations(
            &caller(),
            Some(key.key_id.clone()),
            Some("ALL_KEY_MATERIAL".into()),
            PageRequest {
                limit: None,
                marker: None,
            },
        )
        .unwrap()
        .items;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].key_material_id, key.current_key_material_id);
    let described = f
        .kms
        .describe_key(&caller(), Some(key.key_id.clone()), None)
        .unwrap();
    assert_eq!(
        described.current_key_material_id,
        rotations[1].key_material_id
    );
    assert_eq!(
        f.decrypt(&old, None, &[]).unwrap().plaintext.expose(),
        b"old"
    );
    let new = f.encrypt(&key.key_id, b"new", &[]).unwrap().ciphertext_blob;
    assert_eq!(
        f.decrypt(&new, None, &[]).unwrap().key_material_id,
        described.current_key_material_id
    );
    for days in [89, 2561] {
        assert_eq!(
            code(
                f.kms
                    .enable_key_rotation(&caller(), Some(key.key_id.clone()), Some(days))
            ),
            "Validation"
        );
    }
}

#[test]
fn on_demand_rotation_limit_is_25() {
    let f = fixture();
    let key = f.key();
    for _ in 0..25 {
        f.kms
            .rotate_key_on_demand(&caller(), Some(key.key_id.clone()))
            .unwrap();
    }
    assert!(f
        .kms
        .rotate_key_on_demand(&caller(), Some(key.key_id.clone()))
        .unwrap_err()
        .to_string()
        .starts_with("The on-demand rotations limit has been reached"));
}

#[test]
fn aliases_resolve_everywhere_aws_accepts_them() {
    let f = fixture();
    let (a, b) = (f.key(), f.key());
    f.kms
        .create_alias(&caller(), Some("alias/app".into()), Some(a.key_id.clone()))
        .unwrap();
    assert_eq!(
        f.kms
            .create_alias(&caller(), Some("alias/app".into()), Some(b.key_id.clone()))
            .unwrap_err()
            .to_string(),
        "An alias with the name arn:aws:kms:us-east-1:111122223333:alias/app already exists"
    );
    assert_eq!(
        code(
            f.kms
                .create_alias(&caller(), Some("app".into()), Some(a.key_id.clone()))
        ),
        "ValidationMessage"
    );
    assert_eq!(
        code(f.kms.create_alias(
            &caller(),
            Some("alias/aws/x".into()),
            Some(a.key_id.clone())
        )),
        "NotAuthorized"
    );
    assert_eq!(
        code(f.kms.create_alias(
            &caller(),
            Some("alias/bad name".into()),
            Some(a.key_id.clone())
        )),
        "Validation"
    );
    for name in ["alias/app", "arn:aws:kms:us-east-1:111122223333:alias/app"] {
        assert_eq!(f.encrypt(name, b"x", &[]).unwrap().key_arn, a.arn);
        assert_eq!(
            f.kms
                .describe_key(&caller(), Some(name.into()), None)
                .unwrap()
                .key_id,
            a.key_id
        );
    }
    assert_eq!(
        code(f.kms.enable_key(&caller(), Some("alias/app".into()))),
        "NotFound"
    );
    f.kms
        .update_alias(&caller(), Some("alias/app".into()), Some(b.arn.clone()))
        .unwrap();
    assert_eq!(f.encrypt("alias/app", b"x", &[]).unwrap().key_arn, b.arn);
    let listed = f
        .kms
        .list_aliases(
            &caller(),
            Some(b.key_id.clone()),
            PageRequest {
                limit: None,
                marker: None,
            },
        )
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].target_key_id, b.key_id);
    f.kms
        .delete_alias(&caller(), Some("alias/app".into()))
        .unwrap();
    assert_eq!(
        f.encrypt("alias/app", b"x", &[]).unwrap_err().to_string(),
        "Alias arn:aws:kms:us-east-1:111122223333:alias/app is not found."
    );
}

#[test]
fn tags_follow_aws_rules() {
    let f = fixture();
    let key = f.key();
    let tag = |k: &str, v: &str| Tag {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    f.kms
        .tag_resource(
            &caller(),
            Some(key.key_id.clone()),
            Some(vec![tag("b", "2"), tag("a", "1")]),
        )
        .unwrap();
    f.kms
        .tag_resource(
            &caller(),
            Some(key.key_id.clone()),
            Some(vec![tag("a", "one")]),
        )
        .unwrap();
    let tags = f
        .kms
        .list_resource_tags(
            &caller(),
            Some(key.key_id.clone()),
            PageRequest {
                limit: None,
                marker: None,
            },
        )
        .unwrap()
        .items;
    assert_eq!(
        tags,
        vec![
            ("a".to_string(), "one".to_string()),
            ("b".to_string(), "2".to_string())
        ]
    );
    assert_eq!(
        f.kms
            .tag_resource(
                &caller(),
                Some(key.key_id.clone()),
                Some(vec![tag("AWS:x", "1")])
            )
            .unwrap_err()
            .to_string(),
        "Tags beginning with aws: are reserved"
    );
    assert_eq!(
        f.kms
            .tag_resource(
                &caller(),
                Some(key.key_id.clone()),
                Some(vec![tag("c", "1"), tag("c", "2")])
            )
            .unwrap_err()
            .to_string(),
        "Duplicate tag keys"
    );
    let many: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(
        code(
            f.kms
                .tag_resource(&caller(), Some(key.key_id.clone()), Some(many))
        ),
        "Tag"
    );
    f.kms
        .untag_resource(
            &caller(),
            Some(key.key_id.clone()),
            Some(vec!["a".into(), "missing".into()]),
        )
        .unwrap();
    assert_eq!(
        f.kms
            .list_resource_tags(
                &caller(),
                Some(key.key_id.clone()),
                PageRequest {
                    limit: None,
                    marker: None
                }
            )
            .unwrap()
            .items
            .len(),
        1
    );
}

#[test]
fn dry_runs_check_everything_then_refuse() {
    let f = fixture();
    let key = f.key();
    let dry = |key_id: &str| {
        f.kms.encrypt(
            &caller(),
            EncryptInput {
                key_id: Some(key_id.into()),
                plaintext: Some(Secret::new(b"x".to_vec())),
                dry_run: Some(true),
                ..Default::default()
            },
        )
    };
    assert_eq!(
        dry(&key.key_id).unwrap_err().to_string(),
        "The request would have succeeded, but the DryRun option is set."
    );
    f.kms
        .disable_key(&caller(), Some(key.key_id.clone()))
        .unwrap();
    assert_eq!(code(dry(&key.key_id)), "KeyDisabled");
    assert_eq!(code(dry("alias/none")), "NotFound");
}

#[test]
fn everything_survives_a_reopen() {
    let f = fixture();
    let key = f.key();
    f.kms
        .create_alias(
            &caller(),
            Some("alias/kept".into()),
            Some(key.key_id.clone()),
        )
        .unwrap();
    f.kms
        .enable_key_rotation(&caller(), Some(key.key_id.clone()), Some(180))
        .unwrap();
    let before = f
        .encrypt(&key.key_id, b"before", &[("k", "v")])
        .unwrap()
        .ciphertext_blob;
    f.kms
        .rotate_key_on_demand(&caller(), Some(key.key_id.clone()))
        .unwrap();
    let after = f
        .encrypt("alias/kept", b"after", &[])
        .unwrap()
        .ciphertext_blob;
    let Fixture {
        _dir,
        path,
        root,
        kms,
    } = f;
    drop(kms);
    let kms = open_kms(&path, &root);
    let f = Fixture {
        _dir,
        path,
        root,
        kms,
    };
    assert_eq!(
        f.decrypt(&before, None, &[("k", "v")])
            .unwrap()
            .plaintext
            .expose(),
        b"before"
    );
    assert_eq!(
        f.decrypt(&after, Some("alias/kept"), &[])
            .unwrap()
            .plaintext
            .expose(),
        b"after"
    );
    let status = f
        .kms
        .get_key_rotation_status(&caller(), Some(key.key_id.clone()))
        .unwrap();
    assert_eq!(status.rotation_period_in_days, Some(180));
    // The wrong root key cannot unwrap the material.
    let other = open_kms(&f.path, &RootKey::generate().unwrap());
    assert!(matches!(
        other.encrypt(
            &caller(),
            EncryptInput {
                key_id: Some(key.key_id.clone()),
                plaintext: Some(Secret::new(b"x".to_vec())),
                ..Default::default()
            }
        ),
        Err(KmsError::Internal(_))
    ));
}

#[test]
fn list_keys_pages_with_markers() {
    let f = fixture();
    let mut ids: Vec<String> = (0..5).map(|_| f.key().key_id).collect();
    ids.sort();
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = f
            .kms
            .list_keys(
                &caller(),
                PageRequest {
                    limit: Some(2),
                    marker: marker.clone(),
                },
            )
            .unwrap();
        seen.extend(page.items.into_iter().map(|k| k.key_id));
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(
        code(f.kms.list_keys(
            &caller(),
            PageRequest {
                limit: Some(0),
                marker: None
            }
        )),
        "Validation"
    );
    assert_eq!(
        code(f.kms.list_keys(
            &caller(),
            PageRequest {
                limit: None,
                marker: Some("%%%".into())
            }
        )),
        "InvalidMarker"
    );
}

#[test]
fn another_accounts_key_needs_its_policy_and_its_arn() {
    let f = fixture();
    let key = f.key();
    let stranger = Caller::root("444455556666");
    // By ARN the key is found, and the default policy (its own account only) refuses.
    assert_eq!(
        code(f.kms.describe_key(&stranger, Some(key.arn.clone()), None)),
        "AccessDenied"
    );
    // Management operations never reach into another account.
    assert_eq!(
        code(f.kms.disable_key(&stranger, Some(key.arn.clone()))),
        "NotFound"
    );
    assert_eq!(
        code(
            f.kms
                .describe_key(&stranger, Some(key.key_id.clone()), None)
        ),
        "NotFound"
    );
}

#[test]
fn the_trail_learns_which_key_a_failed_call_named() {
    let f = fixture();
    let key = f.key();
    f.kms
        .create_alias(
            &caller(),
            Some("alias/app".into()),
            Some(key.key_id.clone()),
        )
        .unwrap();
    f.kms
        .disable_key(&caller(), Some(key.key_id.clone()))
        .unwrap();
    // The call itself fails (disabled key), but the alias still names it.
    assert!(f.encrypt("alias/app", b"x", &[]).is_err());
    for named in [
        "alias/app".to_owned(),
        "arn:aws:kms:us-east-1:111122223333:alias/app".to_owned(),
        key.key_id.clone(),
        key.arn.clone(),
    ] {
        assert_eq!(
            f.kms.key_arn_named(&caller(), &named),
            Some(key.arn.clone()),
            "{named}"
        );
    }
    assert_eq!(f.kms.key_arn_named(&caller(), "alias/none"), None);
    assert_eq!(f.kms.grant_named_by_token("not a token"), None);
    assert_eq!(f.kms.key_arn_named(&caller(), "not a key"), None);
}
