//! The identity domain through its public operations, against a real
//! SQLite store in a temporary directory (reopened to prove durability).

use std::sync::Arc;

use keyward_crypto::RootKey;
use keyward_policy::PrincipalName;
use keyward_principal::{Caller, Clock, PrincipalDirectory};
use keyward_store::{AccountRow, Mutation, SqliteStore, Store};

use crate::{CredentialError, Identities, IdentityError, ListRequest};

const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    root_key: RootKey,
    clock: Arc<Clock>,
    ids: Identities,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
        store
            .apply(&[Mutation::PutAccount(AccountRow {
                account_id: ACCOUNT.into(),
                created_ms: 0,
            })])
            .unwrap();
        let root_key = RootKey::generate().unwrap();
        let clock = Arc::new(Clock::new());
        let ids = open(&store, &root_key, &clock);
        Fixture {
            _dir: dir,
            store,
            root_key,
            clock,
            ids,
        }
    }

    /// A fresh domain from what the store holds: what a restart sees.
    fn reopen(&mut self) {
        self.ids = open(&self.store, &self.root_key, &self.clock);
    }

    fn root(&self) -> Caller {
        Caller::root(ACCOUNT)
    }

    /// A user with an access key; returns the caller its key resolves to.
    fn user(&self, name: &str, policies: &[&str]) -> Caller {
        self.ids.create_user(&self.root(), name, None).unwrap();
        for (i, policy) in policies.iter().enumerate() {
            self.ids
                .put_user_policy(&self.root(), name, &format!("p{i}"), policy)
                .unwrap();
        }
        let key = self
            .ids
            .create_access_key(&self.root(), Some(name))
            .unwrap();
        self.ids
            .resolve(&key.metadata.access_key_id, None)
            .unwrap()
            .caller
    }

    fn role(&self, name: &str, trust: &str) -> String {
        self.ids
            .create_role(&self.root(), name, None, trust, None, None)
            .unwrap()
            .arn
    }
}

fn open(store: &Arc<SqliteStore>, root_key: &RootKey, clock: &Arc<Clock>) -> Identities {
    let snapshot = store.load().unwrap();
    let store: Arc<dyn Store> = store.clone();
    Identities::open(
        store,
        &snapshot,
        root_key.clone(),
        Arc::clone(clock),
        ACCOUNT,
    )
    .unwrap()
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn deny(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"{action}","Resource":"*"}}]}}"#
    )
}

fn trust(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// The variant name and message of an error.
fn describe(error: &IdentityError) -> (&'static str, String) {
    let kind = match error {
        IdentityError::NoSuchEntity(_) => "NoSuchEntity",
        IdentityError::EntityAlreadyExists(_) => "EntityAlreadyExists",
        IdentityError::DeleteConflict(_) => "DeleteConflict",
        IdentityError::LimitExceeded(_) => "LimitExceeded",
        IdentityError::Validation(_) => "Validation",
        IdentityError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
        IdentityError::AccessDenied(_) => "AccessDenied",
        IdentityError::Internal(_) => "Internal",
    };
    (kind, error.to_string())
}

fn check_err<T>(result: Result<T, IdentityError>, kind: &str, message: &str) {
    match result {
        Ok(_) => panic!("expected {kind}: {message}, got success"),
        Err(e) => assert_eq!(describe(&e), (kind_static(kind), message.to_string())),
    }
}

fn kind_static(kind: &str) -> &'static str {
    [
        "NoSuchEntity",
        "EntityAlreadyExists",
        "DeleteConflict",
        "LimitExceeded",
        "Validation",
        "MalformedPolicyDocument",
        "AccessDenied",
        "Internal",
    ]
    .into_iter()
    .find(|k| *k == kind)
    .unwrap()
}

