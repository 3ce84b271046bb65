//! JSON text written by hand, byte for byte as serde_json's compact serializer
//! writes it.
//!
//! The event writer (`event_writer.rs`) writes a whole event in one pass into
//! one buffer, and its bytes must be the bytes [`crate::CloudTrailEvent::encode`]
//! gives for the same event: the chain hashes them, and `LookupEvents` and
//! export hand them out. These are its primitives:
//! - strings are escaped as serde_json escapes them (`format_escaped_str` in its
//!   `ser.rs`): `"` and `\` get a backslash, `\b \t \n \f \r` are written by
//!   name, every other byte below 0x20 as `\u00xx` in lower-case hex, and
//!   everything else (DEL, `/`, non-ASCII) as is;
//! - unsigned integers in decimal, `true`/`false`, and no whitespace anywhere.
//!
//! Nearly every string of an event needs no escape, and looking for the
//! bytes that do was most of what writing an event cost, so they are looked
//! for sixteen bytes at a time with word arithmetic (no `unsafe`, no SIMD) and
//! a clean string is copied whole. [`json_string_run`] shares that search with
//! readers of JSON keyward wrote itself. Member names are the writer's own
//! literals ([`key!`]), written with their punctuation as one constant and
//! without escaping (checked in debug builds).
//!
//! What it does not do: floats, or check that a document is well formed. The
//! writer opens and closes what it writes; the tests compare its output with
//! serde_json's.

/// Appends `text` as a JSON string.
#[inline(always)]
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Most values (ids, ARNs, names) need no escape: checked, then copied
    // at once.
    if is_clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        push_escaped(out, bytes);
    }
    out.push(b'"');
}

/// Whether no byte of `bytes` [`needs_escape`].
#[inline(always)]
fn is_clean(bytes: &[u8]) -> bool {
    let Some(last) = bytes.len().checked_sub(8) else {
        return !bytes.iter().any(|&byte| needs_escape(byte));
    };
    // Two words a turn: one branch for sixteen bytes.
    let mut pairs = bytes.chunks_exact(16);
    for pair in &mut pairs {
        let (first, second) = pair.split_at(8);
        if escape_bits(load_word(first)) | escape_bits(load_word(second)) != 0 {
            return false;
        }
    }
    let mut words = pairs.remainder().chunks_exact(8);
    for word in &mut words {
        if word_needs_escape(load_word(word)) {
            return false;
        }
    }
    // The last eight bytes, overlapping the last whole word when the length
    // is no multiple of eight.
    words.remainder().is_empty()
        || bytes
            .get(last..)
            .is_some_and(|word| !word_needs_escape(load_word(word)))
}

/// The length of the run at the start of `bytes` that a JSON string holds
/// as is: up to the first quote, backslash or control character, that is
/// where a string without escapes ends. For readers of JSON that keyward
/// wrote itself (the KMS replies an event names keys from), with the byte
/// classes of the writer.
pub fn json_string_run(bytes: &[u8]) -> usize {
    let mut run = 0;
    // Two words a turn, then one, then byte by byte from the first word
    // with a byte to stop at.
    for pair in bytes.chunks_exact(16) {
        let (first, second) = pair.split_at(8);
        if escape_bits(load_word(first)) | escape_bits(load_word(second)) != 0 {
            break;
        }
        run += 16;
    }
    if let Some(word) = bytes.get(run..run + 8) {
        if !word_needs_escape(load_word(word)) {
            run += 8;
        }
    }
    let rest = bytes.get(run..).unwrap_or_default();
    run + rest.iter().take_while(|&&byte| !needs_escape(byte)).count()
}

fn load_word(chunk: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

/// Appends `bytes`, escaping what [`needs_escape`].
#[cold]
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        if needs_escape(byte) {
            push_escape(out, byte);
        } else {
            out.push(byte);
        }
    }
}

/// Appends `number` in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(digit) = digits.get_mut(start) {
            *digit = b'0' + (number % 10) as u8;
        }
        number /= 10;
        if number == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends `true` or `false`.
pub(crate) fn push_bool(out: &mut Vec<u8>, flag: bool) {
    out.extend_from_slice(if flag { b"true" } else { b"false" });
}

/// Appends `number` (below 100) as two decimal digits (the parts of a time).
#[inline(always)]
pub(crate) fn push_two_digits(out: &mut Vec<u8>, number: u8) {
    out.extend_from_slice(&[b'0' + number / 10 % 10, b'0' + number % 10]);
}

/// Appends `number` as exactly `width` decimal digits (the parts of a time).
pub(crate) fn push_padded(out: &mut Vec<u8>, number: u16, width: usize) {
    let mut digits = [b'0'; 5];
    let mut rest = number;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(
        digits
            .get(digits.len().saturating_sub(width)..)
            .unwrap_or_default(),
    );
}

/// A member name as the writer writes it after another member:
/// `,"name":`. Made by [`key!`] from a literal, so that starting a member
/// copies one constant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key(pub(crate) &'static str);

/// The [`Key`] of the member `name` (a literal that needs no escape).
macro_rules! key {
    ($name:literal) => {
        $crate::json_text::Key(concat!(",\"", $name, "\":"))
    };
}
pub(crate) use key;

