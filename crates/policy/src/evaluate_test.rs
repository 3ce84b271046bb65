//! Evaluation tables for the statement elements: Effect, Action, Resource,
//! Principal and their `Not` forms, several statements, and policy variables
//! in `Resource`. Condition operators have their own tables in
//! `condition_test.rs`. Every row goes through `check`.

use crate::check::{
    alice, check, decrypt_by, root, service, session, user, ACCOUNT, KEY_ARN, OTHER_ACCOUNT,
};
use crate::{combine, Decision, RequestContext, RequestPrincipal, StatementRef, Verdict};

/// The default key policy that AWS KMS attaches (reference/kms-api.md §8.1).
const DEFAULT_KEY_POLICY: &str = r#"{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"#;

#[test]
fn effect_and_basic_matching() {
    let allow_decrypt = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#;
    check(allow_decrypt, alice("kms:Decrypt"), "allow 0");
    check(allow_decrypt, alice("kms:Encrypt"), "none");
    let deny_decrypt = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}}"#;
    check(deny_decrypt, alice("kms:Decrypt"), "deny 0");
    check(deny_decrypt, alice("kms:Encrypt"), "none");
    // A statement given as a one-element list behaves the same.
    check(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#,
        alice("kms:Decrypt"),
        "allow 0",
    );
}

#[test]
fn the_default_key_policy_allows_the_whole_account() {
    check(DEFAULT_KEY_POLICY, alice("kms:Decrypt"), "allow 0");
    check(DEFAULT_KEY_POLICY, alice("kms:PutKeyPolicy"), "allow 0");
    check(DEFAULT_KEY_POLICY, decrypt_by(root(ACCOUNT)), "allow 0");
    check(
        DEFAULT_KEY_POLICY,
        decrypt_by(session(ACCOUNT, "Operator", "s1")),
        "allow 0",
    );
    check(
        DEFAULT_KEY_POLICY,
        decrypt_by(user(OTHER_ACCOUNT, "alice")),
        "none",
    );
    check(
        DEFAULT_KEY_POLICY,
        decrypt_by(service("kms.amazonaws.com")),
        "none",
    );
    check(
        DEFAULT_KEY_POLICY,
        decrypt_by(RequestPrincipal::Anonymous),
        "none",
    );
    // `kms:*` covers KMS actions only.
    check(DEFAULT_KEY_POLICY, alice("s3:GetObject"), "none");
}

#[test]
fn explicit_deny_wins_whatever_the_order() {
    let allow_then_deny = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"kms:*","Resource":"*"},
        {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#;
    check(allow_then_deny, alice("kms:Decrypt"), "deny 1");
    check(allow_then_deny, alice("kms:Encrypt"), "allow 0");
    let deny_then_allow = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"},
        {"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    check(deny_then_allow, alice("kms:Decrypt"), "deny 0");
    check(deny_then_allow, alice("kms:Encrypt"), "allow 1");
    // The first applicable statement of the winning effect is reported.
    let two_allows_two_denies = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"},
        {"Effect":"Allow","Action":"kms:*","Resource":"*"},
        {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},
        {"Effect":"Deny","Action":"kms:Sign","Resource":"*"},
        {"Effect":"Deny","Action":"kms:S*","Resource":"*"}]}"#;
    check(two_allows_two_denies, alice("kms:Decrypt"), "allow 1");
    check(two_allows_two_denies, alice("kms:Encrypt"), "allow 0");
    check(two_allows_two_denies, alice("kms:Sign"), "deny 3");
    check(
        two_allows_two_denies,
        alice("kms:ScheduleKeyDeletion"),
        "deny 4",
    );
    check(two_allows_two_denies, alice("iam:GetUser"), "none");
}