#[test]
fn users_are_created_listed_found_and_deleted_durably() {
    let mut f = Fixture::new();
    let root = f.root();
    let alice = f.ids.create_user(&root, "alice", Some("/eng/")).unwrap();
    assert_eq!(alice.arn, "arn:aws:iam::111122223333:user/eng/alice");
    assert!(alice.user_id.starts_with("AIDA") && alice.user_id.len() == 21);
    f.ids.create_user(&root, "bob", None).unwrap();
    check_err(
        f.ids.create_user(&root, "ALICE", None),
        "EntityAlreadyExists",
        "User with name ALICE already exists.",
    );
    check_err(
        f.ids.create_user(&root, "bad name", None),
        "Validation",
        r"1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    check_err(
        f.ids.create_user(&root, "carol", Some("eng")),
        "Validation",
        r"1 validation error detected: Value 'eng' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
    );
    f.reopen();
    assert_eq!(f.ids.get_user(&root, Some("Alice")).unwrap(), alice);
    let all = f.ids.list_users(&root, &ListRequest::default()).unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    let eng = f
        .ids
        .list_users(
            &root,
            &ListRequest {
                path_prefix: Some("/eng/"),
                ..ListRequest::default()
            },
        )
        .unwrap();
    assert_eq!(eng.items.len(), 1);
    let first = f
        .ids
        .list_users(
            &root,
            &ListRequest {
                max_items: Some(1),
                ..ListRequest::default()
            },
        )
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let rest = f
        .ids
        .list_users(
            &root,
            &ListRequest {
                marker: first.marker.as_deref(),
                ..ListRequest::default()
            },
        )
        .unwrap();
    assert_eq!(rest.items[0].name, "bob");
    assert_eq!(rest.marker, None);
    check_err(
        f.ids.list_users(
            &root,
            &ListRequest {
                max_items: Some(0),
                ..ListRequest::default()
            },
        ),
        "Validation",
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    f.ids.delete_user(&root, "bob").unwrap();
    f.reopen();
    check_err(
        f.ids.get_user(&root, Some("bob")),
        "NoSuchEntity",
        "The user with name bob cannot be found.",
    );
    check_err(
        f.ids.delete_user(&root, "bob"),
        "NoSuchEntity",
        "The user with name bob cannot be found.",
    );
    // Another account's users are invisible.
    check_err(
        f.ids.get_user(&Caller::root(OTHER), Some("alice")),
        "NoSuchEntity",
        "The user with name alice cannot be found.",
    );
}

#[test]
fn access_keys_authenticate_until_deactivated_or_deleted() {
    let mut f = Fixture::new();
    let root = f.root();
    f.ids.create_user(&root, "alice", None).unwrap();
    let first = f.ids.create_access_key(&root, Some("alice")).unwrap();
    assert!(first.metadata.access_key_id.starts_with("AKIA"));
    assert_eq!(first.metadata.access_key_id.len(), 20);
    assert_eq!(first.secret_access_key.len(), 40);
    let second = f.ids.create_access_key(&root, Some("alice")).unwrap();
    check_err(
        f.ids.create_access_key(&root, Some("alice")),
        "LimitExceeded",
        "Cannot exceed quota for AccessKeysPerUser: 2",
    );
    check_err(
        f.ids.create_access_key(&root, Some("nobody")),
        "NoSuchEntity",
        "The user with name nobody cannot be found.",
    );
    f.reopen();
    let resolved = f.ids.resolve(&first.metadata.access_key_id, None).unwrap();
    assert_eq!(resolved.secret.as_str(), first.secret_access_key.as_str());
    let caller = resolved.caller;
    assert_eq!(
        caller.principal_arn(),
        "arn:aws:iam::111122223333:user/alice"
    );
    assert_eq!(caller.username(), Some("alice"));
    assert!(caller.user_id().starts_with("AIDA"));
    assert_eq!(caller.account_id(), ACCOUNT);
    // A user manages its own keys without naming itself (with permission).
    let keys = f
        .ids
        .list_access_keys(&root, Some("alice"), &ListRequest::default())
        .unwrap();
    assert_eq!(keys.items.len(), 2);
    assert!(keys
        .items
        .iter()
        .all(|k| k.active && k.user_name.as_deref() == Some("alice")));

    f.ids
        .update_access_key(&root, Some("alice"), &first.metadata.access_key_id, false)
        .unwrap();
    f.reopen();
    assert_eq!(
        f.ids.resolve(&first.metadata.access_key_id, None).err(),
        Some(CredentialError::InactiveAccessKey)
    );
    f.ids
        .update_access_key(&root, Some("alice"), &first.metadata.access_key_id, true)
        .unwrap();
    assert!(f.ids.resolve(&first.metadata.access_key_id, None).is_ok());
    check_err(
        f.ids.delete_user(&root, "alice"),
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
    );
    f.ids
        .delete_access_key(&root, Some("alice"), &first.metadata.access_key_id)
        .unwrap();
    check_err(
        f.ids
            .delete_access_key(&root, Some("alice"), &first.metadata.access_key_id),
        "NoSuchEntity",
        &format!(
            "The Access Key with id {} cannot be found.",
            first.metadata.access_key_id
        ),
    );
    f.reopen();
    assert_eq!(
        f.ids.resolve(&first.metadata.access_key_id, None).err(),
        Some(CredentialError::UnknownAccessKey)
    );
    assert_eq!(
        f.ids.resolve("AKIANOTAKEYATALL0000", None).err(),
        Some(CredentialError::UnknownAccessKey)
    );
    // A key of another user is not found under this one.
    f.ids.create_user(&root, "bob", None).unwrap();
    check_err(
        f.ids
            .delete_access_key(&root, Some("bob"), &second.metadata.access_key_id),
        "NoSuchEntity",
        &format!(
            "The Access Key with id {} cannot be found.",
            second.metadata.access_key_id
        ),
    );
    f.ids
        .delete_access_key(&root, Some("alice"), &second.metadata.access_key_id)
        .unwrap();
    f.ids.delete_user(&root, "alice").unwrap();
    // The root user's own keys (no UserName).
    let root_key = f.ids.create_access_key(&root, None).unwrap();
    assert_eq!(root_key.metadata.user_name, None);
    assert!(f
        .ids
        .resolve(&root_key.metadata.access_key_id, None)
        .unwrap()
        .caller
        .is_root());
}

#[test]
fn inline_policies_round_trip_and_are_validated() {
    let mut f = Fixture::new();
    let root = f.root();
    f.ids.create_user(&root, "alice", None).unwrap();
    let doc = allow("kms:Encrypt", "*");
    f.ids.put_user_policy(&root, "alice", "enc", &doc).unwrap();
    f.reopen();
    let (owner, policy) = f.ids.get_user_policy(&root, "ALICE", "enc").unwrap();
    assert_eq!(
        (owner.as_str(), policy.name.as_str(), policy.text.as_str()),
        ("alice", "enc", doc.as_str())
    );
    assert_eq!(
        f.ids
            .list_user_policies(&root, "alice", &ListRequest::default())
            .unwrap()
            .items,
        ["enc"]
    );
    check_err(
        f.ids.put_user_policy(&root, "alice", "bad", "{not json"),
        "MalformedPolicyDocument",
        "Syntax errors in policy.",
    );
    check_err(
        f.ids.put_user_policy(&root, "alice", "bad", &trust("*")),
        "MalformedPolicyDocument",
        "Policy document should not specify a principal.",
    );
    check_err(
        f.ids.put_user_policy(
            &root,
            "alice",
            "bad",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
        ),
        "MalformedPolicyDocument",
        "Statement[0]: Effect must be \"Allow\" or \"Deny\" (case-sensitive), not \"Maybe\"",
    );
    check_err(
        f.ids.put_user_policy(&root, "alice", "bad name", &doc),
        "Validation",
        r"1 validation error detected: Value 'bad name' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    check_err(
        f.ids.put_user_policy(&root, "nobody", "p", &doc),
        "NoSuchEntity",
        "The user with name nobody cannot be found.",
    );
    // The aggregate quota counts every policy of the user, white space excluded.
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:us-east-1:111122223333:key/{}"}}]}}"#,
        "k".repeat(1900)
    );
    check_err(
        f.ids.put_user_policy(&root, "alice", "big", &big),
        "LimitExceeded",
        "Maximum policy size of 2048 bytes exceeded for user alice",
    );
    let spaced = format!("{}{}", " ".repeat(5000), doc);
    f.ids
        .put_user_policy(&root, "alice", "spaced", &spaced)
        .unwrap();
    check_err(
        f.ids.delete_user(&root, "alice"),
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
    );
    check_err(
        f.ids.get_user_policy(&root, "alice", "nope"),
        "NoSuchEntity",
        "The user policy with name nope cannot be found.",
    );
    f.ids.delete_user_policy(&root, "alice", "enc").unwrap();
    f.ids.delete_user_policy(&root, "alice", "spaced").unwrap();
    check_err(
        f.ids.delete_user_policy(&root, "alice", "enc"),
        "NoSuchEntity",
        "The user policy with name enc cannot be found.",
    );
    f.ids.delete_user(&root, "alice").unwrap();
}

