//! The key-state machine and AWS's key-state effect table
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html>).
//!
//! One function answers "may `operation` run on a key in `state`?", and the
//! transitions are the only functions that produce a new state, so a
//! transition that is not in the table cannot be written.

use crate::KmsError;

/// The states keyward's symmetric AWS_KMS keys can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion {
        deletion_date_ms: i64,
        window_days: u32,
    },
}

/// Operations whose success depends on the key state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOperation {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext).
    Cryptographic,
    /// DescribeKey, Get/Put/ListKeyPolicies, ListResourceTags, ListAliases,
    /// DeleteAlias, the source key of UpdateAlias, GetKeyRotationStatus,
    /// ListKeyRotations. (ListKeyRotations postdates AWS's table; as a pure
    /// read it is assumed to work in every state, like GetKeyRotationStatus.)
    ReadOrDetach,
    /// CreateAlias, UpdateAlias (destination), TagResource, UntagResource,
    /// UpdateKeyDescription, EnableKey, DisableKey, ScheduleKeyDeletion.
    Manage,
    /// EnableKeyRotation, DisableKeyRotation, RotateKeyOnDemand.
    Rotation,
    CancelKeyDeletion,
}

impl KeyState {
    pub fn name(&self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion { .. } => "PendingDeletion",
        }
    }

    /// AWS's table, with the messages of its notes 1, 3 and 4. For a pending
    /// key AWS documents either DisabledException or KMSInvalidStateException
    /// for cryptographic operations; we answer KMSInvalidStateException, which
    /// is what AWS was observed to send.
    pub fn allows(&self, operation: KeyOperation, key_arn: &str) -> Result<(), KmsError> {
        use KeyOperation::*;
        match (self, operation) {
            (_, ReadOrDetach) => Ok(()),
            (KeyState::PendingDeletion { .. }, CancelKeyDeletion) => Ok(()),
            (_, CancelKeyDeletion) => Err(KmsError::InvalidState(format!(
                "{key_arn} is not pending deletion."
            ))),
            (KeyState::Enabled, Cryptographic | Manage | Rotation) => Ok(()),
            (KeyState::Disabled, Manage) => Ok(()),
            (KeyState::Disabled, Cryptographic | Rotation) => Err(KmsError::KeyDisabled {
                key_arn: key_arn.to_owned(),
            }),
            (KeyState::PendingDeletion { .. }, Cryptographic | Manage | Rotation) => {
                Err(KmsError::KeyPendingDeletion {
                    key_arn: key_arn.to_owned(),
                })
            }
        }
    }

    pub fn enable(self) -> KeyState {
        KeyState::Enabled
    }
    pub fn disable(self) -> KeyState {
        KeyState::Disabled
    }
    pub fn schedule_deletion(self, deletion_date_ms: i64, window_days: u32) -> KeyState {
        KeyState::PendingDeletion {
            deletion_date_ms,
            window_days,
        }
    }
    /// AWS: a cancelled deletion leaves the key Disabled, whatever it was before.
    pub fn cancel_deletion(self) -> KeyState {
        KeyState::Disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/k";

    /// The whole state × operation matrix, one row per state.
    #[test]
    fn the_aws_key_state_table() {
        let pending = KeyState::PendingDeletion {
            deletion_date_ms: 0,
            window_days: 7,
        };
        let ops = [
            KeyOperation::Cryptographic,
            KeyOperation::ReadOrDetach,
            KeyOperation::Manage,
            KeyOperation::Rotation,
            KeyOperation::CancelKeyDeletion,
        ];
        let table: [(KeyState, [&str; 5]); 3] = [
            (
                KeyState::Enabled,
                [
                    "ok",
                    "ok",
                    "ok",
                    "ok",
                    "KMSInvalidState: is not pending deletion.",
                ],
            ),
            (
                KeyState::Disabled,
                [
                    "Disabled: is disabled.",
                    "ok",
                    "ok",
                    "Disabled: is disabled.",
                    "KMSInvalidState: is not pending deletion.",
                ],
            ),
            (
                pending,
                [
                    "KMSInvalidState: is pending deletion.",
                    "ok",
                    "KMSInvalidState: is pending deletion.",
                    "KMSInvalidState: is pending deletion.",
                    "ok",
                ],
            ),
        ];
        for (state, expected) in table {
            for (op, want) in ops.iter().zip(expected) {
                let got = match state.allows(*op, ARN) {
                    Ok(()) => "ok".to_string(),
                    Err(e @ KmsError::KeyDisabled { .. }) => {
                        format!("Disabled: {}", e.to_string().trim_start_matches(ARN).trim())
                    }
                    Err(e @ KmsError::KeyPendingDeletion { .. }) => format!(
                        "KMSInvalidState: {}",
                        e.to_string().trim_start_matches(ARN).trim()
                    ),
                    Err(KmsError::InvalidState(m)) => {
                        format!("KMSInvalidState: {}", m.trim_start_matches(ARN).trim())
                    }
                    Err(e) => format!("unexpected {e:?}"),
                };
                assert_eq!(got, want, "{state:?} × {op:?}");
            }
        }
    }

    #[test]
    fn cancel_always_lands_in_disabled() {
        let pending = KeyState::Enabled.schedule_deletion(5, 7);
        assert_eq!(pending.name(), "PendingDeletion");
        assert_eq!(pending.cancel_deletion(), KeyState::Disabled);
    }
}
