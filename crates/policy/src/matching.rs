//! Wildcard matching: `*` and `?` patterns, and the ARN-segment-aware variant.
//!
//! Patterns are token lists rather than strings so that a literal `*` (written
//! `${*}` in a policy, or arriving inside a substituted variable) can never act
//! as a wildcard. Matching is iterative with one backtrack point, so it runs in
//! O(pattern × text) time whatever the pattern; a policy cannot make it blow up.
//!
//! This module does not decide case rules: callers lowercase both sides when a
//! comparison is case-insensitive (actions, `StringEqualsIgnoreCase`).

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobToken {
    Literal(char),
    /// `*`: any run of characters, including none.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
}

/// Reads `*` and `?` as wildcards and every other character literally.
pub(crate) fn glob_tokens(pattern: &str) -> Vec<GlobToken> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => GlobToken::AnyRun,
            '?' => GlobToken::AnyChar,
            other => GlobToken::Literal(other),
        })
        .collect()
}

/// Whether `text` matches the whole of `pattern`.
pub(crate) fn glob_match(pattern: &[GlobToken], text: &str) -> bool {
    let mut token_idx = 0;
    let mut text_pos = 0;
    // After a `*`: the token just past it and the text position it has reached.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        let next_char = text.get(text_pos..).and_then(|rest| rest.chars().next());
        let advanced = match (pattern.get(token_idx), next_char) {
            (Some(GlobToken::AnyRun), _) => {
                backtrack = Some((token_idx + 1, text_pos));
                token_idx += 1;
                true
            }
            (Some(GlobToken::AnyChar), Some(c)) => {
                token_idx += 1;
                text_pos += c.len_utf8();
                true
            }
            (Some(GlobToken::Literal(expected)), Some(c)) if *expected == c => {
                token_idx += 1;
                text_pos += c.len_utf8();
                true
            }
            (None, None) => return true,
            _ => false,
        };
        if advanced {
            continue;
        }
        // Mismatch: let the last `*` swallow one more character and retry.
        let Some((resume_token, star_pos)) = backtrack else {
            return false;
        };
        let Some(c) = text.get(star_pos..).and_then(|rest| rest.chars().next()) else {
            return false;
        };
        let star_pos = star_pos + c.len_utf8();
        backtrack = Some((resume_token, star_pos));
        token_idx = resume_token;
        text_pos = star_pos;
    }
}

/// The number of colon-separated ARN segments (`arn:partition:service:region:account:resource`).
const ARN_SEGMENTS: usize = 6;

/// ARN matching as `ArnLike` and the `Resource` element do it: "Each of the six
/// colon-delimited components of the ARN is checked separately and each can
/// include multi-character match wildcards (*) or single-character match
/// wildcards (?)"
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>,
/// and "wildcard characters (* and ?) within ARN segments" in
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>).
/// So `*` never crosses one of the first five colons. The sixth segment keeps
/// any further colons, as in `log-group:name:*`.
///
/// A pattern with fewer than six segments (`*`, or `arn:aws:kms:*`) lets its
/// last segment take the rest of the value; that is how `"Resource": "*"`
/// matches everything.
pub(crate) fn arn_match(pattern: &[GlobToken], value: &str) -> bool {
    let mut pattern_segments = pattern
        .splitn(ARN_SEGMENTS, |token| *token == GlobToken::Literal(':'))
        .peekable();
    let mut rest = value;
    while let Some(segment_pattern) = pattern_segments.next() {
        let segment = if pattern_segments.peek().is_none() {
            std::mem::take(&mut rest)
        } else {
            let Some((segment, tail)) = rest.split_once(':') else {
                return false;
            };
            rest = tail;
            segment
        };
        if !glob_match(segment_pattern, segment) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        glob_match(&glob_tokens(pattern), text)
    }

    fn arn(pattern: &str, text: &str) -> bool {
        arn_match(&glob_tokens(pattern), text)
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything at all", true),
            ("?", "", false),
            ("?", "é", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("kms:*crypt", "kms:Decrypt", true),
            ("kms:*crypt", "kms:Encrypted", false),
            ("**", "x", true),
            ("a*", "a", true),
            ("*aab", "aaaab", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob(pattern, text), expected, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn a_pathological_pattern_finishes() {
        let text = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(200));
        assert!(!glob(&pattern, &text));
    }

    #[test]
    fn arn_segments_table() {
        let cases = [
            ("*", "arn:aws:kms:us-east-1:111122223333:key/k", true),
            (
                "arn:aws:kms:*",
                "arn:aws:kms:us-east-1:111122223333:key/k",
                true,
            ),
            (
                "arn:aws:kms:*:111122223333:key/*",
                "arn:aws:kms:eu-west-1:111122223333:key/k",
                true,
            ),
            (
                "arn:aws:kms:*:111122223333:key/*",
                "arn:aws:kms:eu-west-1:444455556666:key/k",
                false,
            ),
            // A `*` cannot swallow a colon before the resource segment.
            (
                "arn:aws:kms:*:key/*",
                "arn:aws:kms:eu-west-1:111122223333:key/k",
                false,
            ),
            (
                "arn:aws:logs:*:*:log-group:app:*",
                "arn:aws:logs:us-east-1:1:log-group:app:stream",
                true,
            ),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", true),
            ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/x", false),
            ("arn:aws:s3:::*", "not-an-arn", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(arn(pattern, text), expected, "{pattern:?} vs {text:?}");
        }
    }
}
