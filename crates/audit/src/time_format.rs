//! The two ways a CloudTrail record writes a time.
//!
//! `eventTime` (and the times of digest files) are UTC with one-second
//! resolution, `2025-08-07T13:45:45Z`
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).
//! KMS writes dates *inside* `responseElements` as display strings instead, for
//! example `"creationDate": "Aug 10, 2022, 10:38:27 PM"` in CreateKey and
//! `"deletionDate": "Nov 2, 2021, 11:25:25 PM"` in ScheduleKeyDeletion
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/ct-createkey.html>,
//! <https://docs.aws.amazon.com/kms/latest/developerguide/ct-schedule-key-deletion.html>).
//!
//! Formatting is done by hand so that it cannot fail: every `OffsetDateTime`
//! the `time` crate can hold has a four-digit year.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::AuditError;
use crate::json_text::{push_padded, push_str, push_two_digits};

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC; fractions of a second are dropped.
pub fn format_event_time(time: OffsetDateTime) -> String {
    let utc = time.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// Appends `"YYYY-MM-DDTHH:MM:SSZ"` (quoted) to `out`: [`format_event_time`]
/// without the `String`, for the event writer.
pub(crate) fn push_event_time(out: &mut Vec<u8>, time: OffsetDateTime) {
    let utc = time.to_offset(UtcOffset::UTC);
    let (year, month, day) = utc.to_calendar_date();
    match u16::try_from(year) {
        Ok(year) if year <= 9999 => {
            let (hour, minute, second) = utc.to_hms();
            out.push(b'"');
            push_padded(out, year, 4);
            out.push(b'-');
            push_two_digits(out, u8::from(month));
            out.push(b'-');
            push_two_digits(out, day);
            out.push(b'T');
            push_two_digits(out, hour);
            out.push(b':');
            push_two_digits(out, minute);
            out.push(b':');
            push_two_digits(out, second);
            out.extend_from_slice(b"Z\"");
        }
        // Years of other widths (and signs) take the general path.
        _ => push_str(out, &format_event_time(time)),
    }
}

/// Reads an `eventTime` (any RFC 3339 time, so records with fractions of a
/// second or an offset are accepted too).
pub fn parse_event_time(text: &str) -> Result<OffsetDateTime, AuditError> {
    // Every event keyward writes has the canonical form: read it directly
    // (this runs once per recorded call, for the lookup columns).
    if let Some(time) = parse_canonical_event_time(text) {
        return Ok(time);
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|source| AuditError::InvalidEventTime {
        text: text.to_owned(),
        source,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly (what [`format_event_time`] writes), else `None`.
fn parse_canonical_event_time(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 20
        || [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ]
        .iter()
        .any(|&(at, separator)| bytes[at] != separator)
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u16> {
        bytes[from..to].iter().try_fold(0u16, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u16::from(digit - b'0'))
        })
    };
    let month = time::Month::try_from(u8::try_from(number(5, 7)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::from(number(0, 4)?),
        month,
        u8::try_from(number(8, 10)?).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms(
        u8::try_from(number(11, 13)?).ok()?,
        u8::try_from(number(14, 16)?).ok()?,
        u8::try_from(number(17, 19)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(time).assume_utc())
}

/// The display form KMS uses for dates inside `responseElements`, in UTC:
/// `Aug 10, 2022, 10:38:27 PM`.
pub fn format_response_date(time: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let utc = time.to_offset(UtcOffset::UTC);
    let month_index = usize::from(u8::from(utc.month())).saturating_sub(1);
    let month = MONTHS.get(month_index).copied().unwrap_or("Jan");
    let (hour_12, meridiem) = match utc.hour() {
        0 => (12, "AM"),
        hour @ 1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        hour => (hour - 12, "PM"),
    };
    format!(
        "{month} {}, {}, {hour_12}:{:02}:{:02} {meridiem}",
        utc.day(),
        utc.year(),
        utc.minute(),
        utc.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn event_time_is_utc_to_the_second() {
        let time = datetime!(2025-08-07 15:45:45.123 +02:00);
        assert_eq!(format_event_time(time), "2025-08-07T13:45:45Z");
        assert_eq!(
            parse_event_time("2025-08-07T13:45:45Z").unwrap(),
            datetime!(2025-08-07 13:45:45 UTC)
        );
    }

    #[test]
    fn the_event_writer_writes_event_times_as_format_event_time_does() {
        let start = datetime!(2024-01-01 00:00:00 UTC).unix_timestamp();
        let mut times: Vec<OffsetDateTime> = (0..5_000i64)
            .map(|step| OffsetDateTime::from_unix_timestamp(start + step * 6_317).unwrap())
            .collect();
        times.extend([
            datetime!(0000-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59.999 UTC),
            datetime!(2025-08-07 15:45:45.123 +02:00),
            datetime!(-0001-06-01 12:00:00 UTC),
        ]);
        for time in times {
            let mut out = Vec::new();
            push_event_time(&mut out, time);
            assert_eq!(out, format!("\"{}\"", format_event_time(time)).into_bytes());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_time_of_four_digit_years_is_written_as_format_event_time_does(
            seconds in -62_167_219_200i64..253_402_300_800,
            nanoseconds in 0u32..1_000_000_000,
        ) {
            let time = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                .replace_nanosecond(nanoseconds).unwrap();
            let mut out = Vec::new();
            push_event_time(&mut out, time);
            proptest::prop_assert_eq!(out, format!("\"{}\"", format_event_time(time)).into_bytes());
        }
    }

    #[test]
    fn bad_event_times_are_errors() {
        for bad in [
            "Aug 7, 2025",
            "2025-13-07T13:45:45Z",
            "2025-02-30T13:45:45Z",
            "2025-08-07T24:45:45Z",
            "2025-08-07T13:45:4xZ",
            "+025-08-07T13:45:45Z",
        ] {
            assert!(parse_event_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_canonical_reader_agrees_with_rfc_3339() {
        // Every second of a leap year's worth of spread-out times, and the
        // edges of the calendar: the direct reader and the `time` crate's
        // RFC 3339 parser give the same instant.
        let start = datetime!(2024-01-01 00:00:00 UTC).unix_timestamp();
        for step in 0..20_000i64 {
            let time = OffsetDateTime::from_unix_timestamp(start + step * 1_579).unwrap();
            let text = format_event_time(time);
            assert_eq!(parse_canonical_event_time(&text), Some(time), "{text}");
            assert_eq!(OffsetDateTime::parse(&text, &Rfc3339).unwrap(), time);
        }
        // Other RFC 3339 forms still read, through the general parser.
        assert_eq!(
            parse_event_time("2025-08-07T15:45:45.5+02:00").unwrap(),
            datetime!(2025-08-07 13:45:45.5 UTC)
        );
        assert_eq!(
            parse_canonical_event_time("2025-08-07T15:45:45+02:00"),
            None
        );
    }

    #[test]
    fn response_dates_match_the_kms_examples() {
        // ct-createkey.html and ct-schedule-key-deletion.html.
        assert_eq!(
            format_response_date(datetime!(2022-08-10 22:38:27 UTC)),
            "Aug 10, 2022, 10:38:27 PM"
        );
        assert_eq!(
            format_response_date(datetime!(2021-10-14 17:39:50 UTC)),
            "Oct 14, 2021, 5:39:50 PM"
        );
        assert_eq!(
            format_response_date(datetime!(2021-11-02 00:05:05 UTC)),
            "Nov 2, 2021, 12:05:05 AM"
        );
    }
}
