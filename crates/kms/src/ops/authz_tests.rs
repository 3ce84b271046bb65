//! Authorization through the domain: key policies, identity policies,
//! grants, the lockout check, services and cross-account use. Callers are
//! built by hand, as the server builds them from identities.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_crypto::{RootKey, Secret};
use keyward_policy::{Policy, PolicyKind, PrincipalName};
use keyward_store::{SqliteStore, Store};

use keyward_principal::ServicePrincipal;

use crate::KmsOperation;
use crate::*;

const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";

/// Users, roles and accounts that exist, for the principal checks.
struct Directory;

impl PrincipalDirectory for Directory {
    fn exists(&self, name: &PrincipalName) -> bool {
        match name {
            PrincipalName::Arn(arn) => !arn.contains("ghost"),
            _ => true,
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    kms: Kms,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("k.sqlite")).unwrap());
    let snapshot = store.load().unwrap();
    let kms = Kms::open(
        store,
        &snapshot,
        RootKey::generate().unwrap(),
        "us-east-1",
        Arc::new(Clock::new()),
    )
    .unwrap()
    .with_directory(Arc::new(Directory));
    Fixture { _dir: dir, kms }
}

fn identity_policy(json: &str) -> Arc<Policy> {
    Arc::new(Policy::parse(json, PolicyKind::Identity, 10_240).unwrap())
}

fn allow(actions: &str) -> Arc<Policy> {
    identity_policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    ))
}

fn user(account: &str, name: &str, policies: Vec<Arc<Policy>>) -> Caller {
    Caller::user(
        account,
        &format!("arn:aws:iam::{account}:user/{name}"),
        &format!("AIDA{name}"),
        name,
        policies,
    )
    .with_transport(Some("10.0.0.7".parse().unwrap()), true)
}

fn session(account: &str, role: &str, name: &str, policies: Vec<Arc<Policy>>) -> Caller {
    Caller::role_session(
        account,
        &format!("arn:aws:iam::{account}:role/{role}"),
        &format!("arn:aws:sts::{account}:assumed-role/{role}/{name}"),
        &format!("AROA{role}:{name}"),
        policies,
        0,
    )
    .with_transport(None, true)
}

fn ctx(pairs: &[(&str, &str)]) -> Context {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>()
}

fn code<T: std::fmt::Debug>(result: Result<T, KmsError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}")
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

impl Fixture {
    fn key_with_policy(&self, policy: &str) -> KeyMetadata {
        self.kms
            .create_key(
                &Caller::root(ACCOUNT),
                CreateKeyInput {
                    policy: Some(policy.into()),
                    bypass_policy_lockout_safety_check: Some(true),
                    ..Default::default()
                },
            )
            .unwrap()
    }

    fn default_key(&self) -> KeyMetadata {
        self.kms
            .create_key(&Caller::root(ACCOUNT), CreateKeyInput::default())
            .unwrap()
    }

    fn encrypt(
        &self,
        caller: &Caller,
        key: &str,
        context: &[(&str, &str)],
    ) -> Result<Vec<u8>, KmsError> {
        self.kms
            .encrypt(
                caller,
                EncryptInput {
                    key_id: Some(key.into()),
                    plaintext: Some(Secret::new(b"data".to_vec())),
                    encryption_context: Some(ctx(context)),
                    ..Default::default()
                },
            )
            .map(|o| o.ciphertext_blob)
    }

    fn decrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &[(&str, &str)],
    ) -> Result<DecryptOutput, KmsError> {
        self.kms.decrypt(
            caller,
            DecryptInput {
                ciphertext_blob: Some(blob.to_vec()),
                encryption_context: Some(ctx(context)),
                ..Default::default()
            },
        )
    }

    fn generate(
        &self,
        caller: &Caller,
        key: &str,
        context: &[(&str, &str)],
    ) -> Result<GenerateDataKeyOutput, KmsError> {
        self.kms.generate_data_key(
            caller,
            GenerateDataKeyInput {
                key_id: Some(key.into()),
                key_spec: Some("AES_256".into()),
                encryption_context: Some(ctx(context)),
                ..Default::default()
            },
            true,
        )
    }

    fn grant(
        &self,
        caller: &Caller,
        key: &str,
        grantee: &str,
        ops: &[&str],
        constraints: Option<GrantConstraints>,
    ) -> Result<CreateGrantOutput, KmsError> {
        self.kms.create_grant(
            caller,
            CreateGrantInput {
                key_id: Some(key.into()),
                grantee_principal: Some(grantee.into()),
                operations: Some(ops.iter().map(|s| s.to_string()).collect()),
                constraints,
                ..Default::default()
            },
        )
    }
}