/// The members of one JSON object being written: puts the commas between them.
///
/// Its methods are always inlined: the key is then a constant at each call,
/// and starting a member is a copy of a few constant bytes.
pub(crate) struct ObjectWriter<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> ObjectWriter<'o> {
    #[inline]
    pub(crate) fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, empty: true }
    }

    /// Starts the member `key` and gives the buffer for its value.
    #[inline(always)]
    pub(crate) fn member(&mut self, key: Key) -> &mut Vec<u8> {
        let text = key.0.as_bytes();
        debug_assert!(text.len() > 3 && !text[2..text.len() - 2].iter().copied().any(needs_escape));
        if self.empty {
            self.empty = false;
            self.out
                .extend_from_slice(text.get(1..).unwrap_or_default());
        } else {
            self.out.extend_from_slice(text);
        }
        self.out
    }

    #[inline(always)]
    pub(crate) fn str(&mut self, key: Key, value: &str) {
        push_str(self.member(key), value);
    }

    /// A value known to need no escape: one of this crate's constants.
    #[inline(always)]
    pub(crate) fn plain_str(&mut self, key: Key, value: &str) {
        debug_assert!(!value.bytes().any(needs_escape));
        let out = self.member(key);
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }

    /// Leaves the member out when there is no value, as the typed builders do.
    #[inline(always)]
    pub(crate) fn opt_str(&mut self, key: Key, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    #[inline(always)]
    pub(crate) fn opt_u64(&mut self, key: Key, value: Option<u64>) {
        if let Some(value) = value {
            push_u64(self.member(key), value);
        }
    }

    #[inline(always)]
    pub(crate) fn bool(&mut self, key: Key, value: bool) {
        push_bool(self.member(key), value);
    }

    #[inline(always)]
    pub(crate) fn opt_bool(&mut self, key: Key, value: Option<bool>) {
        if let Some(value) = value {
            self.bool(key, value);
        }
    }

    #[inline]
    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

/// Appends the escape sequence of a byte that [`needs_escape`].
fn push_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let named = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        _ => 0,
    };
    if named != 0 {
        out.extend_from_slice(&[b'\\', named]);
    } else {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX_DIGITS[usize::from(byte >> 4)],
            HEX_DIGITS[usize::from(byte & 0x0F)],
        ]);
    }
}

/// Whether serde_json escapes `byte` inside a string.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether any of the eight bytes of `word` [`needs_escape`]. Exact as a
/// yes/no answer; the bit tricks are those of serde_json's own scan
/// (`skip_to_escape` in its `read.rs`, after Mycroft).
#[inline(always)]
fn word_needs_escape(word: u64) -> bool {
    escape_bits(word) != 0
}

/// Nonzero when a byte of `word` [`needs_escape`] (see [`word_needs_escape`]).
#[inline(always)]
fn escape_bits(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // A byte below 0x20 makes `byte - 0x20` borrow while its high bit is
    // clear; a quote or a backslash makes `word ^ pattern` zero there.
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & (ONES << 7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn as_json(text: &str) -> String {
        let mut out = Vec::new();
        push_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_byte_in_every_position_is_escaped_and_ends_a_run_as_serde_json_says() {
        for byte in 0u8..=0x7F {
            let character = char::from(byte);
            // Every place in a pair of words, a lone word and the tail.
            for position in 0..40 {
                let text: String = "a".repeat(position) + &character.to_string() + "bcdefghij";
                assert_eq!(
                    as_json(&text),
                    serde_json::to_string(&text).unwrap(),
                    "{byte:#x} at {position}"
                );
                let run = if needs_escape(byte) {
                    position
                } else {
                    text.len()
                };
                assert_eq!(
                    json_string_run(text.as_bytes()),
                    run,
                    "{byte:#x} at {position}"
                );
            }
        }
    }

    #[test]
    fn numbers_and_flags() {
        for number in [0, 7, 10, 99, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, number);
            assert_eq!(out, number.to_string().as_bytes());
        }
        let mut out = Vec::new();
        push_bool(&mut out, true);
        push_bool(&mut out, false);
        push_padded(&mut out, 7, 4);
        push_padded(&mut out, 59, 2);
        assert_eq!(out, b"truefalse000759");
    }

    #[test]
    fn an_object_puts_commas_between_its_members_only() {
        let mut out = Vec::new();
        let mut object = ObjectWriter::open(&mut out);
        object.opt_str(key!("a"), None);
        object.str(key!("b"), "x");
        object.opt_u64(key!("c"), Some(3));
        object.opt_bool(key!("d"), Some(false));
        object.close();
        assert_eq!(out, br#"{"b":"x","c":3,"d":false}"#);
        let mut out = Vec::new();
        ObjectWriter::open(&mut out).close();
        assert_eq!(out, b"{}");
    }

    proptest! {
        #[test]
        fn a_string_run_ends_at_the_first_byte_json_escapes(text in "[\\x00-\\x1f\"\\\\a-z\u{e9}]{0,40}") {
            let bytes = text.as_bytes();
            let expected = bytes.iter().position(|&byte| needs_escape(byte)).unwrap_or(bytes.len());
            prop_assert_eq!(json_string_run(bytes), expected);
        }

        #[test]
        fn any_string_is_written_as_serde_json_writes_it(text in any::<String>()) {
            prop_assert_eq!(as_json(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn control_quote_and_backslash_heavy_strings(text in "[\\x00-\\x1f\"\\\\a-z\u{7f}\u{e9}\u{1f600}]{0,40}") {
            prop_assert_eq!(as_json(&text), serde_json::to_string(&text).unwrap());
        }
    }
}
