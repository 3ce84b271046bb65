//! Key identifiers: key IDs, key ARNs, alias names and alias ARNs, and which
//! forms an operation accepts. See <https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id>.

use crate::KmsError;

/// What a request's `KeyId` names, before lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    KeyId(String),
    KeyArn {
        account_id: String,
        key_id: String,
    },
    AliasName(String),
    AliasArn {
        account_id: String,
        alias_name: String,
    },
}

/// Which identifier forms an operation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Key ID, key ARN, alias name, alias ARN (cryptographic operations, DescribeKey).
    Any,
    /// Key ID or key ARN only (most management operations).
    KeyOnly,
}

/// A key ID: `8-4-4-4-12` hex digits, or a multi-Region key ID (`mrk-`
/// and 32 hex digits). keyward creates no multi-Region keys, but an ID of
/// that form is well formed, so looking one up answers AWS's "Key '<key
/// ARN>' does not exist" rather than "Invalid keyId" (LocalStack's
/// AWS-validated `test_get_key_does_not_exist`).
pub fn is_key_id(text: &str) -> bool {
    if let Some(hex) = text.strip_prefix("mrk-") {
        return hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn key_arn(region: &str, account_id: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account_id}:key/{key_id}")
}

pub fn alias_arn(region: &str, account_id: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account_id}:{alias_name}")
}

/// Parses a `KeyId` member. `region` is the endpoint's region: an ARN naming
/// another region is `NotFoundException: Invalid arn <region>`.
pub fn parse_key_ref(text: &str, region: &str, accepts: Accepts) -> Result<KeyRef, KmsError> {
    let invalid = || KmsError::NotFound(format!("Invalid keyId '{text}'"));
    if let Some(rest) = text.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, arn_region, account_id, resource] = parts.as_slice() else {
            return Err(KmsError::NotFound(format!("Invalid arn {text}")));
        };
        if *partition != "aws"
            || *service != "kms"
            || account_id.len() != 12
            || !account_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(KmsError::NotFound(format!("Invalid arn {text}")));
        }
        if *arn_region != region {
            return Err(KmsError::NotFound(format!("Invalid arn {arn_region}")));
        }
        if let Some(key_id) = resource.strip_prefix("key/") {
            if !is_key_id(key_id) {
                return Err(invalid());
            }
            return Ok(KeyRef::KeyArn {
                account_id: account_id.to_string(),
                key_id: key_id.to_ascii_lowercase(),
            });
        }
        if resource.starts_with("alias/") && accepts == Accepts::Any {
            return Ok(KeyRef::AliasArn {
                account_id: account_id.to_string(),
                alias_name: resource.to_string(),
            });
        }
        return Err(invalid());
    }
    if text.starts_with("alias/") {
        return match accepts {
            Accepts::Any => Ok(KeyRef::AliasName(text.to_string())),
            Accepts::KeyOnly => Err(invalid()),
        };
    }
    if is_key_id(text) {
        return Ok(KeyRef::KeyId(text.to_ascii_lowercase()));
    }
    Err(invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn every_form_parses() {
        assert_eq!(
            parse_key_ref(ID, "us-east-1", Accepts::KeyOnly).unwrap(),
            KeyRef::KeyId(ID.into())
        );
        let arn = key_arn("us-east-1", "111122223333", ID);
        assert_eq!(
            parse_key_ref(&arn, "us-east-1", Accepts::KeyOnly).unwrap(),
            KeyRef::KeyArn {
                account_id: "111122223333".into(),
                key_id: ID.into()
            }
        );
        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(
            parse_key_ref(mrk, "us-east-1", Accepts::KeyOnly).unwrap(),
            KeyRef::KeyId(mrk.into())
        );
        assert_eq!(
            parse_key_ref(
                &key_arn("us-east-1", "111122223333", mrk),
                "us-east-1",
                Accepts::KeyOnly
            )
            .unwrap(),
            KeyRef::KeyArn {
                account_id: "111122223333".into(),
                key_id: mrk.into()
            }
        );
        assert_eq!(
            parse_key_ref("alias/a", "us-east-1", Accepts::Any).unwrap(),
            KeyRef::AliasName("alias/a".into())
        );
        assert_eq!(
            parse_key_ref(
                "arn:aws:kms:us-east-1:111122223333:alias/a",
                "us-east-1",
                Accepts::Any
            )
            .unwrap(),
            KeyRef::AliasArn {
                account_id: "111122223333".into(),
                alias_name: "alias/a".into()
            }
        );
    }

    #[test]
    fn invalid_forms_give_aws_messages() {
        let msg = |r: Result<KeyRef, KmsError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(parse_key_ref("fake-key-id", "us-east-1", Accepts::Any)),
            "Invalid keyId 'fake-key-id'"
        );
        assert_eq!(
            msg(parse_key_ref("alias/a", "us-east-1", Accepts::KeyOnly)),
            "Invalid keyId 'alias/a'"
        );
        assert_eq!(
            msg(parse_key_ref(
                &key_arn("eu-west-1", "111122223333", ID),
                "us-east-1",
                Accepts::Any
            )),
            "Invalid arn eu-west-1"
        );
        assert_eq!(
            msg(parse_key_ref(
                "1234abcd12ab34cd56ef1234567890ab",
                "us-east-1",
                Accepts::Any
            )),
            "Invalid keyId '1234abcd12ab34cd56ef1234567890ab'"
        );
        assert_eq!(
            msg(parse_key_ref("mrk-fake-key-id", "us-east-1", Accepts::Any)),
            "Invalid keyId 'mrk-fake-key-id'"
        );
        assert_eq!(
            msg(parse_key_ref(
                "mrk-1234abcd12ab34cd56ef1234567890a",
                "us-east-1",
                Accepts::Any
            )),
            "Invalid keyId 'mrk-1234abcd12ab34cd56ef1234567890a'"
        );
    }
}