#[test]
fn default_policy_delegates_to_identity_policies() {
    let f = fixture();
    let key = f.default_key();
    // Root: allowed by the account statement.
    assert!(f.encrypt(&Caller::root(ACCOUNT), &key.key_id, &[]).is_ok());
    // A user with no policy: the key policy lets the account decide, IAM says nothing.
    let nobody = user(ACCOUNT, "nobody", vec![]);
    let error = f.encrypt(&nobody, &key.key_id, &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: kms:Encrypt on resource: {} because no identity-based policy allows the kms:Encrypt action", key.arn)
    );
    // With an identity policy allowing Encrypt only.
    let alice = user(ACCOUNT, "alice", vec![allow(r#""kms:Encrypt""#)]);
    let blob = f.encrypt(&alice, &key.key_id, &[]).unwrap();
    assert_eq!(code(f.decrypt(&alice, &blob, &[])), "AccessDenied");
    // Wildcards in the identity policy.
    let bob = user(
        ACCOUNT,
        "bob",
        vec![allow(r#"["kms:De*", "kms:Describe*"]"#)],
    );
    assert_eq!(code(f.decrypt(&bob, &blob, &[])), "ok");
    assert_eq!(
        code(f.kms.describe_key(&bob, Some(key.key_id.clone()), None)),
        "ok"
    );
    assert_eq!(
        code(f.kms.disable_key(&bob, Some(key.key_id.clone()))),
        "AccessDenied"
    );
}

#[test]
fn a_key_policy_naming_a_user_needs_no_identity_policy_and_deny_wins() {
    let f = fixture();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/carol"}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}},
        {{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:tier":"secret"}}}}}}]}}"#
    );
    let key = f.key_with_policy(&policy);
    let carol = user(ACCOUNT, "carol", vec![]);
    let blob = f.encrypt(&carol, &key.arn, &[("tier", "public")]).unwrap();
    assert_eq!(code(f.decrypt(&carol, &blob, &[("tier", "public")])), "ok");
    let secret = f.encrypt(&carol, &key.arn, &[("tier", "secret")]).unwrap();
    let denied = f
        .decrypt(&carol, &secret, &[("tier", "secret")])
        .unwrap_err();
    assert!(
        denied
            .to_string()
            .ends_with("with an explicit deny in a resource-based policy"),
        "{denied}"
    );
    // The account is not named, so identity policies do not count, even for others.
    let dave = user(ACCOUNT, "dave", vec![allow(r#""kms:*""#)]);
    let error = f.encrypt(&dave, &key.arn, &[]).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("because no resource-based policy allows the kms:Encrypt action"),
        "{error}"
    );
    // Not even root: this policy does not name the account.
    assert_eq!(
        code(f.encrypt(&Caller::root(ACCOUNT), &key.arn, &[])),
        "AccessDenied"
    );
    // An identity-policy deny wins over the key policy's allow.
    let deny = identity_policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}}"#,
    );
    let carol_denied = user(ACCOUNT, "carol", vec![deny]);
    let error = f.encrypt(&carol_denied, &key.arn, &[]).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("with an explicit deny in an identity-based policy"),
        "{error}"
    );
}

#[test]
fn role_sessions_match_by_role_and_condition_keys_have_kms_values() {
    let f = fixture();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/operator"}},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
          "Condition":{{"StringEquals":{{"kms:EncryptionContext:applicationId":"app-1","kms:CallerAccount":"{ACCOUNT}","kms:KeySpec":"SYMMETRIC_DEFAULT","kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT","aws:PrincipalArn":"arn:aws:iam::{ACCOUNT}:role/operator","aws:PrincipalType":"AssumedRole"}},
                         "Bool":{{"aws:SecureTransport":"true"}},
                         "ForAllValues:StringEquals":{{"kms:EncryptionContextKeys":["applicationId"]}}}}}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let key = f.key_with_policy(&policy);
    let operator = session(ACCOUNT, "operator", "ci", vec![]);
    let made = f
        .generate(&operator, &key.key_id, &[("applicationId", "app-1")])
        .unwrap();
    assert_eq!(
        code(f.decrypt(
            &operator,
            &made.ciphertext_blob,
            &[("applicationId", "app-1")]
        )),
        "ok"
    );
    // Another context value, an extra context key, no context: no statement allows.
    assert_eq!(
        code(f.generate(&operator, &key.key_id, &[("applicationId", "app-2")])),
        "AccessDenied"
    );
    assert_eq!(
        code(f.generate(
            &operator,
            &key.key_id,
            &[("applicationId", "app-1"), ("x", "y")]
        )),
        "AccessDenied"
    );
    assert_eq!(
        code(f.generate(&operator, &key.key_id, &[])),
        "AccessDenied"
    );
    // Another role's session is not the operator.
    let other = session(ACCOUNT, "auditor", "ci", vec![]);
    assert_eq!(
        code(f.generate(&other, &key.key_id, &[("applicationId", "app-1")])),
        "AccessDenied"
    );
    // Over plain HTTP, aws:SecureTransport is false.
    let plain = session(ACCOUNT, "operator", "ci", vec![]).with_transport(None, false);
    assert_eq!(
        code(f.generate(&plain, &key.key_id, &[("applicationId", "app-1")])),
        "AccessDenied"
    );
}

#[test]
fn request_alias_and_resource_tags_are_condition_keys() {
    let f = fixture();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/erin"}},"Action":"kms:Encrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:RequestAlias":"alias/app"}}}}}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/erin"}},"Action":"kms:DescribeKey","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceTag/team":"blue"}},"ForAnyValue:StringEquals":{{"kms:ResourceAliases":"alias/app"}}}}}}]}}"#
    );
    let key = f.key_with_policy(&policy);
    let root = Caller::root(ACCOUNT);
    f.kms
        .create_alias(&root, Some("alias/app".into()), Some(key.key_id.clone()))
        .unwrap();
    let erin = user(ACCOUNT, "erin", vec![]);
    assert_eq!(code(f.encrypt(&erin, "alias/app", &[])), "ok");
    assert_eq!(code(f.encrypt(&erin, &key.key_id, &[])), "AccessDenied");
    assert_eq!(
        code(f.kms.describe_key(&erin, Some(key.key_id.clone()), None)),
        "AccessDenied"
    );
    f.kms
        .tag_resource(
            &root,
            Some(key.key_id.clone()),
            Some(vec![Tag {
                key: Some("team".into()),
                value: Some("blue".into()),
            }]),
        )
        .unwrap();
    assert_eq!(
        code(f.kms.describe_key(&erin, Some(key.key_id.clone()), None)),
        "ok"
    );
}

