//! Names, paths and identifiers: AWS's constraints and the messages AWS
//! sends when they are broken, and the random identifiers IAM issues.
//!
//! Constraints are those of the IAM and STS service models (botocore
//! `iam/2010-05-08/service-2.json`: `userNameType`, `roleNameType`,
//! `policyNameType` are `[\w+=,.@-]+` of 1..64 (policies 1..128); `pathType`
//! is `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)` of 1..512;
//! `sts/2011-06-15`: `roleSessionNameType` is `[\w+=,.@-]*` of 2..64,
//! `roleDurationSecondsType` 900..43200). A broken constraint answers
//! `ValidationError` with the model-validation wording AWS uses:
//! "1 validation error detected: Value 'x' at 'userName' failed to satisfy
//! constraint: Member must ...".

use keyward_crypto::random_bytes;

use crate::error::{IdentityError, InternalError};

/// Base32 alphabet of IAM unique ids and access key ids (AWS ids use A-Z and 2-7).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `1 validation error detected: ...` for one member.
pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> IdentityError {
    IdentityError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {constraint}"
    ))
}

/// `\w` as AWS's Java regexes read it: ASCII letters, digits and `_`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// A user, role or policy name: `[\w+=,.@-]+`, 1..=`max` characters.
pub(crate) fn check_name(value: &str, member: &str, max: usize) -> Result<(), IdentityError> {
    if value.is_empty() {
        return Err(validation(
            value,
            member,
            "have length greater than or equal to 1",
        ));
    }
    if value.chars().count() > max {
        return Err(validation(
            value,
            member,
            &format!("have length less than or equal to {max}"),
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(validation(
            value,
            member,
            r"satisfy regular expression pattern: [\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// A role session name: `[\w+=,.@-]*`, 2..=64 characters.
pub(crate) fn check_session_name(value: &str) -> Result<(), IdentityError> {
    let member = "roleSessionName";
    if value.chars().count() < 2 {
        return Err(validation(
            value,
            member,
            "have length greater than or equal to 2",
        ));
    }
    if value.chars().count() > 64 {
        return Err(validation(
            value,
            member,
            "have length less than or equal to 64",
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(validation(
            value,
            member,
            r"satisfy regular expression pattern: [\w+=,.@-]*",
        ));
    }
    Ok(())
}

/// An IAM path: `/` or `/` + printable ASCII + `/`, at most 512 characters.
pub(crate) fn check_path(value: &str) -> Result<(), IdentityError> {
    let member = "path";
    if value.is_empty() {
        return Err(validation(
            value,
            member,
            "have length greater than or equal to 1",
        ));
    }
    if value.len() > 512 {
        return Err(validation(
            value,
            member,
            "have length less than or equal to 512",
        ));
    }
    let well_formed = value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if !well_formed {
        return Err(validation(
            value,
            member,
            r"satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        ));
    }
    Ok(())
}

/// A 12-digit account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

fn random_text(alphabet: &[u8], len: usize) -> Result<String, IdentityError> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; len]);
    random_bytes(&mut bytes).map_err(IdentityError::crypto)?;
    // 256 is a multiple of both alphabets' sizes (32 and 64): no modulo bias.
    let mut text = String::with_capacity(len);
    for b in bytes.iter() {
        let index = usize::from(*b) % alphabet.len();
        let c = alphabet.get(index).copied().ok_or_else(|| {
            IdentityError::Internal(InternalError::Inconsistent("alphabet index".into()))
        })?;
        text.push(char::from(c));
    }
    Ok(text)
}

/// `PREFIX` + 17 base32 characters: `AIDA…` (users), `AROA…` (roles).
pub(crate) fn unique_id(prefix: &str) -> Result<String, IdentityError> {
    Ok(format!("{prefix}{}", random_text(ID_ALPHABET, 17)?))
}

/// `AKIA…` (long-term) or `ASIA…` (session) + 16 base32 characters: 20 in all, as AWS.
pub(crate) fn access_key_id(prefix: &str) -> Result<String, IdentityError> {
    Ok(format!("{prefix}{}", random_text(ID_ALPHABET, 16)?))
}

/// A 40-character secret access key, as AWS issues.
pub(crate) fn secret_access_key() -> Result<zeroize::Zeroizing<String>, IdentityError> {
    Ok(zeroize::Zeroizing::new(random_text(SECRET_ALPHABET, 40)?))
}

/// A new account id: 12 digits, not starting with 0.
pub(crate) fn new_account_id() -> Result<String, IdentityError> {
    Ok(format!(
        "{}{}",
        random_text(b"12345678", 1)?,
        random_text(
            b"0123456789012345678901234567890123456789012345678901234567890123",
            11
        )?
    ))
}

/// The label binding a wrapped access-key secret to its id (same as bootstrap).
pub fn access_key_secret_label(access_key_id: &str) -> Vec<u8> {
    format!("keyward/access-key-secret/v1:{access_key_id}").into_bytes()
}

pub fn root_arn(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:root")
}

pub fn user_arn(account_id: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:user{path}{name}")
}

pub fn role_arn(account_id: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:role{path}{name}")
}

pub fn assumed_role_arn(account_id: &str, role_name: &str, session_name: &str) -> String {
    format!("arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}")
}

/// A parsed `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleArn {
    pub account_id: String,
    pub path: String,
    pub name: String,
}

pub(crate) fn parse_role_arn(arn: &str) -> Option<RoleArn> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account_id, resource) = rest.split_once(':')?;
    let resource = resource.strip_prefix("role")?;
    if !is_account_id(account_id) || !resource.starts_with('/') {
        return None;
    }
    let slash = resource.rfind('/')?;
    let (path, name) = resource.split_at(slash + 1);
    if name.is_empty() {
        return None;
    }
    Some(RoleArn {
        account_id: account_id.to_string(),
        path: path.to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_arns() {
        assert!(check_name("alice.b+c=d,e@f-g_h", "userName", 64).is_ok());
        assert!(check_name("", "userName", 64).is_err());
        assert!(check_name(&"a".repeat(65), "userName", 64).is_err());
        let error = check_name("bad name", "userName", 64)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            r"1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        );
        assert!(check_path("/").is_ok());
        assert!(check_path("/a/b/").is_ok());
        for bad in ["", "a/", "/a", "//x y/"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_session_name("s").is_err());
        assert!(check_session_name("ok-session").is_ok());
        assert!(check_session_name(&"s".repeat(65)).is_err());
        assert!(check_session_name("no spaces").is_err());
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/a/b/r"),
            Some(RoleArn {
                account_id: "111122223333".into(),
                path: "/a/b/".into(),
                name: "r".into()
            })
        );
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:user/r"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::1111:role/r"), None);
        let id = access_key_id("AKIA").unwrap();
        assert_eq!(id.len(), 20);
        assert_eq!(secret_access_key().unwrap().len(), 40);
        assert_eq!(unique_id("AIDA").unwrap().len(), 21);
        let account = new_account_id().unwrap();
        assert!(is_account_id(&account) && !account.starts_with('0'));
    }
}
