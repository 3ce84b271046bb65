//! The KMS operation table: one row per operation of the AWS KMS API model
//! (botocore `kms/2014-11-01`, 56 operations), the single source of what
//! dispatch, authorization and the audit trail need to know about each.
//!
//! Adding an operation is a row here and a handler in keyward-server's
//! `kms_api` (whose `match` over [`KmsOperation`] is exhaustive, so a row
//! without a handler does not compile); an operation without a row is an
//! unknown operation.
//!
//! Columns:
//! - **actions**: the IAM actions it needs (`kms:` omitted); ReEncrypt needs
//!   two (<https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html>).
//! - **read-only**: CloudTrail's `readOnly` for its events: the cryptographic
//!   operations and every `Describe*`, `Get*`, `List*` (the KMS `ct-*.html`
//!   examples: Decrypt, ReEncrypt, GenerateMac, GetParametersForImport are
//!   read-only; CreateGrant, RetireGrant, ImportKeyMaterial are not).
//! - **runs**: `Inline` operations only read the domain's memory; `Blocking`
//!   ones write the store (an fsync) and so run off the async workers.
//! - **account**: whether a key of another account may be named (key ARN or
//!   alias ARN), kms-api.md §2.10.
//! - **key**: whether the operation acts on a KMS key resource.
//! - **material**: cryptographic operations, whose events carry
//!   `additionalEventData.keyMaterialId`.
//! - **state**: implemented, or answered `UnsupportedOperationException`.

/// How an operation runs on the server; see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    Inline,
    Blocking,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationFacts {
    pub operation: KmsOperation,
    /// The operation's name on the wire (`X-Amz-Target: TrentService.<name>`).
    pub name: &'static str,
    /// IAM actions without the `kms:` prefix; the first is the operation's own.
    pub actions: &'static [&'static str],
    pub read_only: bool,
    pub runs: Runs,
    pub cross_account: bool,
    pub takes_key: bool,
    pub cryptographic: bool,
    pub implemented: bool,
}

/// Declares [`KmsOperation`] and its rows in one list, so that the two
/// cannot disagree.
macro_rules! operations {
    ($(
        $operation:ident [$($action:literal),+]
            $read:ident $runs:ident $account:ident $key:ident $material:ident $state:ident;
    )*) => {
        /// An operation of the AWS KMS API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum KmsOperation {
            $($operation,)*
        }

        impl KmsOperation {
            /// Every operation, in the model's (alphabetical) order.
            pub const ALL: &'static [KmsOperation] = &[$(KmsOperation::$operation,)*];

            /// This operation's row.
            pub fn facts(self) -> &'static OperationFacts {
                match self {
                    $(KmsOperation::$operation => &OperationFacts {
                        operation: KmsOperation::$operation,
                        name: stringify!($operation),
                        actions: &[$($action),+],
                        read_only: operations!(@flag $read ReadOnly Writes),
                        runs: Runs::$runs,
                        cross_account: operations!(@flag $account AnyAccount OwnAccount),
                        takes_key: operations!(@flag $key Key NoKey),
                        cryptographic: operations!(@flag $material Material NoMaterial),
                        implemented: operations!(@flag $state Implemented Unsupported),
                    },)*
                }
            }

            /// The operation named `name` on the wire.
            pub fn named(name: &str) -> Option<KmsOperation> {
                match name {
                    $(stringify!($operation) => Some(KmsOperation::$operation),)*
                    _ => None,
                }
            }
        }
    };
    (@flag ReadOnly ReadOnly Writes) => { true };
    (@flag Writes ReadOnly Writes) => { false };
    (@flag AnyAccount AnyAccount OwnAccount) => { true };
    (@flag OwnAccount AnyAccount OwnAccount) => { false };
    (@flag Key Key NoKey) => { true };
    (@flag NoKey Key NoKey) => { false };
    (@flag Material Material NoMaterial) => { true };
    (@flag NoMaterial Material NoMaterial) => { false };
    (@flag Implemented Implemented Unsupported) => { true };
    (@flag Unsupported Implemented Unsupported) => { false };
}