#[test]
fn lockout_safety_check_and_principal_existence() {
    let f = fixture();
    let root = Caller::root(ACCOUNT);
    let key = f.default_key();
    let locks_out = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    let error = f
        .kms
        .put_key_policy(
            &root,
            Some(key.key_id.clone()),
            None,
            Some(locks_out.clone()),
            None,
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "The new key policy will not allow you to update the key policy in the future."
    );
    assert_eq!(
        code(f.kms.create_key(
            &root,
            CreateKeyInput {
                policy: Some(locks_out.clone()),
                ..Default::default()
            }
        )),
        "MalformedPolicyDocument"
    );
    // Bypassing works, and then root is locked out for real.
    f.kms
        .put_key_policy(
            &root,
            Some(key.key_id.clone()),
            None,
            Some(locks_out),
            Some(true),
        )
        .unwrap();
    assert_eq!(
        code(f.kms.get_key_policy(&root, Some(key.key_id.clone()), None)),
        "AccessDenied"
    );
    // A user whose IAM allows PutKeyPolicy passes the check with a policy that delegates to the account…
    let admin = user(ACCOUNT, "admin", vec![allow(r#""kms:*""#)]);
    let key2 = f.default_key();
    let delegating = kms_default_policy_text();
    assert_eq!(
        code(f.kms.put_key_policy(
            &admin,
            Some(key2.key_id.clone()),
            None,
            Some(delegating),
            None
        )),
        "ok"
    );
    // …and one without PutKeyPolicy in IAM does not.
    let limited = user(ACCOUNT, "limited", vec![allow(r#"["kms:PutKeyPolicy"]"#)]);
    let key3 = f.default_key();
    let denies_limited = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},{{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/limited"}},"Action":"kms:PutKeyPolicy","Resource":"*"}}]}}"#
    );
    assert_eq!(
        code(f.kms.put_key_policy(
            &limited,
            Some(key3.key_id.clone()),
            None,
            Some(denies_limited),
            None
        )),
        "MalformedPolicyDocument"
    );
    // A principal that does not exist.
    let ghost = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/ghost"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let error = f
        .kms
        .create_key(
            &root,
            CreateKeyInput {
                policy: Some(ghost),
                bypass_policy_lockout_safety_check: Some(true),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Policy contains a statement with one or more invalid principals."
    );
    // Malformed documents say what is wrong.
    let error = f
        .kms
        .create_key(
            &root,
            CreateKeyInput {
                policy: Some(r#"{"Statement":[{"Effect":"Perhaps"}]}"#.into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(code::<()>(Err(error)), "MalformedPolicyDocument");
}

fn kms_default_policy_text() -> String {
    default_key_policy(ACCOUNT)
}

#[test]
fn identity_only_actions() {
    let f = fixture();
    let nobody = user(ACCOUNT, "nobody", vec![]);
    let error = f
        .kms
        .create_key(&nobody, CreateKeyInput::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: kms:CreateKey because no identity-based policy allows the kms:CreateKey action")
    );
    assert_eq!(
        code(f.kms.list_keys(&nobody, PageRequest::default())),
        "AccessDenied"
    );
    assert_eq!(
        code(f.kms.generate_random(&nobody, Some(8), None, false)),
        "AccessDenied"
    );
    let creator = user(
        ACCOUNT,
        "creator",
        vec![allow(
            r#"["kms:CreateKey","kms:ListKeys","kms:GenerateRandom"]"#,
        )],
    );
    assert_eq!(
        code(f.kms.create_key(&creator, CreateKeyInput::default())),
        "ok"
    );
    assert_eq!(
        code(f.kms.list_keys(&creator, PageRequest::default())),
        "ok"
    );
    assert_eq!(
        code(f.kms.generate_random(&creator, Some(8), None, false)),
        "ok"
    );
    // Tag conditions on CreateKey: aws:RequestTag.
    let tagged_only = identity_policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"blue"}}}}"#,
    );
    let abac = user(ACCOUNT, "abac", vec![tagged_only]);
    assert_eq!(
        code(f.kms.create_key(&abac, CreateKeyInput::default())),
        "AccessDenied"
    );
    let tags = vec![Tag {
        key: Some("team".into()),
        value: Some("blue".into()),
    }];
    assert_eq!(
        code(f.kms.create_key(
            &abac,
            CreateKeyInput {
                tags: Some(tags),
                ..Default::default()
            }
        )),
        "ok"
    );
}

#[test]
fn cross_account_needs_both_policies() {
    let f = fixture();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER}:root"}},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}}]}}"#
    );
    let key = f.key_with_policy(&policy);
    // Root of the other account: its identity is implicitly allowed.
    let other_root = Caller::root(OTHER);
    let blob = f.encrypt(&other_root, &key.arn, &[]).unwrap();
    assert_eq!(code(f.decrypt(&other_root, &blob, &[])), "ok");
    // A bare key ID is looked up in the caller's own account.
    assert_eq!(code(f.encrypt(&other_root, &key.key_id, &[])), "NotFound");
    // A user there needs an IAM policy in its own account too.
    let bare = user(OTHER, "frank", vec![]);
    let error = f.encrypt(&bare, &key.arn, &[]).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("because no identity-based policy allows the kms:Encrypt action"),
        "{error}"
    );
    let frank = user(OTHER, "frank", vec![allow(r#""kms:Encrypt""#)]);
    assert_eq!(code(f.encrypt(&frank, &key.arn, &[])), "ok");
    // Actions the key policy does not open to the other account.
    assert_eq!(code(f.generate(&other_root, &key.arn, &[])), "AccessDenied");
    // A third account is not named.
    assert_eq!(
        code(f.encrypt(&Caller::root("777788889999"), &key.arn, &[])),
        "AccessDenied"
    );
}

#[test]
fn services_as_themselves_and_for_a_caller() {
    let f = fixture();
    // The seed 002 key policy statement, verbatim but for its placeholders.
    let app = format!("arn:aws:emr-serverless:us-east-1:{ACCOUNT}:/applications/app-1");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{ "Effect": "Allow", "Principal":{{ "Service": "emr-serverless.amazonaws.com" }}, "Action": [ "kms:Decrypt", "kms:GenerateDataKey" ], "Resource": "*", "Condition": {{ "StringLike": {{ "aws:SourceArn": "{app}" }}, "StringEquals": {{ "kms:EncryptionContext:applicationId": "app-1", "aws:SourceAccount": "{ACCOUNT}" }} }} }},
        {{ "Sid": "Enable GDK and Decrypt", "Effect": "Allow", "Principal":{{ "AWS": "arn:aws:iam::{ACCOUNT}:user/user-name" }}, "Action": [ "kms:GenerateDataKey", "kms:Decrypt" ], "Resource": "*", "Condition": {{ "StringEquals": {{ "kms:ViaService": "emr-serverless.us-east-1.amazonaws.com", "kms:EncryptionContext:key": "value" }} }} }}]}}"#
    );
    let key = f.key_with_policy(&policy);
    let service = Caller::service(
        ServicePrincipal::new("emr-serverless.amazonaws.com"),
        ACCOUNT,
        Some(&app),
    );
    assert_eq!(
        code(f.generate(&service, &key.arn, &[("applicationId", "app-1")])),
        "ok"
    );
    // Each variation is refused.
    assert_eq!(
        code(f.generate(&service, &key.arn, &[("applicationId", "app-2")])),
        "AccessDenied"
    );
    let other_app = Caller::service(
        ServicePrincipal::new("emr-serverless.amazonaws.com"),
        ACCOUNT,
        Some("arn:aws:emr-serverless:us-east-1:111122223333:/applications/app-9"),
    );
    assert_eq!(
        code(f.generate(&other_app, &key.arn, &[("applicationId", "app-1")])),
        "AccessDenied"
    );
    let other_service = Caller::service(
        ServicePrincipal::new("glue.amazonaws.com"),
        ACCOUNT,
        Some(&app),
    );
    assert_eq!(
        code(f.generate(&other_service, &key.arn, &[("applicationId", "app-1")])),
        "AccessDenied"
    );
    assert_eq!(
        code(f.encrypt(&service, &key.arn, &[("applicationId", "app-1")])),
        "AccessDenied"
    );
    // The user, only through the service (kms:ViaService).
    let direct = user(ACCOUNT, "user-name", vec![]);
    assert_eq!(
        code(f.generate(&direct, &key.arn, &[("key", "value")])),
        "AccessDenied"
    );
    let via = user(ACCOUNT, "user-name", vec![]).via_service(
        ServicePrincipal::new("emr-serverless.amazonaws.com"),
        Some(&app),
    );
    assert_eq!(code(f.generate(&via, &key.arn, &[("key", "value")])), "ok");
    assert_eq!(
        code(f.generate(&via, &key.arn, &[("key", "other")])),
        "AccessDenied"
    );
}

