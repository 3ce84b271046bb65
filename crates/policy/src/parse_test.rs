//! Documents that must be refused, each with the exact message its author sees,
//! and documents that must be accepted.

use crate::check::{kind_of, KEY_POLICY_LIMIT};
use crate::{
    Policy, PolicyError, PolicyKind, PolicyVersion, PrincipalName, StatementError,
    StatementLocation,
};

/// Parses `document` (kind chosen as `check` does) and expects `message`.
#[track_caller]
fn check_error(document: &str, message: &str) {
    check_error_as(kind_of(document), document, message);
}

#[track_caller]
fn check_error_as(kind: PolicyKind, document: &str, message: &str) {
    match Policy::parse(document, kind, KEY_POLICY_LIMIT) {
        Ok(policy) => panic!("accepted, expected {message:?}:\n{document}\n{policy:#?}"),
        Err(error) => assert_eq!(error.to_string(), message, "\n{document}"),
    }
}

/// Parses `document` as a resource policy, which must succeed, and checks
/// [`Policy::require_complete_statements`]: `None` for a complete document,
/// else the message it refuses the document with.
#[track_caller]
fn check_complete(document: &str, expected: Option<&str>) {
    let policy = Policy::parse(document, PolicyKind::Resource, KEY_POLICY_LIMIT)
        .unwrap_or_else(|error| panic!("does not parse: {error}\n{document}"));
    let actual = policy
        .require_complete_statements()
        .err()
        .map(|error| error.to_string());
    assert_eq!(actual.as_deref(), expected, "\n{document}");
}

/// A one-statement identity policy with `statement_members` inside the statement.
fn identity(statement_members: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":{{{statement_members}}}}}"#)
}

/// A one-statement resource policy (Principal "*") with extra members.
fn resource(statement_members: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",{statement_members}}}}}"#
    )
}

fn condition(block: &str) -> String {
    identity(&format!(
        r#""Effect":"Allow","Action":"*","Resource":"*","Condition":{block}"#
    ))
}

#[test]
fn document_level_errors() {
    let rows: &[(&str, &str)] = &[
        ("", "the policy document is not valid JSON: EOF while parsing a value at line 1 column 0"),
        ("{", "the policy document is not valid JSON: EOF while parsing an object at line 1 column 1"),
        (
            r#"{"Statement":[], "Statement":[]}"#,
            "the policy document is not valid JSON: the key \"Statement\" appears twice in one object at line 1 column 28",
        ),
        ("[]", "the policy document must be a JSON object, not a list"),
        ("\"policy\"", "the policy document must be a JSON object, not a string"),
        ("{}", "the policy document has no Statement element"),
        (
            r#"{"Version":"2012-10-17","Statement":[],"Sid":"x"}"#,
            "unknown policy element \"Sid\"; a policy has only Version, Id and Statement",
        ),
        (
            r#"{"version":"2012-10-17","Statement":[]}"#,
            "unknown policy element \"version\"; a policy has only Version, Id and Statement",
        ),
        (
            r#"{"Version":"2012-10-18","Statement":[]}"#,
            "Version must be \"2012-10-17\" or \"2008-10-17\", not \"2012-10-18\"",
        ),
        (r#"{"Version":20121017,"Statement":[]}"#, "Version must be a string, not a number"),
        (r#"{"Id":["a"],"Statement":[]}"#, "Id must be a string, not a list"),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            "Statement must not be an empty list",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":"Allow"}"#,
            "Statement must be an object or a list of objects, not a string",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},"x"]}"#,
            "Statement[1]: a statement must be a JSON object, not a string",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            "the Sid \"A\" is used by more than one statement; statement IDs must be unique within an identity policy",
        ),
    ];
    for (document, message) in rows {
        check_error(document, message);
    }
}

