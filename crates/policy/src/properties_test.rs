//! Property tests: laws the evaluator must keep for any policy and request
//! built from a small vocabulary of principals, actions, resources and
//! conditions.
//!
//! - Deny dominance: adding a Deny statement never turns a decision into an
//!   Allow, never lifts an explicit deny, and denies whenever it applies.
//! - Statement order does not change the decision.
//! - `XIfExists` holds exactly when the key is absent or `X` holds.
//! - `NotX` is the negation of `X` (unqualified operators).
//! - Parsing never panics, whatever the input.

use proptest::prelude::*;
use proptest::sample::select;

use crate::check::{describe, parse, root, service, session, user, KEY_ARN, KEY_POLICY_LIMIT};
use crate::{Decision, Policy, PolicyKind, RequestContext, RequestPrincipal};

const PRINCIPALS: &[&str] = &[
    r#""*""#,
    r#"{"AWS":"111122223333"}"#,
    r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#,
    r#"{"AWS":["444455556666","arn:aws:iam::111122223333:role/Ops"]}"#,
    r#"{"Service":"logs.amazonaws.com"}"#,
];

const ACTIONS: &[&str] = &[
    "*",
    "kms:*",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:*crypt",
    "kms:Gen*",
    "s3:GetObject",
];

const RESOURCES: &[&str] = &[
    "*",
    KEY_ARN,
    "arn:aws:kms:*:111122223333:key/*",
    "arn:aws:kms:us-west-2:*:key/*",
    "arn:aws:s3:::bucket/*",
];

const CONDITIONS: &[&str] = &[
    r#"{"StringEquals":{"aws:username":"alice"}}"#,
    r#"{"StringNotEquals":{"aws:username":["bob","carol"]}}"#,
    r#"{"StringLike":{"kms:EncryptionContext:app":"web-*"}}"#,
    r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
    r#"{"NumericLessThan":{"x:size":100}}"#,
    r#"{"Null":{"kms:EncryptionContext:app":"false"}}"#,
    r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#,
    r#"{"ForAnyValue:StringLike":{"aws:TagKeys":"cost*"}}"#,
    r#"{"StringEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#,
];