#[test]
fn a_decrypt_grant_with_a_subset_constraint() {
    // The seed 003 flow: a grant for Decrypt only, constrained by context.
    let f = fixture();
    let root = Caller::root(ACCOUNT);
    let key = f.default_key();
    let worker = user(ACCOUNT, "worker", vec![]);
    let constraint = GrantConstraints {
        encryption_context_subset: Some(ctx(&[("aws:ecs:clusterAccount", ACCOUNT)])),
        encryption_context_equals: None,
    };
    let grant = f
        .grant(
            &root,
            &key.arn,
            worker.principal_arn(),
            &["Decrypt"],
            Some(constraint),
        )
        .unwrap();
    assert_eq!(grant.grant_id.len(), 64);
    // What the trail logs for RetireGrant by token: the grant and its key.
    assert_eq!(
        f.kms.grant_named_by_token(&grant.grant_token),
        Some((grant.grant_id.clone(), key.arn.clone()))
    );
    let superset = [
        ("aws:ecs:clusterAccount", ACCOUNT),
        ("aws:ecs:clusterName", "c1"),
    ];
    let blob = f.encrypt(&root, &key.key_id, &superset).unwrap();
    assert_eq!(code(f.decrypt(&worker, &blob, &superset)), "ok");
    let other_blob = f
        .encrypt(&root, &key.key_id, &[("aws:ecs:clusterAccount", OTHER)])
        .unwrap();
    assert_eq!(
        code(f.decrypt(&worker, &other_blob, &[("aws:ecs:clusterAccount", OTHER)])),
        "AccessDenied"
    );
    assert_eq!(
        code(f.encrypt(&worker, &key.key_id, &superset)),
        "AccessDenied"
    );
    // Listed, then retired by the account: denied again.
    let listed = f
        .kms
        .list_grants(
            &root,
            Some(key.key_id.clone()),
            None,
            None,
            PageRequest::default(),
        )
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].operations, vec!["Decrypt".to_string()]);
    assert_eq!(
        listed.items[0].issuing_account,
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    f.kms
        .retire_grant(
            &root,
            RetireGrantInput {
                grant_token: Some(grant.grant_token),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(code(f.decrypt(&worker, &blob, &superset)), "AccessDenied");
}

#[test]
fn grant_rules_tokens_idempotency_and_narrowing() {
    let f = fixture();
    let root = Caller::root(ACCOUNT);
    let key = f.default_key();
    let delegate = user(ACCOUNT, "delegate", vec![]);
    let third = format!("arn:aws:iam::{ACCOUNT}:user/third");
    // Name makes a retry return the same grant with a new token.
    let named = |name: &str, ops: &[&str]| CreateGrantInput {
        key_id: Some(key.key_id.clone()),
        grantee_principal: Some(delegate.principal_arn().to_string()),
        operations: Some(ops.iter().map(|s| s.to_string()).collect()),
        constraints: Some(GrantConstraints {
            encryption_context_subset: Some(ctx(&[("app", "a")])),
            encryption_context_equals: None,
        }),
        name: Some(name.into()),
        ..Default::default()
    };
    let first = f
        .kms
        .create_grant(
            &root,
            named("g", &["CreateGrant", "Decrypt", "RetireGrant"]),
        )
        .unwrap();
    let again = f
        .kms
        .create_grant(
            &root,
            named("g", &["Decrypt", "CreateGrant", "RetireGrant"]),
        )
        .unwrap();
    assert_eq!(first.grant_id, again.grant_id);
    assert_ne!(first.grant_token, again.grant_token);
    // The grantee may issue narrower grants only.
    let narrower = GrantConstraints {
        encryption_context_subset: Some(ctx(&[("app", "a"), ("env", "prod")])),
        encryption_context_equals: None,
    };
    assert_eq!(
        code(f.grant(&delegate, &key.key_id, &third, &["Decrypt"], Some(narrower))),
        "ok"
    );
    assert_eq!(
        code(f.grant(&delegate, &key.key_id, &third, &["Decrypt"], None)),
        "AccessDenied"
    );
    assert_eq!(
        code(f.grant(
            &delegate,
            &key.key_id,
            &third,
            &["Encrypt"],
            Some(GrantConstraints {
                encryption_context_subset: Some(ctx(&[("app", "a")])),
                encryption_context_equals: None
            })
        )),
        "AccessDenied"
    );
    // Validation: unknown operation, empty list, asymmetric-only operation, nonexistent grantee.
    assert_eq!(
        code(f.grant(&root, &key.key_id, &third, &["Dance"], None)),
        "Validation"
    );
    assert_eq!(
        code(f.grant(&root, &key.key_id, &third, &[], None)),
        "ValidationMessage"
    );
    assert_eq!(
        code(f.grant(&root, &key.key_id, &third, &["Sign"], None)),
        "ValidationMessage"
    );
    assert_eq!(
        code(f.grant(
            &root,
            &key.key_id,
            &format!("arn:aws:iam::{ACCOUNT}:user/ghost"),
            &["Decrypt"],
            None
        )),
        "InvalidArn"
    );
    // Bad grant tokens are refused wherever they are accepted.
    let bad = EncryptInput {
        key_id: Some(key.key_id.clone()),
        plaintext: Some(Secret::new(b"x".to_vec())),
        grant_tokens: Some(vec!["not-a-token".into()]),
        ..Default::default()
    };
    assert_eq!(code(f.kms.encrypt(&root, bad)), "InvalidGrantToken");
    // The grantee retires its own grant (it includes RetireGrant); a stranger may not.
    let stranger = user(ACCOUNT, "stranger", vec![]);
    assert_eq!(
        code(f.kms.retire_grant(
            &stranger,
            RetireGrantInput {
                key_id: Some(key.arn.clone()),
                grant_id: Some(first.grant_id.clone()),
                ..Default::default()
            }
        )),
        "AccessDenied"
    );
    assert_eq!(
        code(f.kms.retire_grant(
            &delegate,
            RetireGrantInput {
                key_id: Some(key.arn.clone()),
                grant_id: Some(first.grant_id.clone()),
                dry_run: Some(true),
                ..Default::default()
            }
        )),
        "DryRun"
    );
    f.kms
        .retire_grant(
            &delegate,
            RetireGrantInput {
                key_id: Some(key.arn.clone()),
                grant_id: Some(first.grant_id.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    // Revoke needs kms:RevokeGrant; root has it.
    let g = f
        .grant(&root, &key.key_id, &third, &["Decrypt"], None)
        .unwrap();
    assert_eq!(
        code(f.kms.revoke_grant(
            &stranger,
            Some(key.key_id.clone()),
            Some(g.grant_id.clone()),
            None
        )),
        "AccessDenied"
    );
    assert_eq!(
        code(f.kms.revoke_grant(
            &root,
            Some(key.key_id.clone()),
            Some(g.grant_id.clone()),
            Some(true)
        )),
        "DryRun"
    );
    f.kms
        .revoke_grant(
            &root,
            Some(key.key_id.clone()),
            Some(g.grant_id.clone()),
            None,
        )
        .unwrap();
    assert_eq!(
        code(
            f.kms
                .revoke_grant(&root, Some(key.key_id.clone()), Some(g.grant_id), None)
        ),
        "NotFound"
    );
    assert_eq!(
        code(
            f.kms
                .revoke_grant(&root, Some(key.key_id.clone()), Some("zz".into()), None)
        ),
        "InvalidGrantId"
    );
}

#[test]
fn list_retirable_grants_and_paging() {
    let f = fixture();
    let root = Caller::root(ACCOUNT);
    let key = f.default_key();
    let retiring = format!("arn:aws:iam::{ACCOUNT}:role/retirer");
    for i in 0..5 {
        f.kms
            .create_grant(
                &root,
                CreateGrantInput {
                    key_id: Some(key.key_id.clone()),
                    grantee_principal: Some(format!("arn:aws:iam::{ACCOUNT}:user/u{i}")),
                    retiring_principal: (i % 2 == 0).then(|| retiring.clone()),
                    operations: Some(vec!["Decrypt".into()]),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let retirable = f
        .kms
        .list_retirable_grants(&root, Some(retiring.clone()), PageRequest::default())
        .unwrap();
    assert_eq!(retirable.items.len(), 3);
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = f
            .kms
            .list_grants(
                &root,
                Some(key.key_id.clone()),
                None,
                None,
                PageRequest {
                    limit: Some(2),
                    marker: marker.clone(),
                },
            )
            .unwrap();
        seen.extend(page.items.into_iter().map(|g| g.grant_id));
        marker = page.next_marker;
        if marker.is_none() {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
    // The retiring principal (a role's session) may retire.
    let retirer = session(ACCOUNT, "retirer", "s", vec![]);
    let id = retirable.items[0].grant_id.clone();
    assert_eq!(
        code(f.kms.retire_grant(
            &retirer,
            RetireGrantInput {
                key_id: Some(key.arn.clone()),
                grant_id: Some(id),
                ..Default::default()
            }
        )),
        "ok"
    );
}

#[test]
fn grants_survive_a_restart_and_go_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite");
    let root_key = RootKey::generate().unwrap();
    let clock = Arc::new(Clock::new());
    let open = || {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let snapshot = store.load().unwrap();
        Kms::open(
            store,
            &snapshot,
            root_key.clone(),
            "us-east-1",
            Arc::clone(&clock),
        )
        .unwrap()
    };
    let root = Caller::root(ACCOUNT);
    let worker = user(ACCOUNT, "worker", vec![]);
    let (key, blob) = {
        let kms = open();
        let key = kms.create_key(&root, CreateKeyInput::default()).unwrap();
        kms.create_grant(
            &root,
            CreateGrantInput {
                key_id: Some(key.key_id.clone()),
                grantee_principal: Some(worker.principal_arn().to_string()),
                operations: Some(vec!["Decrypt".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        let blob = kms
            .encrypt(
                &root,
                EncryptInput {
                    key_id: Some(key.key_id.clone()),
                    plaintext: Some(Secret::new(b"x".to_vec())),
                    ..Default::default()
                },
            )
            .unwrap()
            .ciphertext_blob;
        (key, blob)
    };
    let kms = open();
    assert!(kms
        .decrypt(
            &worker,
            DecryptInput {
                ciphertext_blob: Some(blob),
                ..Default::default()
            }
        )
        .is_ok());
    kms.schedule_key_deletion(&root, Some(key.key_id.clone()), Some(7))
        .unwrap();
    clock.advance_ms(8 * DAY_MS);
    kms.run_due_work().unwrap();
    let kms = open();
    assert!(kms
        .list_retirable_grants(
            &root,
            Some(worker.principal_arn().to_string()),
            PageRequest::default()
        )
        .unwrap()
        .items
        .is_empty());
    assert!(kms.read().grants.is_empty());
}

#[test]
fn dry_run_answers_only_for_callers_who_would_be_allowed() {
    let f = fixture();
    let key = f.default_key();
    let nobody = user(ACCOUNT, "nobody", vec![]);
    let dry = |caller: &Caller| {
        f.kms.encrypt(
            caller,
            EncryptInput {
                key_id: Some(key.key_id.clone()),
                plaintext: Some(Secret::new(b"x".to_vec())),
                dry_run: Some(true),
                ..Default::default()
            },
        )
    };
    assert_eq!(code(dry(&nobody)), "AccessDenied");
    assert_eq!(code(dry(&Caller::root(ACCOUNT))), "DryRun");
}

/// One row per condition key: an identity policy allowing everything only
/// under one condition, and two requests — one that satisfies it, one that
/// does not. A key whose value KMS got wrong fails its row.
#[test]
fn every_condition_key_carries_the_value_kms_gives_it() {
    let fixture = fixture();
    let f = &fixture;
    let root = Caller::root(ACCOUNT);
    type Op<'a> = Box<dyn Fn(&Caller, &KeyMetadata) -> Result<(), KmsError> + 'a>;
    let schedule = |days: i64| -> Op<'_> {
        Box::new(move |c: &Caller, k: &KeyMetadata| {
            f.kms
                .schedule_key_deletion(c, Some(k.key_id.clone()), Some(days))
                .map(|_| ())
        })
    };
    let rotate = |days: i64| -> Op<'_> {
        Box::new(move |c: &Caller, k: &KeyMetadata| {
            f.kms
                .enable_key_rotation(c, Some(k.key_id.clone()), Some(days))
        })
    };
    let grant_retired_by = |ops: &'static [&'static str],
                            grantee: &'static str,
                            constraint: Option<(&'static str, &'static str)>,
                            retiring: Option<&'static str>|
     -> Op<'_> {
        Box::new(move |c: &Caller, k: &KeyMetadata| {
            f.kms
                .create_grant(
                    c,
                    CreateGrantInput {
                        key_id: Some(k.key_id.clone()),
                        grantee_principal: Some(grantee.into()),
                        retiring_principal: retiring.map(str::to_string),
                        operations: Some(ops.iter().map(|s| s.to_string()).collect()),
                        constraints: constraint.map(|(k, v)| GrantConstraints {
                            encryption_context_subset: Some(ctx(&[(k, v)])),
                            encryption_context_equals: None,
                        }),
                        ..Default::default()
                    },
                )
                .map(|_| ())
        })
    };
    let grant = |ops: &'static [&'static str],
                 grantee: &'static str,
                 constraint: Option<(&'static str, &'static str)>|
     -> Op<'_> {
        grant_retired_by(ops, grantee, constraint, Some("ec2.amazonaws.com"))
    };
    let encrypt_with = |context: &'static [(&'static str, &'static str)]| -> Op<'_> {
        Box::new(move |c: &Caller, k: &KeyMetadata| f.encrypt(c, &k.key_id, context).map(|_| ()))
    };
    let put_policy = |bypass: bool| -> Op<'_> {
        Box::new(move |c: &Caller, k: &KeyMetadata| {
            f.kms.put_key_policy(
                c,
                Some(k.key_id.clone()),
                None,
                Some(default_key_policy(ACCOUNT)),
                Some(bypass),
            )
        })
    };
    let tag = |key: &'static str| -> Op<'_> {
        Box::new(move |c: &Caller, k: &KeyMetadata| {
            f.kms.tag_resource(
                c,
                Some(k.key_id.clone()),
                Some(vec![Tag {
                    key: Some(key.into()),
                    value: Some("v".into()),
                }]),
            )
        })
    };
    let rows: Vec<(&str, Op, Op)> = vec![
        (
            r#"{"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"10"}}"#,
            schedule(7),
            schedule(30),
        ),
        (
            r#"{"NumericGreaterThanEquals":{"kms:RotationPeriodInDays":"180"}}"#,
            rotate(365),
            rotate(90),
        ),
        (
            r#"{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]}}"#,
            grant(&["Decrypt"], "a.amazonaws.com", None),
            grant(&["Decrypt", "ReEncryptFrom"], "a.amazonaws.com", None),
        ),
        (
            r#"{"StringLike":{"kms:GranteePrincipal":"*.amazonaws.com"}}"#,
            grant(&["Decrypt"], "a.amazonaws.com", None),
            grant(&["Decrypt"], "arn:aws:iam::111122223333:user/x", None),
        ),
        (
            r#"{"StringEquals":{"kms:RetiringPrincipal":"ec2.amazonaws.com"}}"#,
            grant(&["Decrypt"], "a.amazonaws.com", None),
            grant_retired_by(
                &["Decrypt"],
                "a.amazonaws.com",
                None,
                Some("s3.amazonaws.com"),
            ),
        ),
        (
            r#"{"StringEquals":{"kms:GrantConstraintType":"EncryptionContextSubset"}}"#,
            grant(&["Decrypt"], "a.amazonaws.com", Some(("app", "a"))),
            grant(&["Decrypt"], "a.amazonaws.com", None),
        ),
        (
            r#"{"StringEquals":{"kms:EncryptionContext:Project":"alpha"}}"#,
            encrypt_with(&[("project", "alpha")]),
            encrypt_with(&[("project", "beta")]),
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"tenant"}}"#,
            encrypt_with(&[("tenant", "t")]),
            encrypt_with(&[("other", "t")]),
        ),
        (
            r#"{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}"#,
            put_policy(false),
            put_policy(true),
        ),
        (
            r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":"secret*"}}"#,
            tag("team"),
            tag("secret-tag"),
        ),
    ];
    for (i, (condition, allowed, refused)) in rows.iter().enumerate() {
        let policy = identity_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{condition}}}]}}"#
        ));
        let caller = user(ACCOUNT, "conditioned", vec![policy]);
        let key = f.default_key();
        assert_eq!(
            code(allowed(&caller, &key)),
            "ok",
            "row {i} ({condition}) should allow"
        );
        let key = f.default_key();
        assert_eq!(
            code(refused(&caller, &key)),
            "AccessDenied",
            "row {i} ({condition}) should refuse"
        );
    }
    // kms:GrantIsForAWSResource is true only when a service calls for the caller.
    let policy = identity_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}"#,
    );
    let key = f.default_key();
    let direct = user(ACCOUNT, "conditioned", vec![policy]);
    let through_ebs = direct
        .clone()
        .via_service(ServicePrincipal::new("ec2.amazonaws.com"), None);
    assert_eq!(
        code(grant(&["Decrypt"], "a.amazonaws.com", None)(&direct, &key)),
        "AccessDenied"
    );
    assert_eq!(
        code(grant(&["Decrypt"], "a.amazonaws.com", None)(
            &through_ebs,
            &key
        )),
        "ok"
    );
    let _ = root;
}

