//! Small helpers: timestamps, identifiers and locking.

use std::sync::{Mutex, MutexGuard, PoisonError};

use rand::Rng;
use time::OffsetDateTime;

/// The current time as Pinpoint writes dates: ISO-8601 with milliseconds, e.g.
/// `2026-11-28T12:00:00.123Z`.
pub(crate) fn now_iso8601() -> String {
    iso8601(OffsetDateTime::now_utc())
}

/// Formats a UTC time as `yyyy-mm-ddThh:mm:ss.mmmZ`.
pub(crate) fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A random lowercase hex id of `len` characters (Pinpoint ids are 32 hex chars).
pub(crate) fn hex_id(len: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(DIGITS[rng.random_range(0..16)]))
        .collect()
}

/// Locks `mutex`, going on with its data if a thread panicked while holding it: the
/// emulator's state stays readable for the tests that inspect it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A request id in the UUID layout AWS uses for `x-amzn-RequestId`.
pub(crate) fn request_id() -> String {
    let h = hex_id(32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Escapes text for an XML element.
pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = OffsetDateTime::from_unix_timestamp(1_528_236_289).unwrap()
            + time::Duration::milliseconds(213);
        assert_eq!(iso8601(t), "2018-06-05T22:04:49.213Z");
        let id = hex_id(32);
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(request_id().len(), 36);
        assert_eq!(xml_escape("a<b&'\""), "a&lt;b&amp;&apos;&quot;");
    }
}