#[test]
fn actions_are_case_insensitive_wildcard_patterns() {
    let policy = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":{action},"Resource":"*"}}}}"#
        )
    };
    check(&policy(r#""KMS:decrypt""#), alice("kms:Decrypt"), "allow 0");
    check(&policy(r#""kms:Decrypt""#), alice("KMS:DECRYPT"), "allow 0");
    check(&policy(r#""*""#), alice("kms:Decrypt"), "allow 0");
    check(
        &policy(r#""kms:*""#),
        alice("kms:GenerateDataKeyWithoutPlaintext"),
        "allow 0",
    );
    check(&policy(r#""kms:*""#), alice("kmsx:Decrypt"), "none");
    check(
        &policy(r#""kms:Generate*""#),
        alice("kms:GenerateDataKey"),
        "allow 0",
    );
    check(&policy(r#""kms:Generate*""#), alice("kms:Decrypt"), "none");
    check(
        &policy(r#""kms:*crypt""#),
        alice("kms:ReEncrypt"),
        "allow 0",
    );
    check(&policy(r#""kms:?ncrypt""#), alice("kms:Encrypt"), "allow 0");
    check(&policy(r#""kms:?ncrypt""#), alice("kms:ReEncrypt"), "none");
    check(&policy(r#""kms:Decrypt""#), alice("kms:DecryptX"), "none");
    check(
        &policy(r#"["kms:Encrypt","kms:Decrypt"]"#),
        alice("kms:Decrypt"),
        "allow 0",
    );
    check(
        &policy(r#"["kms:Encrypt","kms:Decrypt"]"#),
        alice("kms:Sign"),
        "none",
    );
    // The example from reference_policies_elements_action.html: "iam:*AccessKey*".
    check(
        &policy(r#""iam:*AccessKey*""#),
        alice("iam:ListAccessKeys"),
        "allow 0",
    );
    check(
        &policy(r#""iam:*AccessKey*""#),
        alice("iam:CreateAccessKey"),
        "allow 0",
    );
    check(
        &policy(r#""iam:*AccessKey*""#),
        alice("iam:GetUser"),
        "none",
    );
}

#[test]
fn not_action_matches_every_other_action() {
    // reference_policies_elements_notaction.html: allow everything except IAM.
    let allow_all_but_iam = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#;
    check(allow_all_but_iam, alice("kms:Decrypt"), "allow 0");
    check(allow_all_but_iam, alice("iam:CreateUser"), "none");
    check(allow_all_but_iam, alice("IAM:CreateUser"), "none");
    // Same page: deny everything except IAM actions, for users without MFA.
    let deny_all_but_iam = r#"{"Version":"2012-10-17","Statement":{"Sid":"DenyAllUsersNotUsingMFA","Effect":"Deny",
        "NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}"#;
    check(deny_all_but_iam, alice("kms:Decrypt"), "deny 0");
    check(
        deny_all_but_iam,
        alice("kms:Decrypt").with_value("aws:MultiFactorAuthPresent", true),
        "none",
    );
    check(deny_all_but_iam, alice("iam:ListUsers"), "none");
    let not_list = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}}"#;
    check(not_list, alice("kms:Encrypt"), "none");
    check(not_list, alice("kms:Sign"), "allow 0");
}

#[test]
fn resources_match_arn_segments() {
    let policy = |resource: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":{resource}}}}}"#
        )
    };
    let on = |resource: &str| RequestContext::new(user(ACCOUNT, "alice"), "kms:Decrypt", resource);
    check(&policy(r#""*""#), on(KEY_ARN), "allow 0");
    check(&policy(&format!("\"{KEY_ARN}\"")), on(KEY_ARN), "allow 0");
    check(
        &policy(r#""arn:aws:kms:*:111122223333:key/*""#),
        on(KEY_ARN),
        "allow 0",
    );
    check(
        &policy(r#""arn:aws:kms:us-west-2:111122223333:key/*""#),
        on(KEY_ARN),
        "none",
    );
    check(
        &policy(r#""arn:aws:kms:*:444455556666:key/*""#),
        on(KEY_ARN),
        "none",
    );
    check(&policy(r#""arn:aws:kms:*:*:alias/*""#), on(KEY_ARN), "none");
    // Resource ARNs are case-sensitive.
    check(
        &policy(r#""arn:aws:kms:us-east-1:111122223333:KEY/*""#),
        on(KEY_ARN),
        "none",
    );
    // A `*` stays inside its segment: it cannot stand for "region:account".
    check(&policy(r#""arn:aws:kms:*:key/*""#), on(KEY_ARN), "none");
    check(
        &policy(r#"["arn:aws:kms:*:*:alias/*","arn:aws:kms:*:*:key/*"]"#),
        on(KEY_ARN),
        "allow 0",
    );
    // reference_policies_elements_resource.html: `*` inside the resource
    // segment crosses slashes.
    let s3 = policy(r#""arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*""#);
    check(
        &s3,
        on("arn:aws:s3:::DOC-EXAMPLE-BUCKET/1/test/object.jpg"),
        "allow 0",
    );
    check(
        &s3,
        on("arn:aws:s3:::DOC-EXAMPLE-BUCKET/1/2/test/3/object.jpg"),
        "allow 0",
    );
    check(
        &s3,
        on("arn:aws:s3:::DOC-EXAMPLE-BUCKET/1///test///object.jpg"),
        "allow 0",
    );
    check(
        &s3,
        on("arn:aws:s3:::DOC-EXAMPLE-BUCKET//test/object.jpg"),
        "allow 0",
    );
    check(
        &s3,
        on("arn:aws:s3:::DOC-EXAMPLE-BUCKET/1/tes/object.jpg"),
        "none",
    );
    check(
        &policy(r#""arn:aws:s3:::bucket-??""#),
        on("arn:aws:s3:::bucket-01"),
        "allow 0",
    );
    check(
        &policy(r#""arn:aws:s3:::bucket-??""#),
        on("arn:aws:s3:::bucket-001"),
        "none",
    );
}

#[test]
fn not_resource_matches_every_other_resource() {
    let deny_outside = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"kms:*","Resource":"*"},
        {"Effect":"Deny","Action":"kms:*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/*"}]}"#;
    check(deny_outside, alice("kms:Decrypt"), "allow 0");
    check(
        deny_outside,
        RequestContext::new(
            user(ACCOUNT, "alice"),
            "kms:Decrypt",
            "arn:aws:kms:eu-west-1:111122223333:key/x",
        ),
        "deny 1",
    );
    let not_list = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotResource":["arn:aws:s3:::a","arn:aws:s3:::b/*"]}}"#;
    check(
        not_list,
        RequestContext::new(user(ACCOUNT, "alice"), "s3:GetObject", "arn:aws:s3:::b/key"),
        "none",
    );
    check(
        not_list,
        RequestContext::new(user(ACCOUNT, "alice"), "s3:GetObject", "arn:aws:s3:::c/key"),
        "allow 0",
    );
}

#[test]
fn principals_in_resource_policies() {
    let policy = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"kms:*","Resource":"*"}}}}"#
        )
    };
    // reference_policies_elements_principal.html: "*" and {"AWS": "*"} match
    // everyone, anonymous callers included.
    for everyone in [r#""*""#, r#"{"AWS":"*"}"#] {
        check(
            &policy(everyone),
            decrypt_by(user(OTHER_ACCOUNT, "mallory")),
            "allow 0",
        );
        check(
            &policy(everyone),
            decrypt_by(RequestPrincipal::Anonymous),
            "allow 0",
        );
        check(
            &policy(everyone),
            decrypt_by(service("logs.amazonaws.com")),
            "allow 0",
        );
    }
    // The bare account ID and the root ARN both delegate to the whole account.
    for account in [
        r#"{"AWS":"111122223333"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:root"}"#,
    ] {
        check(
            &policy(account),
            decrypt_by(user(ACCOUNT, "alice")),
            "allow 0",
        );
        check(&policy(account), decrypt_by(root(ACCOUNT)), "allow 0");
        check(
            &policy(account),
            decrypt_by(session(ACCOUNT, "Admin", "s")),
            "allow 0",
        );
        check(
            &policy(account),
            decrypt_by(user(OTHER_ACCOUNT, "alice")),
            "none",
        );
        check(
            &policy(account),
            decrypt_by(RequestPrincipal::Anonymous),
            "none",
        );
    }
    let alice_only = policy(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#);
    check(&alice_only, decrypt_by(user(ACCOUNT, "alice")), "allow 0");
    check(&alice_only, decrypt_by(user(ACCOUNT, "bob")), "none");
    // "the user name part of the ARN is case sensitive".
    check(&alice_only, decrypt_by(user(ACCOUNT, "Alice")), "none");
    check(&alice_only, decrypt_by(root(ACCOUNT)), "none");
    // A role ARN covers every session of the role; a session ARN only itself.
    let role = policy(r#"{"AWS":"arn:aws:iam::111122223333:role/Operator"}"#);
    check(
        &role,
        decrypt_by(session(ACCOUNT, "Operator", "deploy-1")),
        "allow 0",
    );
    check(
        &role,
        decrypt_by(session(ACCOUNT, "Auditor", "deploy-1")),
        "none",
    );
    let one_session =
        policy(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Operator/deploy-1"}"#);
    check(
        &one_session,
        decrypt_by(session(ACCOUNT, "Operator", "deploy-1")),
        "allow 0",
    );
    check(
        &one_session,
        decrypt_by(session(ACCOUNT, "Operator", "deploy-2")),
        "none",
    );
    // A role with a path: the session ARN drops the path, the role ARN keeps it.
    let with_path = policy(r#"{"AWS":"arn:aws:iam::111122223333:role/team/Operator"}"#);
    let pathed_session = RequestPrincipal::AssumedRole {
        account_id: ACCOUNT.into(),
        role_arn: "arn:aws:iam::111122223333:role/team/Operator".into(),
        session_arn: "arn:aws:sts::111122223333:assumed-role/Operator/s".into(),
    };
    check(&with_path, decrypt_by(pathed_session), "allow 0");
    check(
        &with_path,
        decrypt_by(session(ACCOUNT, "Operator", "s")),
        "none",
    );
    // Several principal types in one element are OR'ed.
    let mixed = policy(
        r#"{"AWS":["444455556666","arn:aws:iam::111122223333:user/bob"],"Service":"logs.amazonaws.com"}"#,
    );
    check(&mixed, decrypt_by(user(OTHER_ACCOUNT, "carol")), "allow 0");
    check(&mixed, decrypt_by(user(ACCOUNT, "bob")), "allow 0");
    check(&mixed, decrypt_by(user(ACCOUNT, "alice")), "none");
    check(&mixed, decrypt_by(service("logs.amazonaws.com")), "allow 0");
    check(&mixed, decrypt_by(service("s3.amazonaws.com")), "none");
    let federated = policy(r#"{"Federated":"cognito-identity.amazonaws.com"}"#);
    check(
        &federated,
        decrypt_by(RequestPrincipal::Federated {
            provider: "cognito-identity.amazonaws.com".into(),
        }),
        "allow 0",
    );
    check(
        &federated,
        decrypt_by(service("cognito-identity.amazonaws.com")),
        "none",
    );
    let federated_user = policy(r#"{"AWS":"arn:aws:sts::111122223333:federated-user/dana"}"#);
    check(
        &federated_user,
        decrypt_by(RequestPrincipal::FederatedUser {
            account_id: ACCOUNT.into(),
            arn: "arn:aws:sts::111122223333:federated-user/dana".into(),
        }),
        "allow 0",
    );
}

#[test]
fn not_principal_with_deny() {
    // reference_policies_elements_notprincipal.html, "IAM user in the same or
    // a different account": Bob and his account are spared, everyone else is denied.
    let spare_bob = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
        "NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root"]},
        "Action":"s3:*","Resource":["arn:aws:s3:::BUCKETNAME","arn:aws:s3:::BUCKETNAME/*"]}]}"#;
    let get = |principal| {
        RequestContext::new(principal, "s3:GetObject", "arn:aws:s3:::BUCKETNAME/report")
    };
    check(spare_bob, get(user(OTHER_ACCOUNT, "Bob")), "none");
    check(spare_bob, get(root(OTHER_ACCOUNT)), "none");
    check(spare_bob, get(user(OTHER_ACCOUNT, "Alice")), "deny 0");
    check(spare_bob, get(user(ACCOUNT, "Bob")), "deny 0");
    check(spare_bob, get(RequestPrincipal::Anonymous), "deny 0");
    check(spare_bob, get(service("logs.amazonaws.com")), "deny 0");
    // Naming only Bob leaves his account denied, and with it Bob: the page
    // warns that the account ARN must be listed too.
    let bob_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
        "NotPrincipal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"s3:*","Resource":"*"}]}"#;
    check(bob_only, get(user(OTHER_ACCOUNT, "Bob")), "deny 0");
    // Same page, "IAM role in the same or different account": session, role and account.
    let spare_session = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":[
        "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
        "arn:aws:iam::444455556666:role/cross-account-read-only-role",
        "arn:aws:iam::444455556666:root"]},"Action":"s3:*","Resource":"*"}]}"#;
    let audit = |name| get(session(OTHER_ACCOUNT, "cross-account-read-only-role", name));
    check(spare_session, audit("cross-account-audit-app"), "none");
    check(spare_session, audit("someone-else"), "deny 0");
    let missing_role = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":[
        "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
        "arn:aws:iam::444455556666:root"]},"Action":"s3:*","Resource":"*"}]}"#;
    check(missing_role, audit("cross-account-audit-app"), "deny 0");
}

#[test]
fn resource_policy_statements_without_action_or_resource_never_apply() {
    let no_action = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}"#;
    check(no_action, alice("kms:Decrypt"), "none");
    let no_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*"}]}"#;
    check(no_resource, alice("kms:Decrypt"), "none");
}

#[test]
fn resource_policy_variables() {
    let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
        "Resource":["arn:aws:s3:::mybucket/${aws:username}/*"]}}"#;
    let get = |key: &str| {
        RequestContext::new(
            user(ACCOUNT, "david"),
            "s3:GetObject",
            format!("arn:aws:s3:::mybucket/{key}"),
        )
    };
    check(
        policy,
        get("David/notes.txt").with_value("aws:username", "David"),
        "allow 0",
    );
    check(
        policy,
        get("Adele/notes.txt").with_value("aws:username", "David"),
        "none",
    );
    // Key names are case-insensitive: `${aws:username}` reads `AWS:UserName`.
    check(
        policy,
        get("David/notes.txt").with_value("AWS:UserName", "David"),
        "allow 0",
    );
    // "the resource that includes a policy variable with no value will not match any resource".
    check(policy, get("David/notes.txt"), "none");
    check(policy, get("/notes.txt"), "none");
    // A multivalued key cannot be a variable.
    check(
        policy,
        get("David/notes.txt").with_values("aws:username", ["David", "Adele"]),
        "none",
    );
    // A substituted value is literal: a user named `*` gets only the `*` folder.
    check(
        policy,
        get("David/notes.txt").with_value("aws:username", "*"),
        "none",
    );
    check(
        policy,
        get("*/notes.txt").with_value("aws:username", "*"),
        "allow 0",
    );
    // reference_policies_variables.html, "Specifying default values".
    let with_default = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
        "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"}}"#;
    let bucket = |name: &str| {
        RequestContext::new(
            user(ACCOUNT, "dana"),
            "s3:ListBucket",
            format!("arn:aws:s3:::{name}"),
        )
    };
    check(
        with_default,
        bucket("DOC-EXAMPLE-BUCKET-yellow").with_value("aws:PrincipalTag/team", "yellow"),
        "allow 0",
    );
    check(
        with_default,
        bucket("DOC-EXAMPLE-BUCKET-company-wide"),
        "allow 0",
    );
    check(
        with_default,
        bucket("DOC-EXAMPLE-BUCKET-company-wide").with_value("aws:PrincipalTag/team", "yellow"),
        "none",
    );
    // `${*}` is a literal asterisk, not a wildcard.
    let escaped = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${*}${?}${$}"}}"#;
    check(escaped, bucket("b/*?$"), "allow 0");
    check(escaped, bucket("b/xy$"), "none");
    // Version 2008-10-17 (or none) has no variables: `${aws:username}` is literal text.
    for version in [r#""Version":"2008-10-17","#, ""] {
        let literal = format!(
            r#"{{{version}"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::mybucket/${{aws:username}}/*"}}}}"#
        );
        check(
            &literal,
            get("David/x").with_value("aws:username", "David"),
            "none",
        );
        check(
            &literal,
            get("${aws:username}/x").with_value("aws:username", "David"),
            "allow 0",
        );
    }
}

#[test]
fn documentation_home_directory_policy() {
    // reference_policies_elements_condition_operators.html, StringLike with a
    // policy variable: each user manages their own "home directory".
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":"arn:aws:s3:::*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::BUCKET-NAME",
         "Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}},
        {"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::BUCKET-NAME/home/${aws:username}","arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*"]}]}"#;
    let as_adele = |action: &str, resource: &str| {
        RequestContext::new(user(ACCOUNT, "Adele"), action, resource)
            .with_value("aws:username", "Adele")
    };
    check(
        policy,
        as_adele("s3:ListAllMyBuckets", "arn:aws:s3:::anything"),
        "allow 0",
    );
    check(
        policy,
        as_adele("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME")
            .with_value("s3:prefix", "home/Adele/"),
        "allow 1",
    );
    check(
        policy,
        as_adele("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME").with_value("s3:prefix", ""),
        "allow 1",
    );
    check(
        policy,
        as_adele("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME")
            .with_value("s3:prefix", "home/David/"),
        "none",
    );
    check(
        policy,
        as_adele("s3:PutObject", "arn:aws:s3:::BUCKET-NAME/home/Adele/cv.pdf"),
        "allow 2",
    );
    check(
        policy,
        as_adele("s3:PutObject", "arn:aws:s3:::BUCKET-NAME/home/David/cv.pdf"),
        "none",
    );
}

#[test]
fn key_policy_for_a_service_principal_from_seed_002() {
    // The EMR Serverless key policy statement quoted in seed 002, verbatim.
    let policy = r#"{"Version":"2012-10-17","Statement":[{ "Effect": "Allow", "Principal":{ "Service": "emr-serverless.amazonaws.com" }, "Action": [ "kms:Decrypt", "kms:GenerateDataKey" ], "Resource": "*", "Condition": { "StringLike": { "aws:SourceArn": "arn:aws:emr-serverless:region:aws-account-id:/applications/application-id" }, "StringEquals": { "kms:EncryptionContext:applicationId": "application-id", "aws:SourceAccount": "aws-account-id" } } }]}"#;
    let by_emr = |action: &str| {
        RequestContext::new(service("emr-serverless.amazonaws.com"), action, KEY_ARN)
            .with_value(
                "aws:SourceArn",
                "arn:aws:emr-serverless:region:aws-account-id:/applications/application-id",
            )
            .with_value("aws:SourceAccount", "aws-account-id")
            .with_value("kms:EncryptionContext:applicationId", "application-id")
    };
    check(policy, by_emr("kms:GenerateDataKey"), "allow 0");
    check(policy, by_emr("kms:Decrypt"), "allow 0");
    check(policy, by_emr("kms:Encrypt"), "none");
    check(
        policy,
        by_emr("kms:Decrypt").with_values("kms:EncryptionContext:applicationId", ["other"]),
        "none",
    );
    check(
        policy,
        by_emr("kms:Decrypt").with_values("aws:SourceAccount", ["444455556666"]),
        "none",
    );
    check(
        policy,
        by_emr("kms:Decrypt").with_values(
            "aws:SourceArn",
            ["arn:aws:emr-serverless:region:aws-account-id:/applications/other"],
        ),
        "none",
    );
    check(
        policy,
        by_emr("kms:Decrypt").with_values("aws:SourceArn", Vec::<&str>::new()),
        "none",
    );
    check(
        policy,
        RequestContext::new(service("glue.amazonaws.com"), "kms:Decrypt", KEY_ARN)
            .with_value(
                "aws:SourceArn",
                "arn:aws:emr-serverless:region:aws-account-id:/applications/application-id",
            )
            .with_value("aws:SourceAccount", "aws-account-id")
            .with_value("kms:EncryptionContext:applicationId", "application-id"),
        "none",
    );
    check(
        policy,
        RequestContext::new(user(ACCOUNT, "alice"), "kms:Decrypt", KEY_ARN)
            .with_value(
                "aws:SourceArn",
                "arn:aws:emr-serverless:region:aws-account-id:/applications/application-id",
            )
            .with_value("aws:SourceAccount", "aws-account-id")
            .with_value("kms:EncryptionContext:applicationId", "application-id"),
        "none",
    );
}

#[test]
fn decisions_name_the_statement_sid() {
    let policy = crate::check::parse(
        r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"AllowUse","Effect":"Allow","Action":"kms:*","Resource":"*"},
        {"Sid":"NoSigning","Effect":"Deny","Action":"kms:Sign","Resource":"*"},
        {"Effect":"Deny","Action":"kms:Verify","Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(
        policy.evaluate(&alice("kms:Decrypt")),
        Decision::Allow(StatementRef {
            index: 0,
            sid: Some("AllowUse".into())
        })
    );
    assert_eq!(
        policy.evaluate(&alice("kms:Sign")),
        Decision::ExplicitDeny(StatementRef {
            index: 1,
            sid: Some("NoSigning".into())
        })
    );
    assert_eq!(
        policy.evaluate(&alice("kms:Verify")),
        Decision::ExplicitDeny(StatementRef {
            index: 2,
            sid: None
        })
    );
}

#[test]
fn combine_follows_the_evaluation_logic() {
    let at = |index| StatementRef { index, sid: None };
    let allow = Decision::Allow(at(3));
    let deny = Decision::ExplicitDeny(at(1));
    let none = Decision::NotApplicable;
    assert_eq!(combine([]), Verdict::ImplicitlyDenied);
    assert_eq!(combine([&none, &none]), Verdict::ImplicitlyDenied);
    assert_eq!(
        combine([&none, &allow]),
        Verdict::Allowed {
            policy: 1,
            statement: at(3)
        }
    );
    assert_eq!(
        combine([&allow, &none, &deny]),
        Verdict::ExplicitlyDenied {
            policy: 2,
            statement: at(1)
        }
    );
    assert_eq!(
        combine([&deny, &allow]),
        Verdict::ExplicitlyDenied {
            policy: 0,
            statement: at(1)
        }
    );
    assert_eq!(
        combine([&allow, &allow]),
        Verdict::Allowed {
            policy: 0,
            statement: at(3)
        }
    );
}

/// `evaluate_as` with `OwnIdentities` separates "names this caller" from
/// "names the caller's account" — the distinction KMS key policies rest on.
#[test]
fn evaluate_as_tells_a_named_principal_from_its_account() {
    use crate::{Policy, PolicyKind, PrincipalMatching};
    let policy = Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"account","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
                {{"Sid":"bob","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/bob"}},"Action":"kms:Decrypt","Resource":"*"}},
                {{"Sid":"svc","Effect":"Allow","Principal":{{"Service":"emr-serverless.amazonaws.com"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        ),
        PolicyKind::Resource,
        32_768,
    )
    .unwrap();
    let alice_request = alice("kms:Decrypt");
    let own = |request: &RequestContext| {
        policy.evaluate_as(
            request,
            request.principal(),
            PrincipalMatching::OwnIdentities,
        )
    };
    // Alice is allowed only through her account.
    assert!(matches!(policy.evaluate(&alice_request), Decision::Allow(ref s) if s.index == 0));
    assert_eq!(own(&alice_request), Decision::NotApplicable);
    // Bob is named.
    let bob = RequestContext::new(user(ACCOUNT, "bob"), "kms:Decrypt", KEY_ARN);
    assert!(matches!(own(&bob), Decision::Allow(ref s) if s.index == 1));
    // The root user is its account: naming the account names root.
    let root_request = RequestContext::new(root(ACCOUNT), "kms:Decrypt", KEY_ARN);
    assert!(matches!(own(&root_request), Decision::Allow(ref s) if s.index == 0));
    // A service principal matches its own name.
    let svc = RequestContext::new(
        service("emr-serverless.amazonaws.com"),
        "kms:Decrypt",
        KEY_ARN,
    );
    assert!(matches!(own(&svc), Decision::Allow(ref s) if s.index == 2));
    // Asking as the account, with Alice's request values.
    let account = RequestPrincipal::Account {
        account_id: ACCOUNT.into(),
    };
    assert!(matches!(
        policy.evaluate_as(&alice_request, &account, PrincipalMatching::AnyIdentity),
        Decision::Allow(ref s) if s.index == 0
    ));
    // Another account's root is not named at all.
    let stranger = RequestPrincipal::Account {
        account_id: OTHER_ACCOUNT.into(),
    };
    assert_eq!(
        policy.evaluate_as(&alice_request, &stranger, PrincipalMatching::AnyIdentity),
        Decision::NotApplicable
    );
}