#[test]
fn iam_calls_need_an_identity_policy_except_for_root() {
    let f = Fixture::new();
    let nobody = f.user("nobody", &[]);
    check_err(
        f.ids.create_user(&nobody, "x", None),
        "AccessDenied",
        "User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::111122223333:user/x because no identity-based policy allows the iam:CreateUser action",
    );
    // Authorization comes before existence: no probing for names.
    check_err(
        f.ids.get_user(&nobody, Some("ghost")),
        "AccessDenied",
        "User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: iam:GetUser on resource: arn:aws:iam::111122223333:user/ghost because no identity-based policy allows the iam:GetUser action",
    );
    let admin = f.user("admin", &[&allow("iam:*", "*"), &deny("iam:DeleteUser")]);
    f.ids.create_user(&admin, "x", None).unwrap();
    check_err(
        f.ids.delete_user(&admin, "x"),
        "AccessDenied",
        "User: arn:aws:iam::111122223333:user/admin is not authorized to perform: iam:DeleteUser on resource: arn:aws:iam::111122223333:user/x with an explicit deny in an identity-based policy",
    );
    // A policy variable: users may manage their own keys only.
    let own = f.user(
        "self",
        &[&allow(
            "iam:*AccessKey*",
            "arn:aws:iam::111122223333:user/${aws:username}",
        )],
    );
    f.ids.create_access_key(&own, None).unwrap();
    assert!(matches!(
        f.ids.create_access_key(&own, Some("x")),
        Err(IdentityError::AccessDenied(_))
    ));
    // Only the root user names no user for its own keys; a role session must.
    let root_caller = f.root();
    assert!(f
        .ids
        .get_user(&root_caller, None)
        .unwrap()
        .arn
        .ends_with(":root"));
}