operations! {
    // operation                      IAM actions                               read-only runs     account    key   material   state
    CancelKeyDeletion                 ["CancelKeyDeletion"]                     Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    ConnectCustomKeyStore             ["ConnectCustomKeyStore"]                 Writes   Blocking OwnAccount NoKey NoMaterial Unsupported;
    CreateAlias                       ["CreateAlias"]                           Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    CreateCustomKeyStore              ["CreateCustomKeyStore"]                  Writes   Blocking OwnAccount NoKey NoMaterial Unsupported;
    CreateGrant                       ["CreateGrant"]                           Writes   Blocking AnyAccount Key   NoMaterial Implemented;
    CreateKey                         ["CreateKey"]                             Writes   Blocking OwnAccount NoKey NoMaterial Implemented;
    Decapsulate                       ["Decapsulate"]                           ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    Decrypt                           ["Decrypt"]                               ReadOnly Inline   AnyAccount Key   Material   Implemented;
    DeleteAlias                       ["DeleteAlias"]                           Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    DeleteCustomKeyStore              ["DeleteCustomKeyStore"]                  Writes   Blocking OwnAccount NoKey NoMaterial Unsupported;
    DeleteImportedKeyMaterial         ["DeleteImportedKeyMaterial"]             Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    DeriveSharedSecret                ["DeriveSharedSecret"]                    ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    DescribeCustomKeyStores           ["DescribeCustomKeyStores"]               ReadOnly Inline   OwnAccount NoKey NoMaterial Unsupported;
    DescribeKey                       ["DescribeKey"]                           ReadOnly Inline   AnyAccount Key   NoMaterial Implemented;
    DisableKey                        ["DisableKey"]                            Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    DisableKeyRotation                ["DisableKeyRotation"]                    Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    DisconnectCustomKeyStore          ["DisconnectCustomKeyStore"]              Writes   Blocking OwnAccount NoKey NoMaterial Unsupported;
    EnableKey                         ["EnableKey"]                             Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    EnableKeyRotation                 ["EnableKeyRotation"]                     Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    Encapsulate                       ["Encapsulate"]                           ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    Encrypt                           ["Encrypt"]                               ReadOnly Inline   AnyAccount Key   Material   Implemented;
    GenerateDataKey                   ["GenerateDataKey"]                       ReadOnly Inline   AnyAccount Key   Material   Implemented;
    GenerateDataKeyPair               ["GenerateDataKeyPair"]                   ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    GenerateDataKeyPairWithoutPlaintext ["GenerateDataKeyPairWithoutPlaintext"] ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    GenerateDataKeyWithoutPlaintext   ["GenerateDataKeyWithoutPlaintext"]       ReadOnly Inline   AnyAccount Key   Material   Implemented;
    GenerateMac                       ["GenerateMac"]                           ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    GenerateRandom                    ["GenerateRandom"]                        ReadOnly Inline   OwnAccount NoKey NoMaterial Implemented;
    GetKeyLastUsage                   ["GetKeyLastUsage"]                       ReadOnly Inline   OwnAccount Key   NoMaterial Unsupported;
    GetKeyPolicy                      ["GetKeyPolicy"]                          ReadOnly Inline   OwnAccount Key   NoMaterial Implemented;
    GetKeyRotationStatus              ["GetKeyRotationStatus"]                  ReadOnly Inline   AnyAccount Key   NoMaterial Implemented;
    GetParametersForImport            ["GetParametersForImport"]                ReadOnly Inline   OwnAccount Key   NoMaterial Implemented;
    GetPublicKey                      ["GetPublicKey"]                          ReadOnly Inline   AnyAccount Key   NoMaterial Unsupported;
    ImportKeyMaterial                 ["ImportKeyMaterial"]                     Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    ListAliases                       ["ListAliases"]                           ReadOnly Inline   OwnAccount NoKey NoMaterial Implemented;
    ListGrants                        ["ListGrants"]                            ReadOnly Inline   AnyAccount Key   NoMaterial Implemented;
    ListKeyPolicies                   ["ListKeyPolicies"]                       ReadOnly Inline   OwnAccount Key   NoMaterial Implemented;
    ListKeyRotations                  ["ListKeyRotations"]                      ReadOnly Inline   OwnAccount Key   NoMaterial Implemented;
    ListKeys                          ["ListKeys"]                              ReadOnly Inline   OwnAccount NoKey NoMaterial Implemented;
    ListResourceTags                  ["ListResourceTags"]                      ReadOnly Inline   OwnAccount Key   NoMaterial Implemented;
    ListRetirableGrants               ["ListRetirableGrants"]                   ReadOnly Inline   OwnAccount NoKey NoMaterial Implemented;
    PutKeyPolicy                      ["PutKeyPolicy"]                          Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    ReEncrypt                         ["ReEncryptFrom", "ReEncryptTo"]          ReadOnly Inline   AnyAccount Key   Material   Implemented;
    ReplicateKey                      ["ReplicateKey"]                          Writes   Blocking OwnAccount Key   NoMaterial Unsupported;
    RetireGrant                       ["RetireGrant"]                           Writes   Blocking AnyAccount Key   NoMaterial Implemented;
    RevokeGrant                       ["RevokeGrant"]                           Writes   Blocking AnyAccount Key   NoMaterial Implemented;
    RotateKeyOnDemand                 ["RotateKeyOnDemand"]                     Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    ScheduleKeyDeletion               ["ScheduleKeyDeletion"]                   Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    Sign                              ["Sign"]                                  ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    TagResource                       ["TagResource"]                           Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    UntagResource                     ["UntagResource"]                         Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    UpdateAlias                       ["UpdateAlias"]                           Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    UpdateCustomKeyStore              ["UpdateCustomKeyStore"]                  Writes   Blocking OwnAccount NoKey NoMaterial Unsupported;
    UpdateKeyDescription              ["UpdateKeyDescription"]                  Writes   Blocking OwnAccount Key   NoMaterial Implemented;
    UpdatePrimaryRegion               ["UpdatePrimaryRegion"]                   Writes   Blocking OwnAccount Key   NoMaterial Unsupported;
    Verify                            ["Verify"]                                ReadOnly Inline   AnyAccount Key   Material   Unsupported;
    VerifyMac                         ["VerifyMac"]                             ReadOnly Inline   AnyAccount Key   Material   Unsupported;
}