/// The JSON text of one resource-policy statement.
fn statement(effect: &'static str) -> impl Strategy<Value = String> {
    (
        select(PRINCIPALS),
        any::<bool>(),
        proptest::collection::vec(select(ACTIONS), 1..3),
        any::<bool>(),
        proptest::collection::vec(select(RESOURCES), 1..3),
        any::<bool>(),
        proptest::option::of(select(CONDITIONS)),
    )
        .prop_map(move |(principal, not_principal, actions, not_action, resources, not_resource, condition)| {
            // NotPrincipal is only valid with Deny.
            let principal_element = if not_principal && effect == "Deny" { "NotPrincipal" } else { "Principal" };
            let action_element = if not_action { "NotAction" } else { "Action" };
            let resource_element = if not_resource { "NotResource" } else { "Resource" };
            let condition = condition.map(|block| format!(r#","Condition":{block}"#)).unwrap_or_default();
            format!(
                r#"{{"Effect":"{effect}","{principal_element}":{principal},"{action_element}":{actions:?},"{resource_element}":{resources:?}{condition}}}"#
            )
        })
}

fn any_statement() -> impl Strategy<Value = String> {
    prop_oneof![statement("Allow"), statement("Deny")]
}

fn document(statements: &[String]) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn request() -> impl Strategy<Value = RequestContext> {
    let principals = vec![
        user("111122223333", "alice"),
        user("444455556666", "bob"),
        root("111122223333"),
        session("111122223333", "Ops", "s1"),
        service("logs.amazonaws.com"),
        RequestPrincipal::Anonymous,
    ];
    (
        select(principals),
        select(
            &[
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:PutKeyPolicy",
                "s3:GetObject",
            ][..],
        ),
        select(
            &[
                KEY_ARN,
                "arn:aws:kms:us-west-2:444455556666:key/k",
                "arn:aws:s3:::bucket/object",
            ][..],
        ),
        proptest::option::of(select(&["alice", "bob", "dave"][..])),
        proptest::option::of(select(&["web-1", "batch"][..])),
        proptest::option::of(select(&["10.1.2.3", "192.0.2.1"][..])),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0_i64..200),
        proptest::option::of(proptest::collection::vec(
            select(&["env", "team", "cost-center"][..]),
            0..3,
        )),
    )
        .prop_map(
            |(principal, action, resource, username, app, ip, secure, size, tag_keys)| {
                let mut request = RequestContext::new(principal, action, resource);
                if let Some(username) = username {
                    request = request.with_value("aws:username", username);
                }
                if let Some(app) = app {
                    request = request.with_value("kms:EncryptionContext:app", app);
                }
                if let Some(ip) = ip {
                    request = request.with_value("aws:SourceIp", ip);
                }
                if let Some(secure) = secure {
                    request = request.with_value("aws:SecureTransport", secure);
                }
                if let Some(size) = size {
                    request = request.with_value("x:size", size);
                }
                if let Some(tag_keys) = tag_keys {
                    request = request.with_values("aws:TagKeys", tag_keys);
                }
                request
            },
        )
}

fn evaluate(statements: &[String], request: &RequestContext) -> Decision {
    let document = document(statements);
    let policy = parse(&document).unwrap_or_else(|error| panic!("{error}\n{document}"));
    policy.evaluate(request)
}

fn kind(decision: &Decision) -> &'static str {
    match decision {
        Decision::ExplicitDeny(_) => "deny",
        Decision::Allow(_) => "allow",
        Decision::NotApplicable => "none",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_a_deny_never_allows(
        statements in proptest::collection::vec(any_statement(), 1..6),
        deny in statement("Deny"),
        position in any::<prop::sample::Index>(),
        request in request(),
    ) {
        let before = evaluate(&statements, &request);
        let mut with_deny = statements.clone();
        with_deny.insert(position.index(statements.len() + 1), deny.clone());
        let after = evaluate(&with_deny, &request);
        let deny_alone = evaluate(std::slice::from_ref(&deny), &request);
        if kind(&before) == "deny" || kind(&deny_alone) == "deny" {
            prop_assert_eq!(kind(&after), "deny");
        }
        if kind(&after) == "allow" {
            prop_assert_eq!(kind(&before), "allow");
        }
    }

    #[test]
    fn statement_order_does_not_matter(
        (statements, shuffled) in proptest::collection::vec(any_statement(), 1..7)
            .prop_flat_map(|statements| (Just(statements.clone()), Just(statements).prop_shuffle())),
        request in request(),
    ) {
        let original = evaluate(&statements, &request);
        let reordered = evaluate(&shuffled, &request);
        prop_assert_eq!(kind(&original), kind(&reordered));
        // The reported statement is one that applies on its own, with the same effect.
        if let Decision::Allow(statement) | Decision::ExplicitDeny(statement) = &reordered {
            let alone = evaluate(std::slice::from_ref(&shuffled[statement.index]), &request);
            prop_assert_eq!(kind(&alone), kind(&reordered));
        }
    }

    #[test]
    fn if_exists_is_absent_or_the_operator(
        (operator, policy_values) in operator_with_values(),
        qualifier in select(&["", "ForAllValues:", "ForAnyValue:"][..]),
        request_values in proptest::option::of(proptest::collection::vec(select(REQUEST_VALUES), 0..3)),
    ) {
        let request = with_key(request_values.as_deref());
        let plain = condition_holds(&format!("{qualifier}{operator}"), &policy_values, &request);
        let if_exists = condition_holds(&format!("{qualifier}{operator}IfExists"), &policy_values, &request);
        let absent = request_values.as_ref().is_none_or(Vec::is_empty);
        prop_assert_eq!(if_exists, absent || plain);
    }

    #[test]
    fn negated_operators_are_exact_negations(
        (positive, negated, policy_values) in negatable_operator_with_values(),
        request_values in proptest::option::of(proptest::collection::vec(select(REQUEST_VALUES), 0..3)),
    ) {
        let request = with_key(request_values.as_deref());
        prop_assert_eq!(
            condition_holds(negated, &policy_values, &request),
            !condition_holds(positive, &policy_values, &request)
        );
    }

    #[test]
    fn parsing_any_text_does_not_panic(text in ".{0,200}") {
        let _ = Policy::parse(&text, PolicyKind::Resource, KEY_POLICY_LIMIT);
        let _ = Policy::parse(&text, PolicyKind::Identity, KEY_POLICY_LIMIT);
    }

    #[test]
    fn parsing_policy_shaped_json_does_not_panic(json in policy_shaped_json()) {
        for kind in [PolicyKind::Resource, PolicyKind::Identity] {
            if let Ok(policy) = Policy::parse(&json, kind, KEY_POLICY_LIMIT) {
                let request = RequestContext::new(user("111122223333", "alice"), "kms:Decrypt", KEY_ARN)
                    .with_value("aws:username", "alice");
                let _ = describe(&policy.evaluate(&request));
            }
        }
    }
}

/// Request values of every type, for conditions of every type.
const REQUEST_VALUES: &[&str] = &[
    "a",
    "A",
    "b",
    "ab",
    "arn:aws:s3:::b",
    "arn:aws:s3:::c/x",
    "1",
    "2.5",
    "-3",
    "2020-01-01T00:00:00Z",
    "1700000000",
    "true",
    "false",
    "AAEC",
    "10.1.2.3",
    "::1",
    "",
];

/// One operator name (no qualifier, no IfExists) with values valid for it.
fn operator_with_values() -> impl Strategy<Value = (&'static str, Vec<&'static str>)> {
    select(FAMILIES).prop_flat_map(|(operators, values)| {
        (
            select(operators),
            proptest::collection::vec(select(values), 0..3),
        )
    })
}

/// A positive operator, its negation, and values valid for both.
fn negatable_operator_with_values(
) -> impl Strategy<Value = (&'static str, &'static str, Vec<&'static str>)> {
    select(NEGATIONS).prop_flat_map(|(positive, negated, values)| {
        (
            Just(positive),
            Just(negated),
            proptest::collection::vec(select(values), 0..3),
        )
    })
}

const STRINGS: &[&str] = &["a", "A", "a*", "?", "", "${x:other}", "arn:aws:s3:::*"];
const ARNS: &[&str] = &["arn:aws:s3:::b", "arn:aws:s3:::*", "arn:*:s3:::c/*", "*"];
const NUMBERS: &[&str] = &["1", "2.5", "-3", "0"];
const DATES: &[&str] = &["2020-01-01T00:00:00Z", "1700000000", "2021-06"];
const BOOLS: &[&str] = &["true", "false"];
const BINARIES: &[&str] = &["AAEC", "AQID"];
const IPS: &[&str] = &["10.0.0.0/8", "10.1.2.3", "::1", "2001:db8::/32"];

const FAMILIES: &[(&[&str], &[&str])] = &[
    (
        &[
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
        STRINGS,
    ),
    (
        &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
        ARNS,
    ),
    (
        &[
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ],
        NUMBERS,
    ),
    (
        &[
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ],
        DATES,
    ),
    (&["Bool"], BOOLS),
    (&["BinaryEquals"], BINARIES),
    (&["IpAddress", "NotIpAddress"], IPS),
];

const NEGATIONS: &[(&str, &str, &[&str])] = &[
    ("StringEquals", "StringNotEquals", STRINGS),
    (
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        STRINGS,
    ),
    ("StringLike", "StringNotLike", STRINGS),
    ("ArnLike", "ArnNotLike", ARNS),
    ("ArnEquals", "ArnNotEquals", ARNS),
    ("NumericEquals", "NumericNotEquals", NUMBERS),
    ("DateEquals", "DateNotEquals", DATES),
    ("IpAddress", "NotIpAddress", IPS),
];

/// A request where `x:key` is absent (`None`) or has exactly these values.
fn with_key(values: Option<&[&str]>) -> RequestContext {
    let request = RequestContext::new(user("111122223333", "alice"), "kms:Decrypt", KEY_ARN);
    match values {
        None => request,
        Some(values) => request.with_values("x:key", values.iter().copied()),
    }
}

/// Whether `{operator: {"x:key": values}}` holds for `request`.
fn condition_holds(operator: &str, values: &[&str], request: &RequestContext) -> bool {
    let document = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"{operator}":{{"x:key":{values:?}}}}}}}}}"#
    );
    let policy = Policy::parse(&document, PolicyKind::Identity, KEY_POLICY_LIMIT)
        .unwrap_or_else(|error| panic!("{error}\n{document}"));
    match policy.evaluate(request) {
        Decision::Allow(_) => true,
        Decision::NotApplicable => false,
        Decision::ExplicitDeny(_) => panic!("an Allow statement denied"),
    }
}

