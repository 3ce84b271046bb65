//! The stored shape of keyward's state. Changing a field here is a schema
//! change: add fields with `#[serde(default)]`, never rename.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A KMS key, stored as one JSON document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub key_id: String,
    pub account_id: String,
    pub region: String,
    pub created_ms: i64,
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    pub origin: String,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    pub state: String,
    pub deletion_date_ms: Option<i64>,
    pub pending_window_days: Option<u32>,
    pub policy: String,
    pub tags: Vec<(String, String)>,
    /// Oldest first; the last one is current.
    pub materials: Vec<MaterialRow>,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<u32>,
    pub next_rotation_ms: Option<i64>,
    #[serde(default)]
    pub on_demand_rotations: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaterialRow {
    /// 64 hex digits.
    pub material_id: String,
    /// Hex of the key material wrapped by the root key.
    pub wrapped: String,
    pub created_ms: i64,
    /// `AUTOMATIC` or `ON_DEMAND`; `None` for the original material.
    pub rotation_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRow {
    pub account_id: String,
    pub alias_name: String,
    pub target_key_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub account_id: String,
    pub created_ms: i64,
}

/// An access key; the secret is stored wrapped by the root key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRow {
    pub access_key_id: String,
    pub account_id: String,
    pub principal_arn: String,
    pub wrapped_secret: Vec<u8>,
    /// `Active` or `Inactive`.
    pub status: String,
    pub created_ms: i64,
}

impl std::fmt::Debug for AccessKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRow")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("principal_arn", &self.principal_arn)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A record the store keeps as an opaque JSON document, filed under a
/// `kind` (`grant`, `user`, `role`, …) and an id unique within that kind.
/// New kinds of records need no schema change; the owning crate defines and
/// versions the document's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRow {
    pub kind: String,
    pub id: String,
    pub doc: String,
}

/// One change inside an atomic [`crate::Store::apply`] batch.
#[derive(Clone, Debug)]
pub enum Mutation {
    PutKey(Box<KeyRow>),
    DeleteKey {
        key_id: String,
    },
    PutAlias(AliasRow),
    DeleteAlias {
        account_id: String,
        alias_name: String,
    },
    PutAccount(AccountRow),
    PutAccessKey(AccessKeyRow),
    /// Removes an access key (IAM DeleteAccessKey, or its user's deletion).
    DeleteAccessKey {
        access_key_id: String,
    },
    PutDocument(DocumentRow),
    DeleteDocument {
        kind: String,
        id: String,
    },
    SetMeta {
        name: String,
        value: String,
    },
}

/// Everything in the store.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub keys: Vec<KeyRow>,
    pub aliases: Vec<AliasRow>,
    pub accounts: Vec<AccountRow>,
    pub access_keys: Vec<AccessKeyRow>,
    /// Ordered by kind, then id.
    pub documents: Vec<DocumentRow>,
    pub meta: BTreeMap<String, String>,
}
