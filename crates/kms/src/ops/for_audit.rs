//! What the audit trail needs to know about a call that its request does not
//! say by itself: which key an alias named, which key a ciphertext names,
//! which grant a token named. Read only, and never part of an answer to the
//! caller.

use keyward_crypto::BlobHeader;

use crate::ids::Accepts;
use crate::{Caller, Kms};

impl Kms {
    /// The ARN of the key that `key_id` (key id, key ARN, alias name or alias
    /// ARN) names for `caller`, whether or not the call was allowed, so that
    /// the event of a failed call names its key (`resources`) as AWS's does.
    pub fn key_arn_named(&self, caller: &Caller, key_id: &str) -> Option<String> {
        self.resolve(caller, key_id, Accepts::Any, true)
            .ok()
            .map(|(key, _)| key.arn.clone())
    }

    /// The grant id and key ARN a grant token names (RetireGrant by token
    /// logs the `grantId` and the key, never the token), if the token is one
    /// of keyward's and its key exists.
    pub fn grant_named_by_token(&self, token: &str) -> Option<(String, String)> {
        let (grant_id, key_id) = crate::grants::parse_grant_token(token)?;
        let key = self.key_by_id(&key_id)?;
        Some((grant_id, key.arn.clone()))
    }

    /// The ARN of the key a ciphertext blob names in its header, whether or
    /// not the caller may use it, so that the event of a Decrypt that names
    /// no key (denied, a dry run) still names the key it was for, as AWS's
    /// does (the seed 000 dry-run Decrypt).
    pub fn key_arn_of_ciphertext(&self, blob: &[u8]) -> Option<String> {
        let header = BlobHeader::decode(blob).ok()?;
        let key_id = uuid::Uuid::from_bytes(header.key_id).to_string();
        self.key_by_id(&key_id).map(|key| key.arn.clone())
    }
}