#[test]
fn roles_are_validated_and_stored() {
    let mut f = Fixture::new();
    let root = f.root();
    let doc = trust("arn:aws:iam::111122223333:root");
    let role = f
        .ids
        .create_role(
            &root,
            "ops",
            Some("/team/"),
            &doc,
            Some("operators"),
            Some(7200),
        )
        .unwrap();
    assert_eq!(role.arn, "arn:aws:iam::111122223333:role/team/ops");
    assert!(role.role_id.starts_with("AROA"));
    f.reopen();
    let got = f.ids.get_role(&root, "OPS").unwrap();
    assert_eq!(
        (
            got.trust_policy_text.as_str(),
            got.max_session_duration,
            got.description.as_deref()
        ),
        (doc.as_str(), 7200, Some("operators"))
    );
    check_err(
        f.ids.create_role(&root, "ops", None, &doc, None, None),
        "EntityAlreadyExists",
        "Role with name ops already exists.",
    );
    check_err(
        f.ids.create_role(&root, "r", None, &doc, None, Some(60)),
        "Validation",
        "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    );
    check_err(
        f.ids
            .create_role(&root, "r", None, &allow("sts:AssumeRole", "*"), None, None),
        "MalformedPolicyDocument",
        "Missing required field Principal",
    );
    check_err(
        f.ids.create_role(
            &root,
            "r",
            None,
            &trust("arn:aws:iam::111122223333:user/ghost"),
            None,
            None,
        ),
        "MalformedPolicyDocument",
        "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:user/ghost\"",
    );
    check_err(
        f.ids.create_role(
            &root,
            "r",
            None,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}"#,
            None,
            None,
        ),
        "MalformedPolicyDocument",
        "Has prohibited field Resource",
    );
    let long = trust(&format!(
        "arn:aws:iam::111122223333:root\"}},\"Sid\":\"{}",
        "s".repeat(2100)
    ));
    assert!(f
        .ids
        .create_role(&root, "r", None, &long, None, None)
        .is_err());
    f.ids
        .put_role_policy(&root, "ops", "use", &allow("kms:*", "*"))
        .unwrap();
    let (owner, policy) = f.ids.get_role_policy(&root, "ops", "use").unwrap();
    assert_eq!((owner.as_str(), policy.name.as_str()), ("ops", "use"));
    assert_eq!(
        f.ids
            .list_role_policies(&root, "ops", &ListRequest::default())
            .unwrap()
            .items,
        ["use"]
    );
    assert_eq!(
        f.ids
            .list_roles(&root, &ListRequest::default())
            .unwrap()
            .items
            .len(),
        1
    );
    check_err(
        f.ids.delete_role(&root, "ops"),
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
    );
    f.ids.delete_role_policy(&root, "ops", "use").unwrap();
    f.ids.delete_role(&root, "ops").unwrap();
    check_err(
        f.ids.get_role(&root, "ops"),
        "NoSuchEntity",
        "The role with name ops cannot be found.",
    );
}

