//! Arbitrary-precision decimal numbers kept as canonical text (see the
//! module documentation of [`super`], "Numbers").

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::{preview, CodecError, MAX_EXPONENT};

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// An arbitrary-precision decimal number, kept as canonical text so that
/// equality (and hashing) of the text is numeric equality.
///
/// Canonical form: optional `-`, integer digits without leading zeros (`0` if
/// the integer part is zero), then `.` and fractional digits without trailing
/// zeros if there is a fraction; no exponent; zero is `0`. So `1`, `1.0`,
/// `+1e0` and `10e-1` all canonicalise to `1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// The number `i`.
    pub fn from_i64(i: i64) -> Number {
        Number(i.to_string())
    }

    /// The number `u`.
    pub fn from_u64(u: u64) -> Number {
        Number(u.to_string())
    }

    /// The exact shortest decimal that round-trips to `f`; `None` for NaN and
    /// infinities.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        // `Display` for f64 prints the shortest round-tripping digits without
        // an exponent, which is always a valid decimal.
        Number::parse(&f.to_string()).ok()
    }

    /// Like [`Number::from_f64`], using the shortest digits for an `f32`.
    pub fn from_f32(f: f32) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        Number::parse(&f.to_string()).ok()
    }

    /// Parses a decimal number: optional sign, digits with an optional
    /// fraction (at least one digit overall), optional exponent (`e`/`E`,
    /// optional sign, digits). No whitespace, hex, NaN or infinity. The
    /// exponent must not exceed [`MAX_EXPONENT`] in magnitude.
    pub fn parse(s: &str) -> Result<Number, CodecError> {
        let err = |reason: &str| CodecError::InvalidNumber(format!("{} {reason}", preview(s)));
        let b = s.as_bytes();
        let is_digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while is_digit(i) {
            i += 1;
        }
        let int_digits = b.get(int_start..i).unwrap_or_default();
        let mut frac_digits: &[u8] = &[];
        if b.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while is_digit(i) {
                i += 1;
            }
            frac_digits = b.get(frac_start..i).unwrap_or_default();
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err("is not a decimal number (no digits)"));
        }
        let mut exponent: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = i;
            let limit = MAX_EXPONENT as i64;
            while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                // Saturate just above the limit so huge exponents cannot overflow.
                exponent = (exponent * 10 + i64::from(d - b'0')).min(limit + 1);
                i += 1;
            }
            if i == exp_start {
                return Err(err("has an exponent without digits"));
            }
            if exponent > limit {
                return Err(err(&format!(
                    "has an exponent larger than {MAX_EXPONENT} in magnitude"
                )));
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        if i != b.len() {
            return Err(err("is not a decimal number"));
        }
        Ok(Number(canonical_decimal(
            negative,
            int_digits,
            frac_digits,
            exponent,
        )))
    }

    /// The value as `i64`, if it is integral and in range.
    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The value as `u64`, if it is integral and in range.
    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The nearest `f64` (possibly rounded); `None` if out of `f64` range.
    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    /// Whether the number has no fractional part.
    pub fn is_integer(&self) -> bool {
        !self.0.contains('.')
    }

    /// The canonical decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds the canonical text of `±0.<int_digits><frac_digits> × 10^(len(int_digits)+exponent)`.
fn canonical_decimal(
    negative: bool,
    int_digits: &[u8],
    frac_digits: &[u8],
    exponent: i64,
) -> String {
    let digits: Vec<u8> = int_digits.iter().chain(frac_digits).copied().collect();
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    let trailing = digits.iter().rev().take_while(|&&d| d == b'0').count();
    let significant = digits
        .get(leading..digits.len().saturating_sub(trailing).max(leading))
        .unwrap_or_default();
    if significant.is_empty() {
        return "0".to_owned();
    }
    // Position of the decimal point relative to the first significant digit.
    let point = int_digits.len() as i64 + exponent - leading as i64;
    let push_zeros = |out: &mut String, n: u64| out.extend((0..n).map(|_| '0'));
    let mut out = String::with_capacity(significant.len() + point.unsigned_abs() as usize + 3);
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        push_zeros(&mut out, point.unsigned_abs());
        out.extend(significant.iter().map(|&d| char::from(d)));
    } else {
        let p = point as usize;
        if p >= significant.len() {
            out.extend(significant.iter().map(|&d| char::from(d)));
            push_zeros(&mut out, (p - significant.len()) as u64);
        } else {
            let (int, frac) = significant.split_at(p);
            out.extend(int.iter().map(|&d| char::from(d)));
            out.push('.');
            out.extend(frac.iter().map(|&d| char::from(d)));
        }
    }
    out
}

/// Compares magnitudes of two canonical, unsigned decimals.
fn cmp_magnitude(a: &str, b: &str) -> Ordering {
    let (a_int, a_frac) = a.split_once('.').unwrap_or((a, ""));
    let (b_int, b_frac) = b.split_once('.').unwrap_or((b, ""));
    a_int
        .len()
        .cmp(&b_int.len())
        .then_with(|| a_int.cmp(b_int))
        .then_with(|| a_frac.cmp(b_frac))
}

/// Numeric ordering.
impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.strip_prefix('-');
        let b = other.0.strip_prefix('-');
        match (a, b) {
            (None, None) => cmp_magnitude(&self.0, &other.0),
            (Some(a), Some(b)) => cmp_magnitude(b, a),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Number {
    type Err = CodecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Number::parse(s)
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number::from_i64(i)
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Self {
        Number::from_u64(u)
    }
}
