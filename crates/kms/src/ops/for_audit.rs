//! What the audit trail needs to know about a call that its request does not
//! say by itself: which key an alias named, which grant a token named. Read
//! only, and never part of an answer to the caller.

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
}
