//! Writing AWS Query XML responses: the `<ActionResponse>` envelope, escaped
//! text, timestamps and URL-encoded policy documents.
//!
//! AWS shapes relied on (IAM API reference, "Sample Response" of each
//! action): `<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//! <CreateUserResult>…</CreateUserResult><ResponseMetadata><RequestId>…
//! </RequestId></ResponseMetadata></CreateUserResponse>`; actions without
//! output omit the `…Result` element; lists are `<member>` elements;
//! timestamps are ISO 8601 in UTC (`2026-11-23T20:25:00Z`).

use std::fmt::Write as _;

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Escapes text for an XML element or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// A result body under construction.
#[derive(Default)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    pub fn open(&mut self, tag: &str) -> &mut Xml {
        let _ = write!(self.0, "<{tag}>");
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Xml {
        let _ = write!(self.0, "</{tag}>");
        self
    }

    /// `<tag>escaped text</tag>`.
    pub fn text(&mut self, tag: &str, value: &str) -> &mut Xml {
        let _ = write!(self.0, "<{tag}>{}</{tag}>", escape(value));
        self
    }

    pub fn optional(&mut self, tag: &str, value: Option<&str>) -> &mut Xml {
        if let Some(value) = value {
            self.text(tag, value);
        }
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The whole response document for `action`, with `result` (the inside of
/// `<ActionResult>`) or without one.
pub fn response(action: &str, namespace: &str, result: Option<&str>, request_id: &str) -> String {
    let mut out = format!("<{action}Response xmlns=\"{namespace}\">");
    if let Some(result) = result {
        let _ = write!(out, "<{action}Result>{result}</{action}Result>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    );
    out
}

/// An ISO 8601 UTC timestamp of epoch milliseconds, seconds precision.
pub fn timestamp(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (y, m, d).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Percent-encodes a policy document as IAM returns it ("The policy document
/// returned in this structure is URL-encoded compliant with RFC 3986",
/// GetUserPolicy/GetRole reference). Only unreserved characters stay as they are.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_escaping_dates_and_encoding() {
        assert_eq!(
            response("DeleteUser", IAM_NAMESPACE, None, "r-1"),
            "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DeleteUserResponse>"
        );
        let mut xml = Xml::new();
        xml.open("User").text("UserName", "a<b&c").close("User");
        assert_eq!(
            response("GetUser", IAM_NAMESPACE, Some(&xml.into_string()), "r"),
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User><UserName>a&lt;b&amp;c</UserName></User></GetUserResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetUserResponse>"
        );
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_795_465_500_000), "2026-11-23T20:25:00Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(url_encode("{\"a\": 1}"), "%7B%22a%22%3A%201%7D");
    }
}