/// Who may assume a role: (trust principal, caller, caller's identity
/// policies, allowed?). Rules in `sts.rs`.
#[test]
fn assume_role_follows_trust_and_identity_policies() {
    let f = Fixture::new();
    let root = f.root();
    let assume_any = allow("sts:AssumeRole", "*");
    let named = f.user("named", &[]);
    let plain = f.user("plain", &[]);
    let allowed = f.user("allowed", &[&assume_any]);
    let denied = f.user("denied", &[&assume_any, &deny("sts:AssumeRole")]);
    let other_root = Caller::root(OTHER);
    let other_user = Caller::user(
        OTHER,
        &format!("arn:aws:iam::{OTHER}:user/x"),
        named.user_id(),
        "x",
        allowed.identity_policies().to_vec(),
    );

    let by_user = f.role("by-user", &trust("arn:aws:iam::111122223333:user/named"));
    let by_account = f.role("by-account", &trust("arn:aws:iam::111122223333:root"));
    let by_other = f.role("by-other", &trust(OTHER));
    let denying = f.role(
        "denying",
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/allowed"},"Action":"sts:AssumeRole"}]}"#,
    );
    let cases: Vec<(&str, &String, &Caller, bool)> = vec![
        ("trust names the user", &by_user, &named, true),
        ("trust names another user", &by_user, &plain, false),
        (
            "account trust, no identity policy",
            &by_account,
            &plain,
            false,
        ),
        (
            "account trust, identity policy",
            &by_account,
            &allowed,
            true,
        ),
        ("account trust, identity deny", &by_account, &denied, false),
        ("account trust, root", &by_account, &root, true),
        (
            "cross-account root, trusted account",
            &by_other,
            &other_root,
            true,
        ),
        (
            "cross-account root, untrusted",
            &by_account,
            &other_root,
            false,
        ),
        (
            "cross-account user with policy",
            &by_other,
            &other_user,
            true,
        ),
        ("same account not trusted", &by_other, &root, false),
        ("trust denies the user", &denying, &allowed, false),
        ("trust allows account, other user", &denying, &root, true),
    ];
    for (name, role_arn, caller, expected) in cases {
        let result = f.ids.assume_role(caller, role_arn, "session", None);
        assert_eq!(result.is_ok(), expected, "{name}: {:?}", result.err());
        if let Err(e) = result {
            assert_eq!(
                e.to_string(),
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.principal_arn()
                ),
                "{name}"
            );
        }
    }
    check_err(
        f.ids.assume_role(&root, "arn:aws:iam::111122223333:role/ghost", "s1", None),
        "AccessDenied",
        "User: arn:aws:iam::111122223333:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/ghost",
    );
    check_err(
        f.ids.assume_role(&root, &by_account, "s", None),
        "Validation",
        "1 validation error detected: Value 's' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
    );
    check_err(
        f.ids.assume_role(&root, &by_account, "s1", Some(899)),
        "Validation",
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    );
    check_err(
        f.ids.assume_role(&root, &by_account, "s1", Some(3601)),
        "Validation",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    check_err(
        f.ids
            .assume_role(&root, "not-an-arn-but-long-enough", "s1", None),
        "Validation",
        "Request ARN is invalid",
    );
}

