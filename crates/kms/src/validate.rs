//! Model-constraint validation with AWS's messages, e.g.
//! `1 validation error detected: Value '1025' at 'numberOfBytes' failed to
//! satisfy constraint: Member must have value less than or equal to 1024`.
//! Member paths are camelCase; values of sensitive members are not echoed.

use std::fmt;

use crate::KmsError;

/// The violations found in one request, in the order checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<String>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        let noun = if n == 1 { "error" } else { "errors" };
        write!(f, "{n} validation {noun} detected: {}", self.0.join("; "))
    }
}

impl Violations {
    pub fn new() -> Self {
        Violations(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was violated, else a `ValidationException`.
    pub fn finish(self) -> Result<(), KmsError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(KmsError::Validation(self))
        }
    }

    fn push(&mut self, value: Option<&str>, member: &str, constraint: &str) {
        let value = match value {
            Some(v) => format!("Value '{v}' at"),
            None => "Value at".to_string(),
        };
        self.0.push(format!(
            "{value} '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn required<T>(&mut self, member: &str, value: &Option<T>) {
        if value.is_none() {
            self.0.push(format!(
                "Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ));
        }
    }

    /// Length in characters (as the AWS model counts strings).
    pub fn length(&mut self, member: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(v) = value {
            let n = v.chars().count();
            if n < min {
                self.push(
                    Some(v),
                    member,
                    &format!("Member must have length greater than or equal to {min}"),
                );
            } else if n > max {
                self.push(
                    Some(v),
                    member,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    /// Length of a sensitive member (plaintext): the value is not echoed.
    pub fn secret_length(&mut self, member: &str, len: Option<usize>, min: usize, max: usize) {
        if let Some(n) = len {
            if n < min {
                self.push(
                    None,
                    member,
                    &format!("Member must have length greater than or equal to {min}"),
                );
            } else if n > max {
                self.push(
                    None,
                    member,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    /// Number of elements of a list member.
    pub fn count(&mut self, member: &str, shown: &str, len: Option<usize>, min: usize, max: usize) {
        if let Some(n) = len {
            if n < min {
                self.push(
                    Some(shown),
                    member,
                    &format!("Member must have length greater than or equal to {min}"),
                );
            } else if n > max {
                self.push(
                    Some(shown),
                    member,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    pub fn range(&mut self, member: &str, value: Option<i64>, min: i64, max: i64) {
        if let Some(v) = value {
            let shown = v.to_string();
            if v < min {
                self.push(
                    Some(&shown),
                    member,
                    &format!("Member must have value greater than or equal to {min}"),
                );
            } else if v > max {
                self.push(
                    Some(&shown),
                    member,
                    &format!("Member must have value less than or equal to {max}"),
                );
            }
        }
    }

    pub fn one_of(&mut self, member: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(v) = value {
            if !allowed.contains(&v) {
                self.push(
                    Some(v),
                    member,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A model `pattern`, shown as `pattern`, that `matches` decides.
    pub fn pattern(
        &mut self,
        member: &str,
        value: Option<&str>,
        pattern: &str,
        matches: impl Fn(&str) -> bool,
    ) {
        if let Some(v) = value {
            if !v.is_empty() && !matches(v) {
                self.push(
                    Some(v),
                    member,
                    &format!("Member must satisfy regular expression pattern: {pattern}"),
                );
            }
        }
    }

    /// `^[a-zA-Z0-9:/_-]+$`, the pattern of alias and grant names.
    pub fn name_pattern(&mut self, member: &str, value: Option<&str>) {
        if let Some(v) = value {
            if !v.is_empty()
                && !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'))
            {
                self.push(
                    Some(v),
                    member,
                    "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_aws_shape() {
        let mut v = Violations::new();
        v.range("numberOfBytes", Some(1025), 1, 1024);
        assert_eq!(
            v.to_string(),
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
        );
        v.secret_length("plaintext", Some(4097), 1, 4096);
        assert_eq!(
            v.to_string(),
            "2 validation errors detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024; Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
        );
    }

    #[test]
    fn enum_required_and_pattern() {
        let mut v = Violations::new();
        v.one_of(
            "keyUsage",
            Some("RANDOM"),
            &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
        );
        v.required::<String>("keyId", &None);
        v.name_pattern("aliasName", Some("alias/bad name"));
        let text = v.to_string();
        assert!(text.starts_with("3 validation errors detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY]"));
        assert!(text.contains(
            "Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        ));
        assert!(text.contains("regular expression pattern"));
        let mut ok = Violations::new();
        ok.range("x", Some(5), 1, 10);
        ok.length("d", Some(""), 0, 10);
        assert!(ok.finish().is_ok());
    }
}