impl KmsOperation {
    pub fn name(self) -> &'static str {
        self.facts().name
    }

    /// The operation's own IAM action (`Decrypt`; ReEncrypt's first, `ReEncryptFrom`).
    pub fn action(self) -> &'static str {
        self.facts().actions[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> impl Iterator<Item = &'static OperationFacts> {
        KmsOperation::ALL.iter().map(|operation| operation.facts())
    }

    #[test]
    fn every_operation_is_named_by_its_row() {
        for (operation, row) in KmsOperation::ALL.iter().zip(rows()) {
            assert_eq!(row.operation, *operation);
            assert_eq!(KmsOperation::named(row.name), Some(*operation));
        }
    }

    /// The table lists exactly the operations of botocore's KMS model
    /// (`kms/2014-11-01`, botocore 1.43), in its order.
    #[test]
    fn the_table_is_the_model() {
        let model = [
            "CancelKeyDeletion",
            "ConnectCustomKeyStore",
            "CreateAlias",
            "CreateCustomKeyStore",
            "CreateGrant",
            "CreateKey",
            "Decapsulate",
            "Decrypt",
            "DeleteAlias",
            "DeleteCustomKeyStore",
            "DeleteImportedKeyMaterial",
            "DeriveSharedSecret",
            "DescribeCustomKeyStores",
            "DescribeKey",
            "DisableKey",
            "DisableKeyRotation",
            "DisconnectCustomKeyStore",
            "EnableKey",
            "EnableKeyRotation",
            "Encapsulate",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateMac",
            "GenerateRandom",
            "GetKeyLastUsage",
            "GetKeyPolicy",
            "GetKeyRotationStatus",
            "GetParametersForImport",
            "GetPublicKey",
            "ImportKeyMaterial",
            "ListAliases",
            "ListGrants",
            "ListKeyPolicies",
            "ListKeyRotations",
            "ListKeys",
            "ListResourceTags",
            "ListRetirableGrants",
            "PutKeyPolicy",
            "ReEncrypt",
            "ReplicateKey",
            "RetireGrant",
            "RevokeGrant",
            "RotateKeyOnDemand",
            "ScheduleKeyDeletion",
            "Sign",
            "TagResource",
            "UntagResource",
            "UpdateAlias",
            "UpdateCustomKeyStore",
            "UpdateKeyDescription",
            "UpdatePrimaryRegion",
            "Verify",
            "VerifyMac",
        ];
        let names: Vec<_> = rows().map(|row| row.name).collect();
        assert_eq!(names, model);
    }

    /// The read-only column follows CloudTrail's rule for KMS: the
    /// cryptographic operations and every `Describe*`, `Get*`, `List*`.
    #[test]
    fn read_only_is_cloudtrails_rule() {
        for row in rows() {
            let by_name = ["Describe", "Get", "List", "Generate"]
                .iter()
                .any(|prefix| row.name.starts_with(prefix));
            assert_eq!(row.read_only, by_name || row.cryptographic, "{}", row.name);
        }
    }

    /// Operations that write the store run on the blocking pool, and only those.
    #[test]
    fn writers_block() {
        for row in rows() {
            assert_eq!(row.runs == Runs::Blocking, !row.read_only, "{}", row.name);
        }
    }

    /// The KMS `ct-*.html` examples' `readOnly`.
    #[test]
    fn read_only_follows_the_kms_examples() {
        let read_only = [
            "Decrypt",
            "Encrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateRandom",
            "GenerateMac",
            "VerifyMac",
            "Sign",
            "Verify",
            "DescribeKey",
            "GetKeyPolicy",
            "GetParametersForImport",
            "ListGrants",
            "ListAliases",
        ];
        let writes = [
            "CreateKey",
            "CreateGrant",
            "RetireGrant",
            "RevokeGrant",
            "ImportKeyMaterial",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "TagResource",
            "UpdateAlias",
            "PutKeyPolicy",
            "EnableKey",
            "DisableKeyRotation",
        ];
        for (names, expected) in [(&read_only[..], true), (&writes[..], false)] {
            for name in names {
                let row = KmsOperation::named(name).unwrap().facts();
                assert_eq!(row.read_only, expected, "{name}");
            }
        }
    }
}