#[test]
fn session_tokens_are_sealed_expire_and_survive_restarts() {
    let mut f = Fixture::new();
    let root = f.root();
    let role_arn = f.role("ops", &trust("arn:aws:iam::111122223333:root"));
    f.ids
        .put_role_policy(&root, "ops", "use", &allow("kms:*", "*"))
        .unwrap();
    let session = f
        .ids
        .assume_role(&root, &role_arn, "alice@example.com", Some(900))
        .unwrap();
    assert!(session.access_key_id.starts_with("ASIA"));
    assert_eq!(
        session.arn,
        "arn:aws:sts::111122223333:assumed-role/ops/alice@example.com"
    );
    assert!(
        session.assumed_role_id.starts_with("AROA")
            && session.assumed_role_id.ends_with(":alice@example.com")
    );
    f.reopen();
    let resolved = f
        .ids
        .resolve(&session.access_key_id, Some(&session.session_token))
        .unwrap();
    assert_eq!(resolved.secret.as_str(), session.secret_access_key.as_str());
    let caller = resolved.caller;
    assert_eq!(caller.principal_arn(), session.arn);
    assert_eq!(caller.user_id(), session.assumed_role_id);
    assert_eq!(caller.identity_policies().len(), 1);
    assert_eq!(
        f.ids.get_caller_identity(&caller).arn,
        "arn:aws:sts::111122223333:assumed-role/ops/alice@example.com"
    );
    // Tampering with any part of the token, or using it with another key id, fails.
    let token = &session.session_token;
    for position in [4, token.len() / 2, token.len() - 3] {
        let mut bytes = token.clone().into_bytes();
        bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            f.ids.resolve(&session.access_key_id, Some(&tampered)).err(),
            Some(CredentialError::InvalidSessionToken),
            "position {position}"
        );
    }
    assert_eq!(
        f.ids.resolve("ASIAOTHERKEYID000000", Some(token)).err(),
        Some(CredentialError::InvalidSessionToken)
    );
    assert_eq!(
        f.ids
            .resolve(&session.access_key_id, Some("FwoGZXIvYXdzEJr//////////"))
            .err(),
        Some(CredentialError::InvalidSessionToken)
    );
    // Another root key (another keyward) cannot open it.
    let stranger = open(&f.store, &RootKey::generate().unwrap(), &f.clock);
    assert_eq!(
        stranger.resolve(&session.access_key_id, Some(token)).err(),
        Some(CredentialError::InvalidSessionToken)
    );
    // A re-created role does not lend its policies to an old session.
    f.ids.delete_role_policy(&root, "ops", "use").unwrap();
    f.ids.delete_role(&root, "ops").unwrap();
    f.role("ops", &trust("arn:aws:iam::111122223333:root"));
    f.ids
        .put_role_policy(&root, "ops", "use", &allow("kms:*", "*"))
        .unwrap();
    let caller = f
        .ids
        .resolve(&session.access_key_id, Some(token))
        .unwrap()
        .caller;
    assert!(caller.identity_policies().is_empty());
    // Expiry by the service clock.
    assert!(f.clock.advance_ms(899_000));
    assert!(f.ids.resolve(&session.access_key_id, Some(token)).is_ok());
    assert!(f.clock.advance_ms(1_000));
    assert_eq!(
        f.ids.resolve(&session.access_key_id, Some(token)).err(),
        Some(CredentialError::ExpiredSessionToken)
    );
    // A session needs an identity policy to assume a role trusted by its account.
    let session = f
        .ids
        .assume_role(
            &root,
            &f.ids.get_role(&root, "ops").unwrap().arn,
            "s1",
            None,
        )
        .unwrap();
    let chained = f
        .ids
        .resolve(&session.access_key_id, Some(&session.session_token))
        .unwrap()
        .caller;
    let ops_arn = f.ids.get_role(&root, "ops").unwrap().arn;
    check_err(
        f.ids.assume_role(&chained, &ops_arn, "s2", Some(3600)),
        "AccessDenied",
        "User: arn:aws:sts::111122223333:assumed-role/ops/s1 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/ops",
    );
}

