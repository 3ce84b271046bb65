//! Dates for the `Date*` operators.
//!
//! AWS: "You must specify date/time values with one of the W3C implementations
//! of the ISO 8601 date formats or in epoch (UNIX) time"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date>).
//! The W3C profile (<https://www.w3.org/TR/NOTE-datetime>) is `YYYY`,
//! `YYYY-MM`, `YYYY-MM-DD`, and `YYYY-MM-DDThh:mm[:ss[.s]]TZD`. A time without
//! a zone designator is read as UTC rather than refused. A string of digits
//! alone is epoch seconds, so a bare year (`2020`) cannot be written; use
//! `2020-01`.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Reads a W3C ISO 8601 date or a count of epoch seconds.
pub(crate) fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: i64 = text.parse().ok()?;
        return OffsetDateTime::from_unix_timestamp(seconds).ok();
    }
    if let Some((date, time)) = text.split_once(['T', 't']) {
        return parse_date_time(date, time);
    }
    let mut fields = text.split('-');
    let year = parse_fixed(fields.next()?, 4)?;
    let month = match fields.next() {
        Some(month) => parse_fixed(month, 2)?,
        None => 1,
    };
    let day = match fields.next() {
        Some(day) => parse_fixed(day, 2)?,
        None => 1,
    };
    if fields.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
}

/// `YYYY-MM-DD` and `hh:mm[:ss[.s]][TZD]`.
fn parse_date_time(date: &str, time: &str) -> Option<OffsetDateTime> {
    // Split off the zone designator: `Z`, `+hh:mm` or `-hh:mm`, or nothing (UTC).
    let (clock, zone) = match time
        .find(['Z', 'z', '+', '-'])
        .and_then(|at| time.split_at_checked(at))
    {
        Some(split) => split,
        None => (time, "Z"),
    };
    let clock = match clock.len() {
        5 => format!("{clock}:00"),
        _ => clock.to_owned(),
    };
    OffsetDateTime::parse(&format!("{date}T{clock}{zone}"), &Rfc3339).ok()
}

fn parse_fixed(text: &str, width: usize) -> Option<u32> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(text: &str) -> Option<i64> {
        parse_date(text).map(OffsetDateTime::unix_timestamp)
    }

    #[test]
    fn formats_table() {
        let cases = [
            ("2020-01-01T00:00:01Z", Some(1_577_836_801)),
            ("2020-01-01T00:00:01.500Z", Some(1_577_836_801)),
            ("2020-01-01T01:00:01+01:00", Some(1_577_836_801)),
            ("2020-01-01T00:00Z", Some(1_577_836_800)),
            ("2020-01-01T00:00:01", Some(1_577_836_801)),
            ("2020-01-01", Some(1_577_836_800)),
            ("2020-01", Some(1_577_836_800)),
            // Digits alone are epoch seconds, even four of them.
            ("2020", Some(2020)),
            ("1577836801", Some(1_577_836_801)),
            ("0", Some(0)),
            ("2020-13-01", None),
            ("2020-02-30", None),
            ("20200101", Some(20_200_101)),
            ("yesterday", None),
            ("", None),
            ("2020-01-01T25:00:00Z", None),
        ];
        for (text, expected) in cases {
            assert_eq!(unix(text), expected, "{text:?}");
        }
    }
}
