//! Keyward's own replies of the common shape, read in one pass.
//!
//! Every cryptographic KMS reply (Encrypt, Decrypt, GenerateDataKey*,
//! ReEncrypt, Sign, GenerateMac …) is one compact JSON object whose members
//! are all strings, most of the bytes being a blob or a plaintext the event
//! skips. Read through serde_json, each member costs its whole machinery;
//! this reader takes exactly that shape — `{`, then `"name":"value"` pairs
//! separated by `,`, then `}` and the end, no whitespace, no escapes, no
//! control characters — and declines anything else, which the caller then
//! reads with serde_json as before. On the shape it accepts it reads what
//! serde_json reads (the strings are the same borrowed slices), so the event
//! does not depend on which reader read the reply.
//!
//! What it does not do: check UTF-8 (it reads a `str`) or know any member:
//! the caller decides what each name means, and may decline too.

use keyward_audit::json_string_run;

/// Calls `member` with each `(name, value)` of `reply` in order, if `reply`
/// has the shape of the module comment; `true` when it had that shape and
/// `member` accepted every member (returned `true`).
pub(super) fn for_each_member<'a>(
    reply: &'a str,
    mut member: impl FnMut(&'a str, &'a str) -> bool,
) -> bool {
    let Some(mut rest) = reply.strip_prefix('{') else {
        return false;
    };
    if rest == "}" {
        return true;
    }
    loop {
        let Some((name, after_name)) = string(rest) else {
            return false;
        };
        let Some((value, after_value)) = after_name.strip_prefix(':').and_then(string) else {
            return false;
        };
        if !member(name, value) {
            return false;
        }
        if after_value == "}" {
            return true;
        }
        match after_value.strip_prefix(',') {
            Some(next) => rest = next,
            None => return false,
        }
    }
}

/// The string at the start of `text` and what follows it, if it is a string
/// without escapes or control characters.
fn string(text: &str) -> Option<(&str, &str)> {
    let inside = text.strip_prefix('"')?;
    let end = json_string_run(inside.as_bytes());
    let rest = inside.get(end..)?.strip_prefix('"')?;
    Some((inside.get(..end)?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::super::loose_json::Loose;

    /// What `for_each_member` reads, or `None` when it declines.
    fn read(reply: &str) -> Option<Vec<(String, String)>> {
        let mut members = Vec::new();
        for_each_member(reply, |name, value| {
            members.push((name.to_owned(), value.to_owned()));
            true
        })
        .then_some(members)
    }

    #[test]
    fn the_shape_of_a_cryptographic_reply_and_nothing_else() {
        assert_eq!(read("{}"), Some(vec![]));
        assert_eq!(
            read(r#"{"KeyId":"arn:k","Plaintext":"c2VjcmV0","":""}"#),
            Some(vec![
                ("KeyId".into(), "arn:k".into()),
                ("Plaintext".into(), "c2VjcmV0".into()),
                (String::new(), String::new()),
            ])
        );
        for declined in [
            "",
            "{",
            "}",
            "{}}",
            " {}",
            "{} ",
            r#"{"a":"b",}"#,
            r#"{"a":"b"} "#,
            r#"{"a": "b"}"#,
            r#"{"a":1}"#,
            r#"{"a":null}"#,
            r#"{"a":{"b":"c"}}"#,
            r#"{"a":["b"]}"#,
            r#"{"a":"b\"c"}"#,
            r#"{"a":"b\nc"}"#,
            "{\"a\":\"b\u{1}c\"}",
            r#"{"a":"b""c":"d"}"#,
            r#"{"a""b"}"#,
            r#"["a","b"]"#,
        ] {
            assert_eq!(read(declined), None, "{declined}");
        }
    }

    /// A reply built from raw members (nothing escaped, so a quote or a
    /// control character in them makes odd JSON), perhaps with one more
    /// character somewhere.
    fn reply() -> impl Strategy<Value = String> {
        let text = "[a-zA-Z0-9+/=:\u{e9} \"\\\\\\x01\\n{},]{0,12}";
        (
            proptest::collection::vec((text, text), 0..5),
            proptest::option::of((any::<proptest::sample::Index>(), "[ \\n,:{}\"a0\\[\\]]")),
        )
            .prop_map(|(members, extra)| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(name, value)| format!("\"{name}\":\"{value}\""))
                    .collect();
                let mut reply = format!("{{{}}}", members.join(","));
                if let Some((at, extra)) = extra {
                    let boundaries: Vec<usize> = (0..=reply.len())
                        .filter(|at| reply.is_char_boundary(*at))
                        .collect();
                    reply.insert_str(*at.get(&boundaries), &extra);
                }
                reply
            })
    }

    proptest! {
        /// Whatever it accepts, serde_json reads as the same object: the same
        /// members in the same order, repeated names included.
        #[test]
        fn what_it_accepts_serde_json_reads_alike(reply in reply()) {
            if let Some(members) = read(&reply) {
                let parsed = serde_json::from_str::<Loose<'_>>(&reply);
                let Ok(Loose::Object(parsed)) = parsed else {
                    return Err(TestCaseError::fail(format!("serde_json: {parsed:?} for {reply}")));
                };
                let parsed: Vec<(String, String)> = parsed
                    .into_iter()
                    .map(|(name, value)| (name.into_owned(), value.into_text().into_owned()))
                    .collect();
                prop_assert_eq!(members, parsed);
            }
        }

        /// And it accepts every reply of that shape.
        #[test]
        fn it_reads_every_flat_reply(members in proptest::collection::vec(("[a-zA-Z0-9+/=:, {}\u{e9}]{0,12}", "[a-zA-Z0-9+/=:, {}\u{e9}]{0,40}"), 0..5)) {
            let reply = format!(
                "{{{}}}",
                members.iter().map(|(name, value)| format!("\"{name}\":\"{value}\"")).collect::<Vec<_>>().join(",")
            );
            prop_assert_eq!(read(&reply), Some(members));
        }
    }
}