#[test]
fn the_principal_directory_knows_identities() {
    let f = Fixture::new();
    let root = f.root();
    f.ids.create_user(&root, "alice", Some("/eng/")).unwrap();
    f.role("ops", &trust("arn:aws:iam::111122223333:root"));
    let arn = |s: &str| PrincipalName::Arn(s.to_string());
    let cases = [
        (PrincipalName::Everyone, true),
        (PrincipalName::Account("999988887777".into()), true),
        (PrincipalName::Account("12345".into()), false),
        (
            PrincipalName::Service("kinesisanalytics.amazonaws.com".into()),
            true,
        ),
        (arn("arn:aws:iam::111122223333:user/eng/alice"), true),
        (arn("arn:aws:iam::111122223333:user/alice"), false),
        (arn("arn:aws:iam::111122223333:user/eng/bob"), false),
        (arn("arn:aws:iam::444455556666:user/eng/alice"), false),
        (arn("arn:aws:iam::111122223333:role/ops"), true),
        (arn("arn:aws:iam::111122223333:role/x/ops"), false),
        (
            arn("arn:aws:sts::111122223333:assumed-role/ops/any-session"),
            true,
        ),
        (arn("arn:aws:sts::111122223333:assumed-role/nope/s"), false),
        (arn("arn:aws:iam::111122223333:root"), true),
        (arn("arn:aws:sts::111122223333:federated-user/x"), false),
        (arn("not an arn"), false),
    ];
    for (name, expected) in cases {
        assert_eq!(f.ids.exists(&name), expected, "{name:?}");
    }
    // As the trait object the KMS holds.
    let directory: Arc<dyn PrincipalDirectory> = Arc::new(open(&f.store, &f.root_key, &f.clock));
    assert!(directory.exists(&arn("arn:aws:iam::111122223333:role/ops")));
}

#[test]
fn only_the_default_root_creates_accounts() {
    let mut f = Fixture::new();
    let root = f.root();
    let account = f.ids.create_account(&root, Some(OTHER)).unwrap();
    assert_eq!(account.account_id, OTHER);
    check_err(
        f.ids.create_account(&root, Some(OTHER)),
        "EntityAlreadyExists",
        "Account 444455556666 already exists.",
    );
    check_err(
        f.ids.create_account(&root, Some("12")),
        "Validation",
        "1 validation error detected: Value '12' at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\\d{12}$",
    );
    let random = f.ids.create_account(&root, None).unwrap();
    assert!(crate::is_account_id(&random.account_id));
    f.reopen();
    let other_root = f.ids.resolve(&account.access_key_id, None).unwrap().caller;
    assert!(other_root.is_root());
    assert_eq!(other_root.account_id(), OTHER);
    check_err(
        f.ids.create_account(&other_root, None),
        "AccessDenied",
        "User: arn:aws:iam::444455556666:root is not authorized to perform: keyward:CreateAccount on resource: arn:aws:iam::111122223333:root because only the root user of the default account may create accounts",
    );
    let user = f.user("admin", &[&allow("*", "*")]);
    assert!(matches!(
        f.ids.create_account(&user, None),
        Err(IdentityError::AccessDenied(_))
    ));
    // The new account's root manages its own users.
    f.ids.create_user(&other_root, "alice", None).unwrap();
    assert_eq!(
        f.ids.get_user(&other_root, Some("alice")).unwrap().arn,
        "arn:aws:iam::444455556666:user/alice"
    );
}

#[test]
fn a_trust_policy_can_require_an_external_id() {
    let f = Fixture::new();
    let root = f.root();
    let arn = f.role(
        "vendor",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},
            "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-123"}}}]}"#,
    );
    for (external_id, allowed) in [
        (None, false),
        (Some("ext-999"), false),
        (Some("ext-123"), true),
    ] {
        let result = f
            .ids
            .assume_role_with_external_id(&root, &arn, "s1", None, external_id);
        assert_eq!(result.is_ok(), allowed, "{external_id:?}");
    }
    check_err(
        f.ids
            .assume_role_with_external_id(&root, &arn, "s1", None, Some("bad id")),
        "Validation",
        r"1 validation error detected: Value 'bad id' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@:\/-]*",
    );
}

#[test]
fn a_trust_policy_can_be_replaced() {
    let f = Fixture::new();
    let root = f.root();
    let alice = f.user("alice", &[]);
    let arn = f.role("ops", &trust("arn:aws:iam::111122223333:root"));
    assert!(f.ids.assume_role(&alice, &arn, "s1", None).is_err());
    f.ids
        .update_assume_role_policy(&root, "ops", &trust("arn:aws:iam::111122223333:user/alice"))
        .unwrap();
    assert!(f.ids.assume_role(&alice, &arn, "s1", None).is_ok());
    check_err(
        f.ids
            .update_assume_role_policy(&root, "nope", &trust("111122223333")),
        "NoSuchEntity",
        "The role with name nope cannot be found.",
    );
    check_err(
        f.ids.update_assume_role_policy(&root, "ops", "{"),
        "MalformedPolicyDocument",
        "Syntax errors in policy.",
    );
}
