//! The requests the load loop sends, prepared once per target.
//!
//! Setup creates a key and a handful of ciphertexts with the same signed
//! client the load uses, and checks each answer, so a server that cannot do
//! the operations fails here with its own error message rather than as a
//! wall of counted errors. Bodies are built once; the loop only re-signs.

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::args::Operation;
use crate::client::Connection;
use crate::signer::Signer;
use crate::target::Target;

/// Distinct ciphertexts the Decrypt workers rotate through.
const CIPHERTEXTS: usize = 16;

/// A small encryption context, as envelope-encryption clients send one; the
/// server must bind it as authenticated data on both operations.
fn encryption_context() -> Value {
    json!({"purpose": "keyward-bench", "tenant": "acme"})
}

/// How the benchmark key is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetup {
    /// CreateKey's default key policy, no grants.
    DefaultPolicy,
    /// A 10-statement key policy (conditions included) and 100 grants: what
    /// a key shared by several services looks like. The benchmark's caller
    /// (the account's root) is allowed by the policy, so every request
    /// evaluates all ten statements.
    PolicyAndGrants,
}

/// Grants put on a `PolicyAndGrants` key.
const GRANTS: usize = 100;

/// Ten statements: the account statement, and nine others for principals,
/// actions and conditions the benchmark caller does not match — each still
/// evaluated on every request.
fn ten_statement_policy(account: &str) -> String {
    let mut statements = vec![json!({
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*", "Resource": "*"
    })];
    for i in 0..9 {
        statements.push(json!({
            "Sid": format!("Service{i}"), "Effect": "Allow",
            "Principal": {"Service": format!("svc{i}.amazonaws.com")},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
            "Condition": {
                "StringLike": {"aws:SourceArn": format!("arn:aws:svc{i}:us-east-1:{account}:app/*")},
                "StringEquals": {"kms:EncryptionContext:tenant": format!("tenant-{i}"), "aws:SourceAccount": account}
            }
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// Pre-built request bodies per operation.
pub struct Workload {
    pub key_id: String,
    generate_data_key: Vec<Bytes>,
    decrypt: Vec<Bytes>,
}

impl Workload {
    /// Creates a key and `CIPHERTEXTS` ciphertexts on `target`, and checks
    /// that one of them decrypts.
    pub async fn prepare(target: &Target) -> anyhow::Result<Workload> {
        let mut signer = Signer::new(target)?;
        let mut connection = Connection::open(target.addr).await?;
        let created = call(
            &mut signer,
            &mut connection,
            "TrentService.CreateKey",
            json!({"Description": "keyward-bench", "KeyUsage": "ENCRYPT_DECRYPT"}),
        )
        .await
        .context("CreateKey")?;
        let key_id = created["KeyMetadata"]["KeyId"]
            .as_str()
            .context("CreateKey answered without KeyMetadata.KeyId")?
            .to_string();
        if target.key_setup == KeySetup::PolicyAndGrants {
            let account = created["KeyMetadata"]["AWSAccountId"]
                .as_str()
                .context("CreateKey answered without KeyMetadata.AWSAccountId")?
                .to_string();
            call(
                &mut signer,
                &mut connection,
                "TrentService.PutKeyPolicy",
                json!({"KeyId": key_id, "PolicyName": "default", "Policy": ten_statement_policy(&account)}),
            )
            .await
            .context("PutKeyPolicy")?;
            for i in 0..GRANTS {
                call(
                    &mut signer,
                    &mut connection,
                    "TrentService.CreateGrant",
                    json!({
                        "KeyId": key_id,
                        "GranteePrincipal": format!("grantee{i}.amazonaws.com"),
                        "Operations": ["Decrypt", "GenerateDataKey"],
                        "Constraints": {"EncryptionContextSubset": {"tenant": format!("tenant-{i}")}}
                    }),
                )
                .await
                .context("CreateGrant")?;
            }
        }
        let generate_body = json!({
            "KeyId": key_id,
            "KeySpec": "AES_256",
            "EncryptionContext": encryption_context(),
        });
        let mut decrypt = Vec::with_capacity(CIPHERTEXTS);
        let mut first_plaintext = None;
        for _ in 0..CIPHERTEXTS {
            let answer = call(
                &mut signer,
                &mut connection,
                Operation::GenerateDataKey.x_amz_target(),
                generate_body.clone(),
            )
            .await
            .context("GenerateDataKey")?;
            let blob = answer["CiphertextBlob"]
                .as_str()
                .context("GenerateDataKey answered without CiphertextBlob")?;
            if first_plaintext.is_none() {
                first_plaintext = answer["Plaintext"].as_str().map(str::to_string);
            }
            decrypt.push(Bytes::from(serde_json::to_vec(&json!({
                "CiphertextBlob": blob,
                "KeyId": key_id,
                "EncryptionContext": encryption_context(),
            }))?));
        }
        let decrypted = call_raw(
            &mut signer,
            &mut connection,
            Operation::Decrypt.x_amz_target(),
            decrypt.first().cloned().unwrap_or_default(),
        )
        .await
        .context("Decrypt")?;
        let plaintext = decrypted["Plaintext"].as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(plaintext)
            .unwrap_or_default();
        if Some(plaintext) != first_plaintext.as_deref() || decoded.len() != 32 {
            bail!("Decrypt did not give back the data key GenerateDataKey returned");
        }
        Ok(Workload {
            key_id,
            generate_data_key: vec![Bytes::from(serde_json::to_vec(&generate_body)?)],
            decrypt,
        })
    }

    /// The bodies to cycle through for `operation`; never empty.
    pub fn bodies(&self, operation: Operation) -> &[Bytes] {
        match operation {
            Operation::GenerateDataKey => &self.generate_data_key,
            Operation::Decrypt => &self.decrypt,
        }
    }
}

async fn call(
    signer: &mut Signer,
    connection: &mut Connection,
    x_amz_target: &'static str,
    body: Value,
) -> anyhow::Result<Value> {
    call_raw(
        signer,
        connection,
        x_amz_target,
        Bytes::from(serde_json::to_vec(&body)?),
    )
    .await
}

async fn call_raw(
    signer: &mut Signer,
    connection: &mut Connection,
    x_amz_target: &'static str,
    body: Bytes,
) -> anyhow::Result<Value> {
    let (status, answer) = connection
        .call(signer.request(x_amz_target, &body)?)
        .await?;
    if status != http::StatusCode::OK {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&answer));
    }
    // Operations without output members (PutKeyPolicy) answer an empty body.
    if answer.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&answer).context("the answer is not JSON")
}
