//! The embedded backend: one SQLite database in WAL mode with
//! `synchronous=FULL`, so a transaction is on disk when `COMMIT` returns.
//!
//! Why SQLite: ACID transactions and crash safety proven over decades, an
//! online backup API, one file to copy, nothing to install (the library is
//! compiled in), and the same relational model the PostgreSQL backend will
//! use. A single connection behind a mutex serialises writers; reads are
//! served from the domain's memory, so the lock is never on the hot path.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{
    AccessKeyRow, AccountRow, AliasRow, DocumentRow, KeyRow, Mutation, Snapshot, Store, StoreError,
};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    wrapped_secret BLOB NOT NULL,
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (
    account_id TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, alias_name));
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id));
";

pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.execute_batch(SCHEMA)?;
        let version: Option<String> = connection
            .query_row(
                "SELECT value FROM meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version.and_then(|v| v.parse::<i64>().ok()) {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew {
                    found,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(_) => {}
            None => {
                connection.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )?;
            }
        }
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied batch:
        // the transaction is rolled back when dropped. So a poisoned lock is safe to reuse.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for SqliteStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let connection = self.lock();
        let mut snapshot = Snapshot::default();
        let mut statement = connection.prepare("SELECT key_id, doc FROM keys ORDER BY key_id")?;
        let rows =
            statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (key_id, doc) = row?;
            let key: KeyRow = serde_json::from_str(&doc).map_err(|source| StoreError::Corrupt {
                what: format!("key {key_id}"),
                source,
            })?;
            snapshot.keys.push(key);
        }
        let mut statement = connection.prepare(
            "SELECT account_id, alias_name, target_key_id, created_ms, updated_ms FROM aliases ORDER BY account_id, alias_name",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(AliasRow {
                account_id: r.get(0)?,
                alias_name: r.get(1)?,
                target_key_id: r.get(2)?,
                created_ms: r.get(3)?,
                updated_ms: r.get(4)?,
            })
        })?;
        for row in rows {
            snapshot.aliases.push(row?);
        }
        let mut statement = connection.prepare("SELECT account_id, created_ms FROM accounts")?;
        let rows = statement.query_map([], |r| {
            Ok(AccountRow {
                account_id: r.get(0)?,
                created_ms: r.get(1)?,
            })
        })?;
        for row in rows {
            snapshot.accounts.push(row?);
        }
        let mut statement = connection.prepare(
            "SELECT access_key_id, account_id, principal_arn, wrapped_secret, status, created_ms FROM access_keys",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(AccessKeyRow {
                access_key_id: r.get(0)?,
                account_id: r.get(1)?,
                principal_arn: r.get(2)?,
                wrapped_secret: r.get(3)?,
                status: r.get(4)?,
                created_ms: r.get(5)?,
            })
        })?;
        for row in rows {
            snapshot.access_keys.push(row?);
        }
        let mut statement =
            connection.prepare("SELECT kind, id, doc FROM documents ORDER BY kind, id")?;
        let rows = statement.query_map([], |r| {
            Ok(DocumentRow {
                kind: r.get(0)?,
                id: r.get(1)?,
                doc: r.get(2)?,
            })
        })?;
        for row in rows {
            snapshot.documents.push(row?);
        }
        let mut statement = connection.prepare("SELECT name, value FROM meta")?;
        let rows =
            statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (name, value) = row?;
            snapshot.meta.insert(name, value);
        }
        Ok(snapshot)
    }

    fn apply(&self, batch: &[Mutation]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        for mutation in batch {
            match mutation {
                Mutation::PutKey(key) => {
                    let doc = serde_json::to_string(key).map_err(|source| StoreError::Corrupt {
                        what: format!("key {}", key.key_id),
                        source,
                    })?;
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO keys (key_id, account_id, doc) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![key.key_id, key.account_id, doc])?;
                }
                Mutation::DeleteKey { key_id } => {
                    tx.prepare_cached("DELETE FROM keys WHERE key_id = ?1")?
                        .execute(params![key_id])?;
                }
                Mutation::PutAlias(alias) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO aliases (account_id, alias_name, target_key_id, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        alias.account_id,
                        alias.alias_name,
                        alias.target_key_id,
                        alias.created_ms,
                        alias.updated_ms
                    ])?;
                }
                Mutation::DeleteAlias {
                    account_id,
                    alias_name,
                } => {
                    tx.prepare_cached(
                        "DELETE FROM aliases WHERE account_id = ?1 AND alias_name = ?2",
                    )?
                    .execute(params![account_id, alias_name])?;
                }
                Mutation::PutAccount(account) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO accounts (account_id, created_ms) VALUES (?1, ?2)",
                    )?
                    .execute(params![account.account_id, account.created_ms])?;
                }
                Mutation::PutAccessKey(key) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO access_keys (access_key_id, account_id, principal_arn, wrapped_secret, status, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        key.access_key_id,
                        key.account_id,
                        key.principal_arn,
                        key.wrapped_secret,
                        key.status,
                        key.created_ms
                    ])?;
                }
                Mutation::DeleteAccessKey { access_key_id } => {
                    tx.prepare_cached("DELETE FROM access_keys WHERE access_key_id = ?1")?
                        .execute(params![access_key_id])?;
                }
                Mutation::PutDocument(document) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO documents (kind, id, doc) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![
                        document.kind,
                        document.id,
                        document.doc
                    ])?;
                }
                Mutation::DeleteDocument { kind, id } => {
                    tx.prepare_cached("DELETE FROM documents WHERE kind = ?1 AND id = ?2")?
                        .execute(params![kind, id])?;
                }
                Mutation::SetMeta { name, value } => {
                    tx.prepare_cached("INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)")?
                        .execute(params![name, value])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> KeyRow {
        KeyRow {
            key_id: id.into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            created_ms: 1,
            description: "d".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            origin: "AWS_KMS".into(),
            state: "Enabled".into(),
            deletion_date_ms: None,
            pending_window_days: None,
            policy: "{}".into(),
            tags: vec![("a".into(), "b".into())],
            materials: vec![],
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_ms: None,
            on_demand_rotations: 0,
        }
    }

    #[test]
    fn apply_then_load_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .apply(&[
                    Mutation::PutKey(Box::new(key("k1"))),
                    Mutation::PutKey(Box::new(key("k2"))),
                    Mutation::PutAlias(AliasRow {
                        account_id: "111122223333".into(),
                        alias_name: "alias/a".into(),
                        target_key_id: "k1".into(),
                        created_ms: 5,
                        updated_ms: 6,
                    }),
                    Mutation::SetMeta {
                        name: "default_account".into(),
                        value: "111122223333".into(),
                    },
                    Mutation::PutDocument(DocumentRow {
                        kind: "grant".into(),
                        id: "g1".into(),
                        doc: "{}".into(),
                    }),
                    Mutation::PutDocument(DocumentRow {
                        kind: "grant".into(),
                        id: "g2".into(),
                        doc: "{}".into(),
                    }),
                ])
                .unwrap();
            store
                .apply(&[
                    Mutation::DeleteKey {
                        key_id: "k2".into(),
                    },
                    Mutation::DeleteDocument {
                        kind: "grant".into(),
                        id: "g1".into(),
                    },
                ])
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let snapshot = store.load().unwrap();
        assert_eq!(snapshot.keys, vec![key("k1")]);
        assert_eq!(snapshot.aliases.len(), 1);
        assert_eq!(
            snapshot.documents,
            vec![DocumentRow {
                kind: "grant".into(),
                id: "g2".into(),
                doc: "{}".into()
            }]
        );
        assert_eq!(
            snapshot.meta.get("default_account").map(String::as_str),
            Some("111122223333")
        );
        assert_eq!(
            snapshot.meta.get("schema_version").map(String::as_str),
            Some("1")
        );
    }
}