#[test]
fn size_limit() {
    let padding = " ".repeat(KEY_POLICY_LIMIT);
    let document =
        format!(r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"*"}}}}{padding}"#);
    check_error(
        &document,
        &format!(
            "the policy document is {} bytes long, more than the limit of 32768 bytes",
            document.len()
        ),
    );
    let error = Policy::parse(r#"{"Statement":[]}"#, PolicyKind::Identity, 10).unwrap_err();
    assert!(
        matches!(
            error,
            PolicyError::TooLarge {
                size: 16,
                limit: 10
            }
        ),
        "{error:?}"
    );
    // Exactly at the limit is fine.
    let exact = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    Policy::parse(exact, PolicyKind::Identity, exact.len()).unwrap();
}

#[test]
fn statement_element_errors() {
    let rows: Vec<(String, &str)> = vec![
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"*","Actions":"*""#),
            "Statement[0]: unknown statement element \"Actions\"; a statement has only Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource and Condition",
        ),
        (
            identity(r#""Action":"*","Resource":"*""#),
            "Statement[0]: the statement has no Effect; it must be \"Allow\" or \"Deny\"",
        ),
        (
            identity(r#""Sid":"Lower","Effect":"allow","Action":"*","Resource":"*""#),
            "Statement[0] (Sid \"Lower\"): Effect must be \"Allow\" or \"Deny\" (case-sensitive), not \"allow\"",
        ),
        (
            identity(r#""Effect":true,"Action":"*","Resource":"*""#),
            "Statement[0]: Effect must be a string, not a boolean",
        ),
        (
            identity(r#""Sid":7,"Effect":"Allow","Action":"*","Resource":"*""#),
            "Statement[0]: Sid must be a string, not a number",
        ),
        (
            identity(r#""Sid":"Allow use","Effect":"Allow","Action":"*","Resource":"*""#),
            "Statement[0] (Sid \"Allow use\"): the Sid \"Allow use\" has characters other than ASCII letters and digits, which an identity policy does not allow",
        ),
        (
            identity(r#""Effect":"Allow","Action":"kms:Decrypt","NotAction":"kms:Encrypt","Resource":"*""#),
            "Statement[0]: Action and NotAction cannot both appear in one statement",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"*","NotResource":"arn:aws:s3:::b""#),
            "Statement[0]: Resource and NotResource cannot both appear in one statement",
        ),
        (
            identity(r#""Effect":"Allow","Resource":"*""#),
            "Statement[0]: the statement has neither Action nor NotAction",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*""#),
            "Statement[0]: the statement has neither Resource nor NotResource",
        ),
        (
            identity(r#""Effect":"Allow","Action":[],"Resource":"*""#),
            "Statement[0]: Action must not be an empty list",
        ),
        (
            identity(r#""Effect":"Allow","Action":["kms:Decrypt",3],"Resource":"*""#),
            "Statement[0]: Action must be a string or a list of strings, not a number",
        ),
        (
            identity(r#""Effect":"Allow","Action":{"kms":"Decrypt"},"Resource":"*""#),
            "Statement[0]: Action must be a string or a list of strings, not an object",
        ),
        (
            identity(r#""Effect":"Allow","Action":"Decrypt","Resource":"*""#),
            "Statement[0]: invalid action \"Decrypt\": an action is \"*\" or a service prefix and a name, as in \"kms:Decrypt\"",
        ),
        (
            identity(r#""Effect":"Allow","Action":"kms:","Resource":"*""#),
            "Statement[0]: invalid action \"kms:\": an action is \"*\" or a service prefix and a name, as in \"kms:Decrypt\"",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*:Decrypt","Resource":"*""#),
            "Statement[0]: invalid action \"*:Decrypt\": an action is \"*\" or a service prefix and a name, as in \"kms:Decrypt\"",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"my-bucket""#),
            "Statement[0]: invalid resource \"my-bucket\": a resource is \"*\" or an ARN beginning with \"arn:\"",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","NotResource":[]"#),
            "Statement[0]: NotResource must not be an empty list",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${aws:username""#),
            "Statement[0]: invalid policy variable in \"arn:aws:s3:::${aws:username\": \"${\" is not closed by \"}\"",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${}""#),
            "Statement[0]: invalid policy variable in \"arn:aws:s3:::${}\": \"${}\" names no condition key",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${aws:username, none}""#),
            "Statement[0]: invalid policy variable in \"arn:aws:s3:::${aws:username, none}\": a default value must be in single quotes, as in ${aws:PrincipalTag/team, 'none'}",
        ),
        (
            identity(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${username}""#),
            "Statement[0]: invalid policy variable in \"arn:aws:s3:::${username}\": a variable names a condition key with a service prefix, as in ${aws:username}",
        ),
    ];
    for (document, message) in &rows {
        check_error(document, message);
    }
}

#[test]
fn principal_errors() {
    check_error_as(
        PolicyKind::Identity,
        &identity(r#""Effect":"Allow","Principal":"*","Action":"*","Resource":"*""#),
        "Statement[0]: an identity policy must not have a Principal element: its principal is the identity it is attached to",
    );
    check_error_as(
        PolicyKind::Identity,
        &identity(r#""Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*""#),
        "Statement[0]: an identity policy must not have a NotPrincipal element: its principal is the identity it is attached to",
    );
    // A resource policy statement must name its principal.
    check_error_as(
        PolicyKind::Resource,
        &identity(r#""Effect":"Allow","Action":"*","Resource":"*""#),
        "Statement[0]: a resource policy statement must name a Principal or NotPrincipal",
    );
    let rows: Vec<(String, &str)> = vec![
        (
            resource(r#""NotPrincipal":"*""#),
            "Statement[0]: Principal and NotPrincipal cannot both appear in one statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: NotPrincipal can only be used with \"Effect\": \"Deny\"",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Sid":"NoOne","Effect":"Allow","Action":"*","Resource":"*","Principal":{}}]}"#.to_owned(),
            "Statement[1] (Sid \"NoOne\"): Principal must not be an empty object",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"111122223333","Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: Principal must be \"*\" or an object such as {\"AWS\": \"111122223333\"}, not a string",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"aws":"*"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: unknown principal type \"aws\"; expected AWS, Service or Federated",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"79a59df9"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: unknown principal type \"CanonicalUser\"; expected AWS, Service or Federated",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid AWS principal \"arn:aws:iam::111122223333:user/*\": a wildcard cannot match part of a principal ARN",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"11112222333"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid AWS principal \"11112222333\": expected \"*\", a 12-digit account ID, or an IAM or STS ARN such as arn:aws:iam::111122223333:root",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1111:root"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid AWS principal \"arn:aws:iam::1111:root\": the ARN's account is not a 12-digit account ID",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/admins"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid AWS principal \"arn:aws:iam::111122223333:group/admins\": expected an account root, user or role ARN (iam) or an assumed-role or federated-user ARN (sts)",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/OnlyRole"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid AWS principal \"arn:aws:sts::111122223333:assumed-role/OnlyRole\": expected an account root, user or role ARN (iam) or an assumed-role or federated-user ARN (sts)",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"*.amazonaws.com"},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid Service principal \"*.amazonaws.com\": expected a service principal name such as logs.amazonaws.com, without wildcards",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":[]},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: Principal must not be an empty list",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"Federated":""},"Action":"*","Resource":"*"}}"#.to_owned(),
            "Statement[0]: invalid Federated principal \"\": expected an identity provider such as cognito-identity.amazonaws.com or a SAML provider ARN, without wildcards",
        ),
    ];
    for (document, message) in &rows {
        check_error(document, message);
    }
}

#[test]
fn condition_errors() {
    let rows: Vec<(String, &str)> = vec![
        (
            condition(r#""StringEquals""#),
            "Statement[0]: Condition must be an object that maps condition operators to {key: value} objects, not a string",
        ),
        (
            condition(r#"{"StringEqual":{"aws:username":"a"}}"#),
            "Statement[0]: unknown condition operator \"StringEqual\" (operator names are case-sensitive)",
        ),
        (
            condition(r#"{"stringEquals":{"aws:username":"a"}}"#),
            "Statement[0]: unknown condition operator \"stringEquals\" (operator names are case-sensitive)",
        ),
        (
            condition(r#"{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}"#),
            "Statement[0]: unknown condition operator \"ForSomeValues:StringEquals\" (operator names are case-sensitive)",
        ),
        (
            condition(r#"{"NullIfExists":{"aws:username":"true"}}"#),
            "Statement[0]: the Null condition operator cannot take IfExists",
        ),
        (
            condition(r#"{"ForAnyValue:Null":{"aws:TagKeys":"true"}}"#),
            "Statement[0]: the Null condition operator cannot take a ForAllValues: or ForAnyValue: qualifier",
        ),
        (
            condition(r#"{"StringEquals":"aws:username"}"#),
            "Statement[0]: condition operator StringEquals must map to an object of condition keys, not a string",
        ),
        (
            condition(r#"{"StringEquals":{"username":"a"}}"#),
            "Statement[0]: invalid condition key \"username\" under StringEquals: a key has a service prefix, as in \"aws:SourceIp\"",
        ),
        (
            condition(r#"{"StringEquals":{"aws:username":null}}"#),
            "Statement[0]: condition StringEquals {\"aws:username\": ...}: values must be strings, numbers or booleans, or a list of them, not null",
        ),
        (
            condition(r#"{"StringEquals":{"aws:username":{"a":"b"}}}"#),
            "Statement[0]: condition StringEquals {\"aws:username\": ...}: values must be strings, numbers or booleans, or a list of them, not an object",
        ),
        (
            condition(r#"{"StringEquals":{"aws:username":[["a"]]}}"#),
            "Statement[0]: condition StringEquals {\"aws:username\": ...}: values must be strings, numbers or booleans, or a list of them, not a list",
        ),
        (
            condition(r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#),
            "Statement[0]: condition NumericLessThan {\"s3:max-keys\": \"ten\"}: the value must be a decimal number such as 10 or -2.5",
        ),
        (
            condition(r#"{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}"#),
            "Statement[0]: condition DateGreaterThan {\"aws:CurrentTime\": \"yesterday\"}: the value must be an ISO 8601 date such as 2020-01-01T00:00:00Z, or epoch seconds",
        ),
        (
            condition(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#),
            "Statement[0]: condition Bool {\"aws:SecureTransport\": \"yes\"}: the value must be \"true\" or \"false\"",
        ),
        (
            condition(r#"{"Null":{"aws:TokenIssueTime":"maybe"}}"#),
            "Statement[0]: condition Null {\"aws:TokenIssueTime\": \"maybe\"}: the value must be \"true\" (the key is absent) or \"false\" (the key is present)",
        ),
        (
            condition(r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/33"}}"#),
            "Statement[0]: condition IpAddress {\"aws:SourceIp\": \"203.0.113.0/33\"}: the value must be an IPv4 or IPv6 address or CIDR block such as 203.0.113.0/24",
        ),
        (
            condition(r#"{"BinaryEquals":{"x:blob":"not base64!"}}"#),
            "Statement[0]: condition BinaryEquals {\"x:blob\": \"not base64!\"}: the value must be base64-encoded bytes",
        ),
        (
            condition(r#"{"StringLike":{"s3:prefix":"${aws:username"}}"#),
            "Statement[0]: condition StringLike {\"s3:prefix\": \"${aws:username\"}: the value must be a string whose ${...} policy variables are well formed",
        ),
        // Numeric and date operators take no policy variables.
        (
            condition(r#"{"NumericEquals":{"x:n":"${x:m}"}}"#),
            "Statement[0]: condition NumericEquals {\"x:n\": \"${x:m}\"}: the value must be a decimal number such as 10 or -2.5",
        ),
    ];
    for (document, message) in &rows {
        check_error(document, message);
    }
}

/// A resource policy statement without an action or a resource parses (it
/// never applies, and documents stored when services allowed it must load),
/// and is refused by `require_complete_statements`, which new documents go
/// through. `Effect` and the principal are required by parsing itself.
#[test]
fn incomplete_resource_policy_statements() {
    let rows: &[(&str, Option<&str>)] = &[
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            None,
        ),
        (
            r#"{"Statement":{"Effect":"Deny","Principal":"*","NotAction":"kms:Decrypt","NotResource":"arn:aws:kms:*"}}"#,
            None,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}"#,
            Some("Statement[0]: the statement has neither Action nor NotAction"),
        ),
        (
            r#"{"Statement":{"Sid":"No resource","Effect":"Allow","Principal":"*","Action":"kms:*"}}"#,
            Some("Statement[0] (Sid \"No resource\"): the statement has neither Resource nor NotResource"),
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#,
            Some("Statement[0]: the statement has neither Action nor NotAction"),
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
                {"Effect":"Deny","Principal":"*","Action":"*"}]}"#,
            Some("Statement[1]: the statement has neither Resource nor NotResource"),
        ),
    ];
    for (document, expected) in rows {
        check_complete(document, *expected);
    }
    for (statement_members, message) in [
        (
            r#""Principal":"*","Action":"*","Resource":"*""#,
            "Statement[0]: the statement has no Effect; it must be \"Allow\" or \"Deny\"",
        ),
        (
            r#""Effect":"Allow","Action":"*","Resource":"*""#,
            "Statement[0]: a resource policy statement must name a Principal or NotPrincipal",
        ),
    ] {
        check_error_as(
            PolicyKind::Resource,
            &format!(r#"{{"Statement":{{{statement_members}}}}}"#),
            message,
        );
    }
}

#[test]
fn accepted_documents() {
    // Every operator name AWS documents, with each modifier it allows.
    let operators = [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
    ];
    for operator in operators {
        for name in [
            operator.to_owned(),
            format!("{operator}IfExists"),
            format!("ForAllValues:{operator}"),
            format!("ForAnyValue:{operator}IfExists"),
        ] {
            let document = condition(&format!(
                r#"{{"{name}":{{"aws:SourceArn":"arn:aws:s3:::b"}}}}"#
            ));
            Policy::parse(&document, PolicyKind::Identity, KEY_POLICY_LIMIT)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }
    for (operator, value) in [
        ("NumericEquals", "1"),
        ("NumericNotEquals", "1"),
        ("NumericLessThan", "1"),
        ("NumericLessThanEquals", "1"),
        ("NumericGreaterThan", "1"),
        ("NumericGreaterThanEquals", "1"),
        ("DateEquals", "2020-01-01"),
        ("DateNotEquals", "2020-01-01"),
        ("DateLessThan", "2020-01-01"),
        ("DateLessThanEquals", "2020-01-01"),
        ("DateGreaterThan", "2020-01-01"),
        ("DateGreaterThanEquals", "2020-01-01"),
        ("Bool", "true"),
        ("BinaryEquals", "AAEC"),
        ("IpAddress", "10.0.0.0/8"),
        ("NotIpAddress", "::1"),
        ("Null", "true"),
    ] {
        let document = condition(&format!(r#"{{"{operator}":{{"x:key":"{value}"}}}}"#));
        Policy::parse(&document, PolicyKind::Identity, KEY_POLICY_LIMIT)
            .unwrap_or_else(|error| panic!("{operator}: {error}"));
    }

    // The default key policy, with its introspection.
    let policy = Policy::parse(
        r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
        PolicyKind::Resource,
        KEY_POLICY_LIMIT,
    )
    .unwrap();
    assert_eq!(policy.id(), Some("key-default-1"));
    assert_eq!(policy.version(), PolicyVersion::V2012_10_17);
    assert_eq!(policy.kind(), PolicyKind::Resource);
    assert_eq!(policy.statement_count(), 1);
    assert_eq!(
        policy.named_principals(),
        vec![PrincipalName::Account("111122223333".into())]
    );

    let principals = Policy::parse(
        r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:root","arn:aws:iam::444455556666:role/R"]},"Action":"*","Resource":"*"},
            {"Effect":"Deny","NotPrincipal":{"Service":"logs.amazonaws.com","Federated":"accounts.google.com"},"Action":"*","Resource":"*"},
            {"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Resource,
        KEY_POLICY_LIMIT,
    )
    .unwrap();
    assert_eq!(principals.version(), PolicyVersion::V2008_10_17);
    assert_eq!(
        principals.named_principals(),
        vec![
            PrincipalName::Account("111122223333".into()),
            PrincipalName::Arn("arn:aws:iam::444455556666:role/R".into()),
            PrincipalName::Service("logs.amazonaws.com".into()),
            PrincipalName::Federated("accounts.google.com".into()),
            PrincipalName::Everyone,
        ]
    );

    // In identity policies Sids may be empty (and then repeat) or absent.
    Policy::parse(
        r#"{"Statement":[{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
        KEY_POLICY_LIMIT,
    )
    .unwrap();
    // Resource policies may repeat Sids and use any characters in them.
    Policy::parse(
        r#"{"Statement":[{"Sid":"Key users","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Sid":"Key users","Effect":"Deny","Principal":"*","Action":"kms:Sign","Resource":"*"}]}"#,
        PolicyKind::Resource,
        KEY_POLICY_LIMIT,
    )
    .unwrap();
    // An empty condition value list is accepted.
    Policy::parse(
        &condition(r#"{"StringEquals":{"aws:username":[]}}"#),
        PolicyKind::Identity,
        KEY_POLICY_LIMIT,
    )
    .unwrap();
    // Version 2008-10-17 does not read `${`, so an unclosed one is just text.
    Policy::parse(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${oops"}}"#,
        PolicyKind::Identity,
        KEY_POLICY_LIMIT,
    )
    .unwrap();
}

#[test]
fn statement_errors_are_typed() {
    let error = Policy::parse(
        &identity(r#""Sid":"S","Action":"*","Resource":"*""#),
        PolicyKind::Identity,
        KEY_POLICY_LIMIT,
    )
    .unwrap_err();
    match error {
        PolicyError::Statement { at, reason } => {
            assert_eq!(
                at,
                StatementLocation {
                    index: 0,
                    sid: Some("S".into())
                }
            );
            assert_eq!(reason, StatementError::MissingEffect);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn condition_keys_lists_every_key_a_document_reads() {
    let policy = crate::Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/${aws:PrincipalTag/Team}",
             "Condition":{"StringEquals":{"kms:EncryptionContext:App":"${aws:username}","aws:SourceAccount":"1"},
                          "Bool":{"aws:SecureTransport":"true"}}},
            {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
             "Condition":{"StringEquals":{"aws:SourceAccount":"2"}}}]}"#,
        crate::PolicyKind::Resource,
        32_768,
    )
    .unwrap();
    assert_eq!(
        policy.condition_keys(),
        [
            "aws:principaltag/team",
            "aws:securetransport",
            "aws:sourceaccount",
            "aws:username",
            "kms:encryptioncontext:app",
        ]
    );
    assert!(policy.reads_key("AWS:SourceAccount"));
    assert!(!policy.reads_key("aws:SourceArn"));
    assert!(policy.reads_key_prefix("kms:EncryptionContext:"));
    assert!(!policy.reads_key_prefix("aws:ResourceTag/"));
    let plain = crate::Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
        crate::PolicyKind::Resource,
        32_768,
    )
    .unwrap();
    assert!(plain.condition_keys().is_empty());
    let unicode = crate::Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:ÜBER":"x"}}}}"#,
        crate::PolicyKind::Resource,
        32_768,
    )
    .unwrap();
    assert!(unicode.reads_key("kms:EncryptionContext:über"));
    assert!(unicode.reads_key("KMS:ENCRYPTIONCONTEXT:ÜBER"));
    assert!(unicode.reads_key_prefix("kms:encryptioncontext:"));
}
