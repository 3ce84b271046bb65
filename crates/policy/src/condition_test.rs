//! Evaluation tables for the `Condition` element: every operator and its
//! negation, `...IfExists`, `Null`, the set qualifiers, absent keys, case rules
//! and policy variables. Every row goes through `check`.
//!
//! Most rows use a one-statement identity policy built by `when`, so a row
//! reads as "condition, request, expected": `"allow 0"` when the condition
//! holds, `"none"` when it does not.

use std::net::IpAddr;

use time::macros::datetime;

use crate::check::{alice, check};
use crate::{ContextValue, RequestContext};

/// An identity policy allowing everything when `condition` holds.
fn when(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}}}"#
    )
}

/// A request with no condition keys.
fn request() -> RequestContext {
    alice("kms:Decrypt")
}

/// A request where `key` has the single value `value`.
fn with(key: &str, value: impl Into<ContextValue>) -> RequestContext {
    request().with_value(key, value)
}

/// A request where `key` has exactly `values` (possibly none).
fn with_all(key: &str, values: &[&str]) -> RequestContext {
    request().with_values(key, values.iter().copied())
}

const HOLDS: &str = "allow 0";
const FAILS: &str = "none";

#[test]
fn string_equals_and_its_negation() {
    let equals = when(r#"{"StringEquals":{"aws:username":"johndoe"}}"#);
    check(&equals, with("aws:username", "johndoe"), HOLDS);
    // reference_policies_elements_condition.html: StringEquals is case-sensitive,
    // "Users named JohnDoe are denied access".
    check(&equals, with("aws:username", "JohnDoe"), FAILS);
    check(&equals, with("aws:username", "johndoe2"), FAILS);
    check(&equals, request(), FAILS);
    let not_equals = when(r#"{"StringNotEquals":{"aws:username":"johndoe"}}"#);
    check(&not_equals, with("aws:username", "JohnDoe"), HOLDS);
    check(&not_equals, with("aws:username", "johndoe"), FAILS);
    // A negated operator on an absent key is true.
    check(&not_equals, request(), HOLDS);
    // Several values are OR'ed, and NOR'ed for the negation.
    let equals_any = when(r#"{"StringEquals":{"aws:PrincipalTag/role":["audit","security"]}}"#);
    check(
        &equals_any,
        with("aws:PrincipalTag/role", "security"),
        HOLDS,
    );
    check(&equals_any, with("aws:PrincipalTag/role", "dev"), FAILS);
    let equals_none = when(r#"{"StringNotEquals":{"aws:PrincipalTag/role":["audit","security"]}}"#);
    check(
        &equals_none,
        with("aws:PrincipalTag/role", "security"),
        FAILS,
    );
    check(&equals_none, with("aws:PrincipalTag/role", "dev"), HOLDS);
    // Numbers and booleans in the policy compare as their text.
    check(
        &when(r#"{"StringEquals":{"aws:SourceAccount":111122223333}}"#),
        with("aws:SourceAccount", "111122223333"),
        HOLDS,
    );
    check(
        &when(r#"{"StringEquals":{"aws:SecureTransport":true}}"#),
        with("aws:SecureTransport", true),
        HOLDS,
    );
}

#[test]
fn string_equals_ignore_case() {
    let equals = when(r#"{"StringEqualsIgnoreCase":{"aws:username":"johndoe"}}"#);
    check(&equals, with("aws:username", "JohnDoe"), HOLDS);
    check(&equals, with("aws:username", "JOHNDOE"), HOLDS);
    check(&equals, with("aws:username", "janedoe"), FAILS);
    check(&equals, request(), FAILS);
    let not_equals = when(r#"{"StringNotEqualsIgnoreCase":{"aws:username":["JohnDoe","Admin"]}}"#);
    check(&not_equals, with("aws:username", "johndoe"), FAILS);
    check(&not_equals, with("aws:username", "ADMIN"), FAILS);
    check(&not_equals, with("aws:username", "janedoe"), HOLDS);
    check(&not_equals, request(), HOLDS);
}

#[test]
fn string_like_and_not_like() {
    let like = when(r#"{"StringLike":{"s3:prefix":["home/*","tmp/??"]}}"#);
    check(&like, with("s3:prefix", "home/alice/notes"), HOLDS);
    check(&like, with("s3:prefix", "home/"), HOLDS);
    check(&like, with("s3:prefix", "tmp/ab"), HOLDS);
    check(&like, with("s3:prefix", "tmp/abc"), FAILS);
    check(&like, with("s3:prefix", "Home/alice"), FAILS);
    check(&like, request(), FAILS);
    // Without a wildcard StringLike is an exact, case-sensitive match.
    check(
        &when(r#"{"StringLike":{"s3:prefix":""}}"#),
        with("s3:prefix", ""),
        HOLDS,
    );
    check(
        &when(r#"{"StringLike":{"s3:prefix":""}}"#),
        with("s3:prefix", "x"),
        FAILS,
    );
    let not_like = when(r#"{"StringNotLike":{"s3:prefix":["home/*","tmp/*"]}}"#);
    check(&not_like, with("s3:prefix", "etc/passwd"), HOLDS);
    check(&not_like, with("s3:prefix", "tmp/x"), FAILS);
    check(&not_like, request(), HOLDS);
    // `${*}` in a StringLike value is a literal asterisk.
    let literal_star = when(r#"{"StringLike":{"s3:prefix":"a${*}b*"}}"#);
    check(&literal_star, with("s3:prefix", "a*b-c"), HOLDS);
    check(&literal_star, with("s3:prefix", "axb-c"), FAILS);
}

#[test]
fn arn_operators_compare_segments() {
    let arn_like =
        when(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#);
    let string_like =
        when(r#"{"StringLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#);
    // The example in reference_policies_elements_condition_operators.html#Conditions_ARN:
    // StringLike matches, ArnLike does not, because `*` stays in its segment.
    let tricky =
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
    check(&string_like, with("aws:SourceArn", tricky), HOLDS);
    check(&arn_like, with("aws:SourceArn", tricky), FAILS);
    check(
        &arn_like,
        with(
            "aws:SourceArn",
            "arn:aws:someservice:us-east-2:111122223333:finance/q3.txt",
        ),
        HOLDS,
    );
    check(&arn_like, with("aws:SourceArn", "not an arn"), FAILS);
    check(&arn_like, request(), FAILS);
    // The SQS example on the same page, with ArnEquals.
    let arn_equals =
        when(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:REGION:123456789012:TOPIC-ID"}}"#);
    check(
        &arn_equals,
        with("aws:SourceArn", "arn:aws:sns:REGION:123456789012:TOPIC-ID"),
        HOLDS,
    );
    check(
        &arn_equals,
        with("aws:SourceArn", "arn:aws:sns:REGION:123456789012:topic-id"),
        FAILS,
    );
    // "The ArnEquals and ArnLike condition operators behave identically."
    check(
        &when(r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}"#),
        with("aws:PrincipalArn", "arn:aws:iam::111122223333:role/Admin"),
        HOLDS,
    );
    let arn_not_equals =
        when(r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::444455556666:user/user-name"}}"#);
    check(
        &arn_not_equals,
        with(
            "aws:PrincipalArn",
            "arn:aws:iam::444455556666:user/user-name",
        ),
        FAILS,
    );
    check(
        &arn_not_equals,
        with("aws:PrincipalArn", "arn:aws:iam::444455556666:user/other"),
        HOLDS,
    );
    check(&arn_not_equals, request(), HOLDS);
    let arn_not_like = when(
        r#"{"ArnNotLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/Admin*","arn:aws:iam::*:root"]}}"#,
    );
    check(
        &arn_not_like,
        with(
            "aws:PrincipalArn",
            "arn:aws:iam::111122223333:role/AdminRole",
        ),
        FAILS,
    );
    check(
        &arn_not_like,
        with("aws:PrincipalArn", "arn:aws:iam::111122223333:root"),
        FAILS,
    );
    check(
        &arn_not_like,
        with("aws:PrincipalArn", "arn:aws:iam::111122223333:user/bob"),
        HOLDS,
    );
    check(&arn_not_like, request(), HOLDS);
}

#[test]
fn numeric_operators() {
    // reference_policies_elements_condition_operators.html#Conditions_Numeric.
    let at_most_ten = when(r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#);
    check(&at_most_ten, with("s3:max-keys", 10), HOLDS);
    check(&at_most_ten, with("s3:max-keys", "9"), HOLDS);
    check(&at_most_ten, with("s3:max-keys", 11), FAILS);
    check(&at_most_ten, request(), FAILS);
    let rows = [
        ("NumericEquals", "7", HOLDS, FAILS, FAILS),
        ("NumericNotEquals", "7", FAILS, HOLDS, HOLDS),
        ("NumericLessThan", "7", FAILS, HOLDS, FAILS),
        ("NumericLessThanEquals", "7", HOLDS, HOLDS, FAILS),
        ("NumericGreaterThan", "7", FAILS, FAILS, HOLDS),
        ("NumericGreaterThanEquals", "7", HOLDS, FAILS, HOLDS),
    ];
    // Each row: operator, policy value, then the outcome for 7, 6.5 and 8.
    for (operator, value, at_seven, at_six_and_a_half, at_eight) in rows {
        let policy = when(&format!(
            r#"{{"{operator}":{{"kms:RotationPeriodInDays":{value}}}}}"#
        ));
        check(&policy, with("kms:RotationPeriodInDays", 7), at_seven);
        check(
            &policy,
            with("kms:RotationPeriodInDays", "6.5"),
            at_six_and_a_half,
        );
        check(&policy, with("kms:RotationPeriodInDays", "8.000"), at_eight);
    }
    check(
        &when(r#"{"NumericNotEquals":{"kms:RotationPeriodInDays":7}}"#),
        request(),
        HOLDS,
    );
    check(
        &when(r#"{"NumericEquals":{"kms:RotationPeriodInDays":7}}"#),
        with("kms:RotationPeriodInDays", "seven"),
        FAILS,
    );
    // Exact decimal comparison: no rounding through floating point.
    check(
        &when(r#"{"NumericEquals":{"x:big":"12345678901234567"}}"#),
        with("x:big", "12345678901234568"),
        FAILS,
    );
    check(
        &when(r#"{"NumericGreaterThan":{"x:n":-2.5}}"#),
        with("x:n", -2),
        HOLDS,
    );
    check(
        &when(r#"{"NumericEquals":{"x:n":[1,2,3]}}"#),
        with("x:n", 2),
        HOLDS,
    );
}

#[test]
fn date_operators() {
    // reference_policies_elements_condition_operators.html#Conditions_Date.
    let issued_after = when(r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}"#);
    check(
        &issued_after,
        with("aws:TokenIssueTime", "2020-06-01T12:00:00Z"),
        HOLDS,
    );
    check(
        &issued_after,
        with("aws:TokenIssueTime", "2020-01-01T00:00:01Z"),
        FAILS,
    );
    check(
        &issued_after,
        with("aws:TokenIssueTime", "2019-12-31T23:59:59Z"),
        FAILS,
    );
    // "The aws:TokenIssueTime key is present in the request context only when
    // the principal uses temporary credentials": absent means false.
    check(&issued_after, request(), FAILS);
    let noon = datetime!(2024-03-01 12:00 UTC);
    let rows = [
        ("DateEquals", HOLDS, FAILS, FAILS),
        ("DateNotEquals", FAILS, HOLDS, HOLDS),
        ("DateLessThan", FAILS, HOLDS, FAILS),
        ("DateLessThanEquals", HOLDS, HOLDS, FAILS),
        ("DateGreaterThan", FAILS, FAILS, HOLDS),
        ("DateGreaterThanEquals", HOLDS, FAILS, HOLDS),
    ];
    // Each row: operator, then the outcome at noon, one second before, one second after.
    for (operator, at_noon, before, after) in rows {
        let policy = when(&format!(
            r#"{{"{operator}":{{"aws:CurrentTime":"2024-03-01T12:00:00Z"}}}}"#
        ));
        check(&policy, with("aws:CurrentTime", noon), at_noon);
        check(
            &policy,
            with("aws:CurrentTime", noon - time::Duration::SECOND),
            before,
        );
        check(
            &policy,
            with("aws:CurrentTime", noon + time::Duration::SECOND),
            after,
        );
    }
    // Epoch seconds on either side, and other time zones, name the same instant.
    check(
        &when(r#"{"DateEquals":{"aws:EpochTime":"1709294400"}}"#),
        with("aws:EpochTime", noon),
        HOLDS,
    );
    check(
        &when(r#"{"DateEquals":{"aws:EpochTime":1709294400}}"#),
        with("aws:EpochTime", 1_709_294_400),
        HOLDS,
    );
    check(
        &when(r#"{"DateEquals":{"aws:CurrentTime":"2024-03-01T13:00:00+01:00"}}"#),
        with("aws:CurrentTime", "2024-03-01T12:00:00Z"),
        HOLDS,
    );
    check(
        &when(r#"{"DateLessThan":{"aws:CurrentTime":"2024-03-02"}}"#),
        with("aws:CurrentTime", noon),
        HOLDS,
    );
    check(
        &when(r#"{"DateNotEquals":{"aws:CurrentTime":"2024-03-02"}}"#),
        request(),
        HOLDS,
    );
    check(
        &when(r#"{"DateLessThan":{"aws:CurrentTime":"2024-03-02"}}"#),
        with("aws:CurrentTime", "not a date"),
        FAILS,
    );
}

#[test]
fn bool_operator() {
    // The example in reference_policies_elements_condition_operators.html#Conditions_Boolean.
    let deny_plain_http = r#"{"Version":"2012-10-17","Statement":[{"Sid":"BooleanExample","Action":"s3:*","Effect":"Deny",
        "Resource":["arn:aws:s3:::DOC-EXAMPLE-BUCKET","arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
        "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    let get = || {
        RequestContext::new(
            crate::check::user("111122223333", "alice"),
            "s3:GetObject",
            "arn:aws:s3:::DOC-EXAMPLE-BUCKET/x",
        )
    };
    check(
        deny_plain_http,
        get().with_value("aws:SecureTransport", false),
        "deny 0",
    );
    check(
        deny_plain_http,
        get().with_value("aws:SecureTransport", true),
        "none",
    );
    check(
        deny_plain_http,
        get().with_value("aws:SecureTransport", "FALSE"),
        "deny 0",
    );
    check(deny_plain_http, get(), "none");
    check(
        &when(r#"{"Bool":{"aws:SecureTransport":true}}"#),
        with("aws:SecureTransport", true),
        HOLDS,
    );
    check(
        &when(r#"{"Bool":{"aws:SecureTransport":"True"}}"#),
        with("aws:SecureTransport", "true"),
        HOLDS,
    );
    check(
        &when(r#"{"Bool":{"aws:SecureTransport":"true"}}"#),
        with("aws:SecureTransport", "yes"),
        FAILS,
    );
    check(
        &when(r#"{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":true}}"#),
        with("kms:BypassPolicyLockoutSafetyCheck", false),
        FAILS,
    );
}

#[test]
fn binary_equals() {
    // The value from reference_policies_elements_condition_operators.html#Conditions_BinaryEquals.
    let policy = when(r#"{"BinaryEquals":{"x:blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#);
    check(
        &policy,
        with(
            "x:blob",
            ContextValue::Binary(b"BinaryValueInBase64".to_vec()),
        ),
        HOLDS,
    );
    check(
        &policy,
        with("x:blob", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
        HOLDS,
    );
    check(
        &policy,
        with(
            "x:blob",
            ContextValue::Binary(b"BinaryValueInBase65".to_vec()),
        ),
        FAILS,
    );
    check(&policy, request(), FAILS);
}

#[test]
fn ip_address_operators() {
    let ip = |text: &str| ContextValue::Ip(text.parse::<IpAddr>().unwrap());
    // The IPv4 + IPv6 example in reference_policies_elements_condition_operators.html#Conditions_IPAddress.
    let policy =
        when(r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#);
    check(&policy, with("aws:SourceIp", ip("203.0.113.200")), HOLDS);
    check(
        &policy,
        with("aws:SourceIp", ip("2001:db8:1234:5678::42")),
        HOLDS,
    );
    check(&policy, with("aws:SourceIp", "203.0.113.7"), HOLDS);
    check(&policy, with("aws:SourceIp", ip("198.51.100.1")), FAILS);
    check(
        &policy,
        with("aws:SourceIp", ip("2001:db8:1234:5679::1")),
        FAILS,
    );
    // "the condition returns false" when the key is absent (a VPC endpoint call).
    check(&policy, request(), FAILS);
    let not_ip = when(r#"{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","10.0.0.1"]}}"#);
    check(&not_ip, with("aws:SourceIp", ip("203.0.113.5")), FAILS);
    check(&not_ip, with("aws:SourceIp", ip("10.0.0.1")), FAILS);
    check(&not_ip, with("aws:SourceIp", ip("10.0.0.2")), HOLDS);
    check(&not_ip, request(), HOLDS);
}

#[test]
fn null_checks_presence() {
    // reference_policies_elements_condition_operators.html#Conditions_Null:
    // "true" means the key must be absent, "false" that it must be present.
    let absent = when(r#"{"Null":{"aws:TokenIssueTime":"true"}}"#);
    check(&absent, request(), HOLDS);
    check(
        &absent,
        with("aws:TokenIssueTime", "2024-01-01T00:00:00Z"),
        FAILS,
    );
    check(&absent, with_all("aws:TokenIssueTime", &[]), HOLDS);
    let present = when(r#"{"Null":{"aws:TokenIssueTime":false}}"#);
    check(&present, request(), FAILS);
    check(
        &present,
        with("aws:TokenIssueTime", "2024-01-01T00:00:00Z"),
        HOLDS,
    );
    check(&present, with_all("aws:TokenIssueTime", &[]), FAILS);
    check(
        &present,
        with_all("aws:TagKeys", &["a", "b"]).with_value("aws:TokenIssueTime", "x"),
        HOLDS,
    );
}

#[test]
fn if_exists_only_checks_a_present_key() {
    // The ec2:InstanceType example in reference_policies_elements_condition_operators.html#Conditions_IfExists.
    let run_instances = r#"{"Version":"2012-10-17","Statement":[{"Sid":"RunInstance","Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
        "Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}]}"#;
    let run = || {
        RequestContext::new(
            crate::check::user("111122223333", "alice"),
            "ec2:RunInstances",
            "arn:aws:ec2:us-east-1::image/ami-1",
        )
    };
    check(run_instances, run(), "allow 0");
    check(
        run_instances,
        run().with_value("ec2:InstanceType", "t2.micro"),
        "allow 0",
    );
    check(
        run_instances,
        run().with_value("ec2:InstanceType", "c5.large"),
        "none",
    );
    // The same statement without IfExists fails on resources that lack the key.
    let without = run_instances.replace("StringLikeIfExists", "StringLike");
    check(&without, run(), "none");
    check(
        &when(r#"{"NumericLessThanIfExists":{"kms:RotationPeriodInDays":100}}"#),
        request(),
        HOLDS,
    );
    check(
        &when(r#"{"NumericLessThanIfExists":{"kms:RotationPeriodInDays":100}}"#),
        with("kms:RotationPeriodInDays", 365),
        FAILS,
    );
    check(
        &when(r#"{"StringEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#),
        with("kms:ViaService", "ec2.us-east-1.amazonaws.com"),
        FAILS,
    );
    check(
        &when(r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#),
        request(),
        HOLDS,
    );
    check(
        &when(r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::b"}}"#),
        request(),
        HOLDS,
    );
    check(
        &when(r#"{"DateGreaterThanIfExists":{"aws:TokenIssueTime":"2020-01-01"}}"#),
        request(),
        HOLDS,
    );
    // "If you are using an "Effect": "Deny" element with a negated condition
    // operator like StringNotEqualsIfExists, the request is still denied even if
    // the tag is missing."
    let deny_unless_tagged = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
        "Condition":{"StringNotEqualsIfExists":{"aws:ResourceTag/team":"blue"}}}}"#;
    check(deny_unless_tagged, request(), "deny 0");
    check(
        deny_unless_tagged,
        with("aws:ResourceTag/team", "red"),
        "deny 0",
    );
    check(
        deny_unless_tagged,
        with("aws:ResourceTag/team", "blue"),
        "none",
    );
}

#[test]
fn for_all_values() {
    // The DynamoDB example in reference_policies_multi-value-conditions.html.
    let only_these =
        when(r#"{"ForAllValues:StringEquals":{"dynamodb:Attributes":["ID","Message","Tags"]}}"#);
    check(
        &only_these,
        with_all("dynamodb:Attributes", &["ID", "Message", "Tags"]),
        HOLDS,
    );
    check(
        &only_these,
        with_all("dynamodb:Attributes", &["Message"]),
        HOLDS,
    );
    check(
        &only_these,
        with_all("dynamodb:Attributes", &["ID", "UserName"]),
        FAILS,
    );
    // "It also returns true if there are no keys in the request, or if the key
    // values resolve to a null data set".
    check(&only_these, request(), HOLDS);
    check(&only_these, with_all("dynamodb:Attributes", &[]), HOLDS);
    let like = when(r#"{"ForAllValues:StringLike":{"aws:TagKeys":["key1*"]}}"#);
    check(&like, with_all("aws:TagKeys", &["key1", "key1-a"]), HOLDS);
    check(&like, with_all("aws:TagKeys", &["key1", "key2"]), FAILS);
    // Negated: every request value must match none of the policy values.
    let none_of = when(r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret","owner"]}}"#);
    check(&none_of, with_all("aws:TagKeys", &["env", "team"]), HOLDS);
    check(&none_of, with_all("aws:TagKeys", &["env", "owner"]), FAILS);
    check(&none_of, request(), HOLDS);
    check(
        &when(r#"{"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":["a"]}}"#),
        request(),
        HOLDS,
    );
}

#[test]
fn for_any_value() {
    // The DynamoDB Deny example in reference_policies_multi-value-conditions.html.
    let forbidden = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:*:*:table/Thread",
        "Condition":{"ForAnyValue:StringEquals":{"dynamodb:Attributes":["ID","PostDateTime"]}}}}"#;
    let put = |attributes: &[&str]| {
        RequestContext::new(
            crate::check::user("111122223333", "alice"),
            "dynamodb:PutItem",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Thread",
        )
        .with_values("dynamodb:Attributes", attributes.iter().copied())
    };
    check(
        forbidden,
        put(&["UserName", "Message", "PostDateTime"]),
        "deny 0",
    );
    check(forbidden, put(&["UserName"]), "none");
    // "For no matching key or a null dataset, the condition returns false."
    check(forbidden, put(&[]), "none");
    let any = when(r#"{"ForAnyValue:StringLike":{"aws:TagKeys":"env*"}}"#);
    check(
        &any,
        with_all("aws:TagKeys", &["team", "environment"]),
        HOLDS,
    );
    check(&any, with_all("aws:TagKeys", &["team"]), FAILS);
    check(&any, request(), FAILS);
    // Negated: some request value matches none of the policy values.
    let some_other = when(r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}"#);
    check(
        &some_other,
        with_all("aws:TagKeys", &["env", "cost"]),
        HOLDS,
    );
    check(
        &some_other,
        with_all("aws:TagKeys", &["env", "team"]),
        FAILS,
    );
    check(&some_other, request(), FAILS);
    check(
        &when(r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}}"#),
        request(),
        HOLDS,
    );
    check(
        &when(r#"{"ForAnyValue:NumericGreaterThan":{"x:sizes":10}}"#),
        request().with_values("x:sizes", [1_i64, 20]),
        HOLDS,
    );
}

#[test]
fn unqualified_operators_on_multivalued_keys() {
    // Any value matching satisfies a positive operator; a negated one needs none to match.
    check(
        &when(r#"{"StringEquals":{"aws:TagKeys":"env"}}"#),
        with_all("aws:TagKeys", &["team", "env"]),
        HOLDS,
    );
    check(
        &when(r#"{"StringNotEquals":{"aws:TagKeys":"env"}}"#),
        with_all("aws:TagKeys", &["team", "env"]),
        FAILS,
    );
    check(
        &when(r#"{"StringNotEquals":{"aws:TagKeys":"env"}}"#),
        with_all("aws:TagKeys", &["team", "cost"]),
        HOLDS,
    );
    check(
        &when(r#"{"StringEquals":{"aws:TagKeys":"env"}}"#),
        with_all("aws:TagKeys", &[]),
        FAILS,
    );
    check(
        &when(r#"{"StringNotEquals":{"aws:TagKeys":"env"}}"#),
        with_all("aws:TagKeys", &[]),
        HOLDS,
    );
}

#[test]
fn keys_and_operators_combine() {
    // reference_policies_multi-value-conditions.html: operators and keys are
    // AND'ed, values OR'ed.
    let policy = when(
        r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/department":["finance","hr","legal"],"aws:PrincipalTag/role":["audit","security"]},
            "StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
    );
    let tagged = |department: &str, role: &str, account: &str| {
        request()
            .with_value("aws:PrincipalTag/department", department)
            .with_value("aws:PrincipalTag/role", role)
            .with_value("aws:PrincipalAccount", account)
    };
    check(&policy, tagged("Finance", "AUDIT", "123456789012"), HOLDS);
    check(&policy, tagged("finance", "dev", "123456789012"), FAILS);
    check(&policy, tagged("sales", "audit", "123456789012"), FAILS);
    check(&policy, tagged("hr", "security", "111122223333"), FAILS);
    check(
        &policy,
        request()
            .with_value("aws:PrincipalTag/department", "hr")
            .with_value("aws:PrincipalAccount", "123456789012"),
        FAILS,
    );
    // The same key under two operators: both must hold.
    let range = when(r#"{"NumericGreaterThanEquals":{"x:n":10},"NumericLessThan":{"x:n":20}}"#);
    check(&range, with("x:n", 10), HOLDS);
    check(&range, with("x:n", 20), FAILS);
    check(&range, with("x:n", 9), FAILS);
    // An empty Condition object holds.
    check(&when("{}"), request(), HOLDS);
}

#[test]
fn condition_key_names_ignore_case() {
    // reference_policies_elements_condition.html: "including the aws:SourceIP
    // condition key is equivalent to testing for AWS:SourceIp".
    let policy = when(r#"{"IpAddress":{"aws:SourceIP":"203.0.113.0/24"}}"#);
    check(&policy, with("AWS:SourceIp", "203.0.113.1"), HOLDS);
    check(&policy, with("aws:sourceip", "203.0.113.1"), HOLDS);
    let context_keys = when(r#"{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}"#);
    check(
        &context_keys,
        with("kms:encryptioncontext:department", "IT"),
        HOLDS,
    );
    // Values are not folded: that depends on the operator.
    check(
        &context_keys,
        with("kms:EncryptionContext:Department", "it"),
        FAILS,
    );
}

#[test]
fn condition_values_with_policy_variables() {
    // reference_policies_variables.html, "Condition element": the SNS endpoint
    // example, with `"Resource": "*"` added (the page omits it, and a statement
    // without a resource never applies here).
    let sns = r#"{"Version":"2012-10-17","Statement":[{"Principal":{"AWS":"999999999999"},"Effect":"Allow","Action":"sns:*","Resource":"*",
        "Condition":{"StringLike":{"sns:endpoint":"https://example.com/${aws:username}/"},"StringEquals":{"sns:Protocol":"https"}}}]}"#;
    let subscribe = |endpoint: &str| {
        RequestContext::new(
            crate::check::user("999999999999", "adele"),
            "sns:Subscribe",
            "arn:aws:sns:us-east-1:999999999999:topic",
        )
        .with_value("aws:username", "adele")
        .with_value("sns:Protocol", "https")
        .with_value("sns:endpoint", endpoint)
    };
    check(sns, subscribe("https://example.com/adele/"), "allow 0");
    check(sns, subscribe("https://example.com/david/"), "none");
    // "Policy variables with no value": StringEquals does not match, StringNotEquals does.
    let same_team = when(r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#);
    check(
        &same_team,
        with("aws:ResourceTag/team", "blue").with_value("aws:PrincipalTag/team", "blue"),
        HOLDS,
    );
    check(
        &same_team,
        with("aws:ResourceTag/team", "blue").with_value("aws:PrincipalTag/team", "red"),
        FAILS,
    );
    check(&same_team, with("aws:ResourceTag/team", "blue"), FAILS);
    let other_team =
        when(r#"{"StringNotEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#);
    check(&other_team, with("aws:ResourceTag/team", "blue"), HOLDS);
    check(
        &other_team,
        with("aws:ResourceTag/team", "blue").with_value("aws:PrincipalTag/team", "blue"),
        FAILS,
    );
    // Variables in ARN operators, and a substituted `*` staying literal.
    let own_role = when(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:iam::*:role/${aws:username}"}}"#);
    check(
        &own_role,
        with("aws:SourceArn", "arn:aws:iam::111122223333:role/adele")
            .with_value("aws:username", "adele"),
        HOLDS,
    );
    check(
        &own_role,
        with("aws:SourceArn", "arn:aws:iam::111122223333:role/adele")
            .with_value("aws:username", "*"),
        FAILS,
    );
    // A default value fills in for an absent key.
    let defaulted =
        when(r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'none'}"}}"#);
    check(&defaulted, with("aws:ResourceTag/team", "none"), HOLDS);
    // Typed values substitute as their text.
    check(
        &when(r#"{"StringEquals":{"x:copy":"${aws:SecureTransport}"}}"#),
        with("x:copy", "true").with_value("aws:SecureTransport", true),
        HOLDS,
    );
    // Bool accepts a variable too.
    check(
        &when(r#"{"Bool":{"x:flag":"${x:expected}"}}"#),
        with("x:flag", true).with_value("x:expected", "true"),
        HOLDS,
    );
    check(
        &when(r#"{"Bool":{"x:flag":"${x:expected}"}}"#),
        with("x:flag", true),
        FAILS,
    );
}