/// JSON documents made of policy vocabulary, nested at random: most are
/// invalid in some way, which is the point.
fn policy_shaped_json() -> impl Strategy<Value = String> {
    let words = select(
        &[
            "Version",
            "Id",
            "Statement",
            "Sid",
            "Effect",
            "Allow",
            "Deny",
            "Principal",
            "NotPrincipal",
            "AWS",
            "Service",
            "Federated",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
            "StringEquals",
            "ForAllValues:StringLike",
            "NumericLessThanIfExists",
            "Null",
            "IpAddress",
            "DateEquals",
            "BinaryEquals",
            "aws:username",
            "2012-10-17",
            "2008-10-17",
            "*",
            "kms:*",
            "111122223333",
            "arn:aws:iam::111122223333:root",
            "arn:aws:s3:::b/${aws:username}/*",
            "${*}",
            "${",
            "10.0.0.0/8",
            "true",
            "2020-01-01",
        ][..],
    );
    let leaf = prop_oneof![
        words.clone().prop_map(|word| format!("{word:?}")),
        Just("null".to_owned()),
        Just("true".to_owned()),
        (-5_i64..5).prop_map(|n| n.to_string()),
    ];
    leaf.prop_recursive(4, 40, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            proptest::collection::vec((words.clone(), inner), 0..5).prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(key, value)| format!("{key:?}:{value}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}
