//! Exact decimal numbers for the `Numeric*` operators.
//!
//! AWS compares "a key to an integer or decimal value"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Numeric>).
//! Going through `f64` would make `NumericEquals` of two different 17-digit
//! integers true, so numbers are compared digit by digit instead.

use std::cmp::Ordering;

/// A finite decimal number, normalised so that equal numbers are equal values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    /// Integer digits without leading zeros (empty for zero).
    integer: String,
    /// Fraction digits without trailing zeros.
    fraction: String,
}

impl Decimal {
    /// Reads `[+-]digits[.digits]`, with at least one digit. Exponents are not
    /// accepted: JSON numbers written with one reach us already expanded.
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = if let Some(unsigned) = text.strip_prefix('-') {
            (true, unsigned)
        } else {
            (false, text.strip_prefix('+').unwrap_or(text))
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.is_empty() && fraction.is_empty()
            || !all_digits(integer)
            || !all_digits(fraction)
        {
            return None;
        }
        let integer = integer.trim_start_matches('0').to_owned();
        let fraction = fraction.trim_end_matches('0').to_owned();
        let is_zero = integer.is_empty() && fraction.is_empty();
        Some(Decimal {
            negative: negative && !is_zero,
            integer,
            fraction,
        })
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        self.integer
            .len()
            .cmp(&other.integer.len())
            .then_with(|| self.integer.cmp(&other.integer))
            // Fractions have no trailing zeros, so plain string order is numeric order.
            .then_with(|| self.fraction.cmp(&other.fraction))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(d("007"), d("7"));
        assert_eq!(d("7.50"), d("7.5"));
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d("+3"), d("3"));
        assert_eq!(d(".5"), d("0.5"));
        for bad in ["", "-", ".", "1e3", "1.2.3", "abc", " 1", "0x10", "1,5"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn orders_numerically() {
        let ascending = [
            "-100",
            "-9.5",
            "-9",
            "-0.01",
            "0",
            "0.001",
            "0.01",
            "1",
            "9.99",
            "10",
            "12345678901234567",
            "12345678901234568",
        ];
        for pair in ascending.windows(2) {
            assert!(d(pair[0]) < d(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }
}
