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

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Escapes text for an XML element or attribute (`&`, `<`, `>`, `"`, `'`).
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// A result body under construction.
pub struct Xml(Writer<Vec<u8>>);

impl Default for Xml {
    fn default() -> Xml {
        Xml(Writer::new(Vec::new()))
    }
}

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    pub fn open(&mut self, tag: &str) -> &mut Xml {
        self.write(Event::Start(BytesStart::new(tag)));
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Xml {
        self.write(Event::End(BytesEnd::new(tag)));
        self
    }

    /// `<tag>escaped text</tag>`.
    pub fn text(&mut self, tag: &str, value: &str) -> &mut Xml {
        // Writing into a Vec cannot fail.
        let _ = self
            .0
            .create_element(tag)
            .write_text_content(BytesText::new(value));
        self
    }

    pub fn optional(&mut self, tag: &str, value: Option<&str>) -> &mut Xml {
        if let Some(value) = value {
            self.text(tag, value);
        }
        self
    }

    /// Writes already-formed XML as it is.
    fn raw(&mut self, xml: &str) -> &mut Xml {
        self.write(Event::Text(BytesText::from_escaped(xml)));
        self
    }

    pub fn into_string(self) -> String {
        // Only `&str`s were written, so the bytes are UTF-8.
        String::from_utf8(self.0.into_inner())
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }

    fn write(&mut self, event: Event<'_>) {
        // Writing into a Vec cannot fail.
        let _ = self.0.write_event(event);
    }
}

/// The whole response document for `action`, with `result` (the inside of
/// `<ActionResult>`) or without one.
pub fn response(action: &str, namespace: &str, result: Option<&str>, request_id: &str) -> String {
    let response_tag = format!("{action}Response");
    let mut xml = Xml::new();
    xml.write(Event::Start(
        BytesStart::new(response_tag.as_str()).with_attributes([("xmlns", namespace)]),
    ));
    if let Some(result) = result {
        let result_tag = format!("{action}Result");
        xml.open(&result_tag).raw(result).close(&result_tag);
    }
    xml.open("ResponseMetadata")
        .text("RequestId", request_id)
        .close("ResponseMetadata")
        .close(&response_tag);
    xml.into_string()
}

/// ISO 8601 in UTC to the second, as IAM and STS write timestamps.
const TIMESTAMP: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// An ISO 8601 UTC timestamp of epoch milliseconds, seconds precision.
/// Times outside years -9999..=9999 (which no clock of ours reaches) are
/// written as the nearest of those bounds.
pub fn timestamp(epoch_ms: i64) -> String {
    let time =
        OffsetDateTime::from_unix_timestamp(epoch_ms.div_euclid(1000)).unwrap_or_else(|_| {
            let bound = if epoch_ms < 0 {
                PrimitiveDateTime::MIN
            } else {
                PrimitiveDateTime::MAX
            };
            bound.assume_utc()
        });
    time.format(TIMESTAMP).unwrap_or_default()
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

    #[test]
    fn text_escapes_the_five_xml_characters_and_keeps_empty_elements_open() {
        let mut xml = Xml::new();
        xml.text("Description", "<a href=\"x\">'&'</a>")
            .text("Empty", "")
            .optional("Absent", None)
            .optional("Present", Some("p"));
        assert_eq!(
            xml.into_string(),
            "<Description>&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;</Description><Empty></Empty><Present>p</Present>"
        );
        assert_eq!(escape("\"'<>&"), "&quot;&apos;&lt;&gt;&amp;");
    }

    #[test]
    fn timestamps_outside_the_calendar_range_are_written_at_its_bounds() {
        assert_eq!(timestamp(-1), "1969-12-31T23:59:59Z");
        assert_eq!(timestamp(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(timestamp(i64::MIN), "-9999-01-01T00:00:00Z");
    }
}
