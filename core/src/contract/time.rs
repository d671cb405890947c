//! Unix-second timestamps and bounded integers, identical in every host.
//!
//! Integers are capped at 2^53 − 1 so JavaScript hosts, whose numbers are doubles, decide
//! exactly as Rust does.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Largest integer every host represents exactly (JavaScript's `Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

/// A non-negative count (downloads, dependents, a rank, seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(transparent)]
pub struct Count(pub u64);

struct SafeInt(&'static str);

impl Visitor<'_> for SafeInt {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v <= MAX_SAFE_INTEGER {
            Ok(v)
        } else {
            Err(E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            .and_then(|v| self.visit_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::invalid_type(de::Unexpected::Float(v), &self))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SafeInt("unix seconds")).map(Timestamp)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SafeInt("a non-negative integer"))
            .map(Count)
    }
}

/// A date in a configuration file: unix seconds, `YYYY-MM-DD` (00:00 UTC) or
/// `YYYY-MM-DDTHH:MM:SSZ`, so operators can write the seeds' timeline as it was announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConfigDate(pub u64);

impl<'de> Deserialize<'de> for ConfigDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date: unix seconds, \"YYYY-MM-DD\" or \"YYYY-MM-DDTHH:MM:SSZ\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                SafeInt("unix seconds").visit_u64(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
                SafeInt("unix seconds").visit_i64(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                parse_date(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V).map(ConfigDate)
    }
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` (UTC) into unix seconds; years 1970–9999.
pub fn parse_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |from: usize, to: usize| -> Option<u64> {
        let s = b.get(from..to)?;
        if s.iter().all(u8::is_ascii_digit) {
            s.iter().try_fold(0u64, |acc, d| {
                acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
        } else {
            None
        }
    };
    if b.len() != 10 && b.len() != 20 {
        return None;
    }
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let mut secs = 0;
    if b.len() == 20 {
        if b.get(10) != Some(&b'T')
            || b.get(13) != Some(&b':')
            || b.get(16) != Some(&b':')
            || b.get(19) != Some(&b'Z')
        {
            return None;
        }
        let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
        secs = hh * 3600 + mm * 60 + ss;
    }
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + secs)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm), y ≥ 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` (UTC) of unix seconds: the inverse of [`parse_date`]'s day part (Howard
/// Hinnant's `civil_from_days`).
pub fn format_date(unix: u64) -> String {
    let z = unix / 86_400 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_dates_parse_back() {
        for day in [0, 1, 59, 365, 10_957, 11_016, 19_000, 20_000, 2_932_896] {
            let text = format_date(day * 86_400 + 3_600);
            assert_eq!(parse_date(&text), Some(day * 86_400), "{text}");
        }
        assert_eq!(format_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn dates_match_known_epochs() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2022-02-01"), Some(1_643_673_600));
        assert_eq!(parse_date("2021-12-07"), Some(1_638_835_200));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_date("2022-02-01T12:00:00Z"), Some(1_643_716_800));
        assert_eq!(parse_date("2021-02-29"), None);
        assert_eq!(parse_date("2022-13-01"), None);
        assert_eq!(parse_date("2022-1-01"), None);
        assert_eq!(parse_date("2022-02-01T24:00:00Z"), None);
        assert_eq!(parse_date("+022-02-01"), None);
    }
}
