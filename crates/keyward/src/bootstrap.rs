//! First start of a data directory: the default account, its region, and an
//! administrator access key, written for the AWS CLI as
//! `<data-dir>/admin-credentials` (profile `default`, mode 0600). Later
//! starts reuse them and refuse settings that would contradict them.
//!
//! Only the first account and its administrator are made here; everything
//! else about identities (users, roles, more accounts, access keys) belongs to
//! `keyward_identity::Identities`, which `serve` opens from the returned snapshot.

use std::path::Path;

use anyhow::{bail, Context};
use keyward_crypto::{random_bytes, RootKey};
use keyward_store::{
    write_secret_file, AccessKeyRow, AccountRow, DataDir, Mutation, Snapshot, Store,
};
use zeroize::Zeroizing;

pub const CREDENTIALS_FILE: &str = "admin-credentials";
/// The region of a data directory started without one.
pub const DEFAULT_REGION: &str = "us-east-1";
const META_ACCOUNT: &str = "default_account_id";
const META_REGION: &str = "region";
const META_ADMIN_KEY: &str = "admin_access_key_id";

/// What the server needs from the data directory's first start.
pub struct Identity {
    /// The default account: its root user administers keyward.
    pub account_id: String,
    pub region: String,
}

fn random_text(alphabet: &[u8], len: usize) -> anyhow::Result<String> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    random_bytes(&mut bytes).context("random generator")?;
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect())
}

fn secret_label(access_key_id: &str) -> Vec<u8> {
    format!("keyward/access-key-secret/v1:{access_key_id}").into_bytes()
}

fn root_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:root")
}

/// Loads or creates the identity records; returns the (possibly updated) snapshot.
pub fn bootstrap(
    data_dir: &DataDir,
    requested_account: Option<&str>,
    requested_region: Option<&str>,
    now_ms: i64,
) -> anyhow::Result<(Identity, Snapshot)> {
    let mut snapshot = data_dir
        .store
        .load()
        .context("loading the data directory")?;
    if !snapshot.meta.contains_key(META_ACCOUNT) {
        let account_id = match requested_account {
            Some(a) => a.to_string(),
            None => format!(
                "{}{}",
                random_text(b"123456789", 1)?,
                random_text(b"0123456789", 11)?
            ),
        };
        let region = requested_region.unwrap_or(DEFAULT_REGION).to_string();
        let access_key_id = format!(
            "AKIA{}",
            random_text(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)?
        );
        let secret = Zeroizing::new(random_text(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            40,
        )?);
        let wrapped_secret = data_dir
            .root_key
            .wrap_bytes(secret.as_bytes(), &secret_label(&access_key_id))
            .context("wrapping the admin secret")?;
        data_dir
            .store
            .apply(&[
                Mutation::PutAccount(AccountRow {
                    account_id: account_id.clone(),
                    created_ms: now_ms,
                }),
                Mutation::PutAccessKey(AccessKeyRow {
                    access_key_id: access_key_id.clone(),
                    account_id: account_id.clone(),
                    principal_arn: root_arn(&account_id),
                    wrapped_secret,
                    status: "Active".into(),
                    created_ms: now_ms,
                }),
                Mutation::SetMeta {
                    name: META_ADMIN_KEY.into(),
                    value: access_key_id,
                },
                Mutation::SetMeta {
                    name: META_REGION.into(),
                    value: region,
                },
                Mutation::SetMeta {
                    name: META_ACCOUNT.into(),
                    value: account_id,
                },
            ])
            .context("initializing the data directory")?;
        snapshot = data_dir
            .store
            .load()
            .context("loading the data directory")?;
    }
    let meta = |name: &str| {
        snapshot
            .meta
            .get(name)
            .cloned()
            .with_context(|| format!("data directory lacks {name}"))
    };
    let account_id = meta(META_ACCOUNT)?;
    let region = meta(META_REGION)?;
    let admin_key_id = meta(META_ADMIN_KEY)?;
    if let Some(requested) = requested_account.filter(|a| *a != account_id) {
        bail!(
            "the data directory {} belongs to account {account_id}, not {requested}; use another --data-dir",
            data_dir.path.display()
        );
    }
    if let Some(requested) = requested_region.filter(|r| *r != region) {
        bail!(
            "the data directory {} serves region {region}, not {requested}; use another --data-dir",
            data_dir.path.display()
        );
    }
    // The admin key may since have been deleted through IAM; then there is
    // nothing to (re)write.
    if let Some(row) = snapshot
        .access_keys
        .iter()
        .find(|row| row.access_key_id == admin_key_id)
    {
        let secret = unwrap_secret(&data_dir.root_key, row)?;
        write_credentials_if_missing(&data_dir.path, &row.access_key_id, &secret, &region)?;
    }
    Ok((Identity { account_id, region }, snapshot))
}

fn unwrap_secret(root: &RootKey, row: &AccessKeyRow) -> anyhow::Result<Zeroizing<String>> {
    let secret = root
        .unwrap_bytes(&row.wrapped_secret, &secret_label(&row.access_key_id))
        .with_context(|| {
            format!(
                "unwrapping the secret of access key {} (wrong root key?)",
                row.access_key_id
            )
        })?;
    let text = std::str::from_utf8(secret.expose()).context("stored secret is not text")?;
    Ok(Zeroizing::new(text.to_string()))
}

/// (Re)writes the credentials file when it is absent, e.g. after a crash
/// between the database commit and the file write at first start.
fn write_credentials_if_missing(
    dir: &Path,
    access_key_id: &str,
    secret: &str,
    region: &str,
) -> anyhow::Result<()> {
    let path = dir.join(CREDENTIALS_FILE);
    if path.exists() {
        return Ok(());
    }
    // `region` in a credentials file is honoured by botocore (it merges the
    // credentials file into the profile) and by the AWS SDKs' profile loaders,
    // so the documented one-line `aws kms list-keys` works without a config file.
    let text = Zeroizing::new(format!(
        "[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\nregion = {region}\n"
    ));
    write_secret_file(&path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