#[test]
fn global_condition_keys_carry_the_callers_facts() {
    let f = fixture();
    let key = f.default_key();
    let rows: Vec<(&str, bool)> = vec![
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, true),
        (r#"{"IpAddress":{"aws:SourceIp":"192.168.0.0/16"}}"#, false),
        (r#"{"StringEquals":{"aws:username":"gina"}}"#, true),
        (r#"{"StringEquals":{"aws:userid":"AIDAgina"}}"#, true),
        (
            r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
            true,
        ),
        (r#"{"StringEquals":{"aws:PrincipalType":"User"}}"#, true),
        (
            r#"{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}"#,
            false,
        ),
        (
            r#"{"StringEquals":{"kms:CallerAccount":"444455556666"}}"#,
            false,
        ),
        (
            r#"{"StringEquals":{"kms:KeyOrigin":"AWS_KMS","kms:KeyUsage":"ENCRYPT_DECRYPT","kms:KeySpec":"SYMMETRIC_DEFAULT"}}"#,
            true,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            true,
        ),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            false,
        ),
        (r#"{"Bool":{"aws:SecureTransport":"false"}}"#, false),
        (r#"{"Null":{"kms:ViaService":"true"}}"#, true),
        (
            r#"{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#,
            true,
        ),
    ];
    for (i, (condition, expected)) in rows.iter().enumerate() {
        let policy = identity_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{condition}}}]}}"#
        ));
        let gina = user(ACCOUNT, "gina", vec![policy]);
        let outcome = code(f.encrypt(&gina, &key.key_id, &[]));
        assert_eq!(
            outcome == "ok",
            *expected,
            "row {i}: {condition} gave {outcome}"
        );
    }
}

#[test]
#[ignore = "timing probe, run by hand with --release --ignored"]
fn authz_cost_probe() {
    let f = fixture();
    let key = f.default_key();
    let root = Caller::root(ACCOUNT);
    let n = 200_000;
    let started = std::time::Instant::now();
    for _ in 0..n {
        f.generate(
            &root,
            &key.key_id,
            &[("purpose", "bench"), ("tenant", "acme")],
        )
        .unwrap();
    }
    let per = started.elapsed() / n;
    let k = f.kms.read().keys.get(&key.key_id).cloned().unwrap();
    let ask = crate::authz::Ask::new(KmsOperation::GenerateDataKey)
        .with_encryption_context(Some(&ctx(&[("purpose", "bench"), ("tenant", "acme")])));
    let started = std::time::Instant::now();
    for _ in 0..n {
        f.kms.authorize(&root, &k, &ask).unwrap();
    }
    let auth = started.elapsed() / n;
    println!("GenerateDataKey in the domain: {per:?} per call; authorize alone: {auth:?}");
}
