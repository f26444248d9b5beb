//! Pinpoint's import rules: building one [`Endpoint`] from its values with
//! every per-value check, then the checks across the whole import.
//!
//! Choices where Pinpoint's documentation is unclear or silent:
//! - **`Id` without `ChannelType`/`Address`.** "New endpoints need both
//!   `Address` and `ChannelType`. To update an existing endpoint, `Id` is
//!   required." So an endpoint with an `Id` is taken as a possible update and
//!   neither field is required; any value given is still checked. Without an
//!   `Id`, both are required.
//! - **`EffectiveDate`.** The import page says it is unsupported, yet lists it
//!   among the supported attributes. It is accepted and passed through, and
//!   must be an ISO 8601 date or date-time (`2024-05-01`,
//!   `2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.000+02:00`), the format the
//!   endpoint API uses, so a typo is caught here rather than by a failed job.
//! - **Empty values.** An empty CSV cell or empty JSON string of a
//!   single-valued field means "not given", as does a blank (spaces only)
//!   `ChannelType` or `Address`. Values are never trimmed.
//! - **Lengths.** Custom attribute names may have 50 characters and each value
//!   100 (Unicode characters, not bytes); the other fields (an FCM token is
//!   longer than 100) are not limited here. Endpoint size is measured as its
//!   compact JSON, as Pinpoint stores it, against 15 KB = 15,360 bytes.
//! - **Limits across the import.** 250 distinct custom attribute names
//!   (`Attributes`, `Metrics` and `User.UserAttributes` together) and 15
//!   endpoints per `User.UserId` are checked within this import; Pinpoint
//!   counts the whole project, which only it can see.

use serde::Serialize;

use crate::error::{
    MAX_FIELD_CHARS, MAX_PROBLEM_MESSAGE_CHARS, Problem, ProblemKind, quote, quote_at_most,
};

use super::model::{Endpoint, Field};

/// The longest custom attribute name, in characters.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 50;
/// The longest custom attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 100;
/// The most values one custom attribute may have.
pub const MAX_VALUES_PER_ATTRIBUTE: usize = 50;
/// The most distinct custom attribute names in one import.
pub const MAX_CUSTOM_ATTRIBUTE_NAMES: usize = 250;
/// The largest endpoint, in bytes of its compact JSON (15 KB).
pub const MAX_ENDPOINT_BYTES: usize = 15 * 1024;
/// The most endpoints one `User.UserId` may have.
pub const MAX_ENDPOINTS_PER_USER: usize = 15;

/// Where a value is in the original data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Position {
    /// Line, from 1.
    pub line: Option<u64>,
    /// Column (CSV field position or JSON character), from 1.
    pub column: Option<u64>,
}

impl Position {
    /// A position at `line` and `column`.
    pub fn at(line: u64, column: Option<u64>) -> Self {
        Position {
            line: Some(line),
            column,
        }
    }
}

/// A problem at a position, for a record (or the whole file with `None`).
///
/// The field is cut to [`MAX_FIELD_CHARS`] and the message to
/// [`MAX_PROBLEM_MESSAGE_CHARS`], so no input makes a report large; messages
/// quote user data with [`quote`] and never reach that bound in practice.
pub(crate) fn problem_at(
    kind: ProblemKind,
    record: Option<u64>,
    at: Position,
    field: Option<String>,
    message: impl Into<String>,
) -> Problem {
    let message: String = message.into();
    Problem {
        record,
        line: at.line,
        column: at.column,
        field: field.map(|f| bounded(f, MAX_FIELD_CHARS)),
        kind,
        message: bounded(message, MAX_PROBLEM_MESSAGE_CHARS),
    }
}

/// `text` itself when it is short and clean, else its [`quote_at_most`].
fn bounded(text: String, max_chars: usize) -> String {
    let short = text.len() <= max_chars || text.chars().nth(max_chars).is_none();
    if short && !text.chars().any(char::is_control) {
        text
    } else {
        quote_at_most(&text, max_chars)
    }
}

/// Where an endpoint came from: its number and first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The endpoint's number, from 1.
    pub record: u64,
    /// Where it starts.
    pub at: Position,
}

/// The size of the endpoint's compact JSON, in bytes.
pub fn json_size(endpoint: &Endpoint) -> usize {
    json_size_of(endpoint)
}

/// The size of `value`'s compact JSON, in bytes (`usize::MAX` if it cannot
/// be serialised).
pub(crate) fn json_size_of<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// A finite number written as plain text (`42`, `-3.5`, `1e3`); no spaces,
/// no `NaN` or infinity.
pub fn parse_number(text: &str) -> Option<f64> {
    if let Some(x) = simple_decimal(text.as_bytes()) {
        return Some(x);
    }
    let (mut plain, mut digit) = (true, false);
    for b in text.bytes() {
        let d = b.is_ascii_digit();
        digit |= d;
        plain &= d || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E');
    }
    if !plain || !digit {
        return None;
    }
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// `-?digits(.digits)?` with at most 15 digits in all, as `str::parse`
/// reads it, without its general machinery: the digits make an integer below
/// 2^53 and the power of ten is at most 10^15, both exact in an `f64`, so
/// one division rounds correctly (Clinger's fast path, which `parse` takes
/// for these too). `None` for any other text.
fn simple_decimal(text: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // One pass: the digits into the mantissa, and where the point is.
    // The point's index, `NONE` while there is none.
    const NONE: usize = usize::MAX;
    let mut mantissa: u64 = 0;
    let mut point = NONE;
    for (i, &b) in digits.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit < 10 {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
        } else if b == b'.' && point == NONE {
            point = i;
        } else {
            return None;
        }
    }
    let (whole, fraction) = match point {
        NONE => (digits.len(), 0),
        i => (i, digits.len().wrapping_sub(i).wrapping_sub(1)),
    };
    if whole == 0 || (point != NONE && fraction == 0) || whole.wrapping_add(fraction) > 15 {
        return None;
    }
    let x = mantissa as f64 / POW10.get(fraction)?;
    Some(if negative { -x } else { x })
}

/// Why `address` is not an E.164 phone number, or `None` when it is.
pub(crate) fn e164_problem(address: &str) -> Option<String> {
    let digits = address.strip_prefix('+');
    let ok = digits.is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    if ok {
        return None;
    }
    let hint = if address.contains([' ', '-', '(', ')', '.']) {
        "; remove spaces, dashes, dots and parentheses"
    } else if digits.is_none() {
        "; start it with + and the country code"
    } else {
        ""
    };
    Some(format!(
        "is not a phone number in E.164 format (+, country code and number, up to 15 digits, e.g. +12065550100){hint}"
    ))
}

/// Why `address` is not shaped like an email address, or `None` when it is.
pub(crate) fn email_problem(address: &str) -> Option<String> {
    // Split at the last `@`: a name and a domain, neither empty.
    let bytes = address.as_bytes();
    let shaped = bytes
        .iter()
        .rposition(|b| *b == b'@')
        .is_some_and(|at| at > 0 && at.wrapping_add(1) < bytes.len());
    // Printable ASCII (`!`..=`~`) is clean: found by a fold without an early
    // exit, which the compiler does many bytes at a time. Only other text
    // needs a look at its characters.
    let outside = bytes
        .iter()
        .fold(false, |out, b| out | (b.wrapping_sub(0x21) > 0x5d));
    let clean = !outside || !has_space_or_control(address);
    if shaped && clean {
        None
    } else if !clean {
        Some("contains spaces or control characters; remove them".into())
    } else {
        Some("is not an email address (name@domain)".into())
    }
}

/// True when `text` has a white space or control character: an ASCII byte
/// outside `!`..=`~`, or a character beyond ASCII (decoded only where its
/// lead byte is) that is either.
fn has_space_or_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    let ascii = bytes
        .iter()
        .fold(false, |out, b| out | (*b < 0x21) | (*b == 0x7f));
    ascii
        || bytes.iter().enumerate().any(|(i, b)| {
            *b >= 0xc0
                && text
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .is_some_and(|c| c.is_whitespace() || c.is_control())
        })
}

/// True for an ISO 8601 date or date-time: `YYYY-MM-DD`, optionally followed
/// by `Thh:mm`, `:ss`, a fraction, and `Z` or an offset (`+02:00`, `+0200`, `+02`).
pub fn is_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    // The usual forms, `YYYY-MM-DD` and `YYYY-MM-DDThh:mm:ssZ`, at once: as
    // the general reading finds them, but without its searches and splits.
    let at = |i: usize| b.get(i).copied();
    let two = |i: usize| number_of(b.get(i..i.wrapping_add(2)).unwrap_or_default(), 2);
    match b.len() {
        10 => return is_date(b),
        20 if at(10) == Some(b'T')
            && at(13) == Some(b':')
            && at(16) == Some(b':')
            && at(19) == Some(b'Z') =>
        {
            return is_date(b.get(..10).unwrap_or_default())
                && two(11).is_some_and(|h| h <= 23)
                && two(14).is_some_and(|m| m <= 59)
                && two(17).is_some_and(|s| s <= 60);
        }
        _ => {}
    }
    is_iso8601_general(s)
}

/// [`is_iso8601`] for any text: the date, then the time after the first `T`.
fn is_iso8601_general(s: &str) -> bool {
    // Byte by byte: every separator is ASCII, which never occurs inside a
    // multi-byte character.
    let b = s.as_bytes();
    let (date, time) = match b.iter().position(|c| matches!(c, b'T' | b't')) {
        Some(i) => (
            b.get(..i).unwrap_or_default(),
            Some(b.get(i + 1..).unwrap_or_default()),
        ),
        None => (b, None),
    };
    is_date(date) && time.is_none_or(is_time)
}

/// The number written with exactly `len` digits (at most 9), if `s` is one.
fn number_of(s: &[u8], len: usize) -> Option<u32> {
    if s.len() != len {
        return None;
    }
    s.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit()
            .then(|| n.wrapping_mul(10).wrapping_add(u32::from(b - b'0')))
    })
}

/// `YYYY-MM-DD`, a real day.
fn is_date(s: &[u8]) -> bool {
    if s.len() != 10 || s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return false;
    }
    let part =
        |from: usize, len: usize| number_of(s.get(from..from + len).unwrap_or_default(), len);
    let (Some(y), Some(m), Some(d)) = (part(0, 4), part(5, 2), part(8, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_time(s: &[u8]) -> bool {
    let (clock, zone) = match s
        .iter()
        .position(|c| matches!(c, b'Z' | b'z' | b'+' | b'-'))
    {
        Some(i) => s.split_at(i),
        None => (s, &[][..]),
    };
    is_clock(clock) && is_zone(zone)
}

/// `hh:mm`, or `hh:mm:ss` with an optional fraction of 1 to 9 digits.
fn is_clock(s: &[u8]) -> bool {
    let (hms, fraction) = match s.iter().position(|c| matches!(c, b'.' | b',')) {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    };
    let mut parts = hms.split(|c| *c == b':');
    let ok = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(m), None, _) => fraction.is_none() && hour_minute(h, m),
        (Some(h), Some(m), Some(sec), None) => {
            hour_minute(h, m) && number_of(sec, 2).is_some_and(|x| x <= 60)
        }
        _ => false,
    };
    ok && fraction.is_none_or(|f| (1..=9).contains(&f.len()) && f.iter().all(u8::is_ascii_digit))
}

fn hour_minute(h: &[u8], m: &[u8]) -> bool {
    number_of(h, 2).is_some_and(|x| x <= 23) && number_of(m, 2).is_some_and(|x| x <= 59)
}

/// Empty, `Z`, or an offset: `+hh:mm`, `+hhmm`, `+hh` (or `-`).
fn is_zone(s: &[u8]) -> bool {
    if s.is_empty() || s == b"Z" || s == b"z" {
        return true;
    }
    let Some(offset) = s.strip_prefix(b"+").or_else(|| s.strip_prefix(b"-")) else {
        return false;
    };
    match offset.iter().position(|c| *c == b':') {
        Some(i) => hour_minute(
            offset.get(..i).unwrap_or_default(),
            offset.get(i + 1..).unwrap_or_default(),
        ),
        None if offset.len() == 4 => hour_minute(
            offset.get(..2).unwrap_or_default(),
            offset.get(2..).unwrap_or_default(),
        ),
        None => number_of(offset, 2).is_some_and(|x| x <= 23),
    }
}

/// The first control character in `text` that endpoint data may not carry:
/// C0 controls (NUL, ESC...) other than TAB, CR and LF (which the CSV reader
/// reports on their own and JSON escapes), DEL, and C1 controls (CSI...).
pub(crate) fn forbidden_control(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
}

/// 1 for the bytes that may start a control character: below 0x20, DEL,
/// and 0xC2, the first byte of a C1 character.
pub(crate) const MAY_START_CONTROL: [u8; 256] = {
    let mut may = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        may[b] = 1;
        b += 1;
    }
    may[0x7f] = 1;
    may[0xc2] = 1;
    may
};

/// True when `text` may hold a control character ([`MAY_START_CONTROL`]):
/// a quick look before the real one.
fn may_have_control(text: &str) -> bool {
    text.bytes().fold(0, |seen, b| {
        seen | MAY_START_CONTROL.get(usize::from(b)).copied().unwrap_or(0)
    }) != 0
}

/// The first forbidden control character in `text` ([`forbidden_control`]),
/// after a quick look.
pub(crate) fn control_in(text: &str) -> Option<char> {
    if may_have_control(text) {
        forbidden_control(text)
    } else {
        None
    }
}

/// The problem message for control character `c` in `what` ("the value").
pub(crate) fn control_message(what: &str, c: char) -> String {
    format!(
        "{what} contains the control character U+{:04X}; control characters (NUL, DEL, terminal escapes) are not accepted in endpoint data; remove it",
        u32::from(c)
    )
}

/// Checks a custom attribute's name (the part after the prefix); the message
/// when it breaks Pinpoint's rules.
pub fn custom_name_problem(field: &Field) -> Option<String> {
    custom_name_text_problem(field.custom_name()?)
}

/// [`custom_name_problem`] of a custom attribute's name (the part after the prefix).
pub(crate) fn custom_name_text_problem(name: &str) -> Option<String> {
    // Only a name of more than 50 bytes can have more than 50 characters.
    let chars = if name.len() > MAX_ATTRIBUTE_NAME_CHARS {
        name.chars().count()
    } else {
        0
    };
    if chars > MAX_ATTRIBUTE_NAME_CHARS {
        return Some(format!(
            "the attribute name `{}` has {chars} characters; Pinpoint allows at most {MAX_ATTRIBUTE_NAME_CHARS}",
            quote(name)
        ));
    }
    if is_blank(name) {
        return Some("the attribute name is blank".into());
    }
    None
}

/// The text of a JSON number given where text is expected (`"UserId":42`
/// is `42`): as serde_json writes it.
pub(crate) fn json_number_text(n: &serde_json::Number) -> String {
    n.to_string()
}

/// The text of `true` or `false` given where text is expected.
pub(crate) fn json_bool_text(x: bool) -> String {
    x.to_string()
}

/// True when `text` is empty or only white space (`str::trim`'s), with a
/// quick answer for text that starts with a visible ASCII character.
pub(crate) fn is_blank(text: &str) -> bool {
    match text.as_bytes().first() {
        Some(b) if b.is_ascii_graphic() => false,
        _ => text.trim().is_empty(),
    }
}

/// The problem of a staged file over the limit.
pub(crate) fn size_problem(actual: u64, limit: u64) -> Problem {
    Problem::new(
        ProblemKind::ImportSizeExceeded,
        format!(
            "the data to import is {actual} bytes, more than the limit of {limit} bytes ({}); split it into several imports",
            human_bytes(limit)
        ),
    )
}

fn human_bytes(n: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if n >= GIB && n.is_multiple_of(GIB) {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::any;

    #[test]
    fn numbers_are_plain_and_finite() {
        for ok in ["42", "-3.5", "+1", ".5", "5.", "1e3", "1E-3", "0"] {
            assert!(parse_number(ok).is_some(), "{ok}");
        }
        for bad in [
            "", " 1", "1 ", "NaN", "inf", "infinity", "1,5", "abc", "1e400", "-", "e5", "0x10",
        ] {
            assert!(parse_number(bad).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        /// The fast path reads numbers exactly as `str::parse` does.
        #[test]
        fn simple_decimals_are_parsed_as_str_parse_does(
            text in "-?[0-9]{0,9}(\\.[0-9]{0,9})?",
            whole in any::<i64>(),
            cents in 0u32..100,
        ) {
            let want = text.parse::<f64>().ok().filter(|x| x.is_finite());
            let got = parse_number(&text);
            proptest::prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{:?}", text);
            let money = format!("{}.{cents:02}", whole % 10_000_000_000_000);
            let want = money.parse::<f64>().ok();
            proptest::prop_assert_eq!(parse_number(&money).map(f64::to_bits), want.map(f64::to_bits), "{:?}", money);
        }
    }

    #[test]
    fn the_quick_look_misses_no_control_character() {
        for c in (0u32..0x800).filter_map(char::from_u32) {
            let text = format!("ab{c}cd");
            assert_eq!(control_in(&text), forbidden_control(&text), "{c:?}");
        }
    }

    #[test]
    fn blank_is_what_trims_to_nothing() {
        for text in [
            "",
            " ",
            "\t\n",
            "\u{a0}",
            "\u{3000} ",
            " x",
            "x ",
            "é",
            "-",
            "\u{1}",
        ] {
            assert_eq!(is_blank(text), text.trim().is_empty(), "{text:?}");
        }
    }

    #[test]
    fn e164_numbers() {
        for ok in ["+12125551234", "+447911123456", "+12"] {
            assert_eq!(e164_problem(ok), None, "{ok}");
        }
        for bad in [
            "12125551234",
            "+1 212 555 1234",
            "+0123",
            "+",
            "+1234567890123456",
            "+1a",
        ] {
            assert!(e164_problem(bad).is_some(), "{bad}");
        }
        assert!(e164_problem("+1 212").unwrap().contains("remove spaces"));
        assert!(
            e164_problem("2125551234")
                .unwrap()
                .contains("start it with +")
        );
    }

    /// `email_problem` as it was before its fold over the bytes.
    fn email_problem_before(address: &str) -> Option<String> {
        let bytes = address.as_bytes();
        let shaped = bytes
            .iter()
            .rposition(|b| *b == b'@')
            .is_some_and(|at| at > 0 && at + 1 < bytes.len());
        let clean = address.bytes().all(|b| (0x21..0x7f).contains(&b))
            || !address.chars().any(|c| c.is_whitespace() || c.is_control());
        if shaped && clean {
            None
        } else if !clean {
            Some("contains spaces or control characters; remove them".into())
        } else {
            Some("is not an email address (name@domain)".into())
        }
    }

    proptest::proptest! {
        #[test]
        fn email_problems_are_as_before(
            address in "[a-z@. \\t\u{7}\u{7f}\u{85}\u{a0}\u{2028}éü\"]{0,12}",
            any_text in any::<String>(),
        ) {
            for a in [&address, &any_text] {
                proptest::prop_assert_eq!(email_problem(a), email_problem_before(a), "{:?}", a);
            }
        }

        #[test]
        fn iso_dates_are_read_as_the_general_reading_reads_them(
            date in "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?",
            noisy in "[0-9T:Zz+.,-]{8,22}",
            flips in proptest::collection::vec((0usize..20, "[0-9T:Zzt+.,-]"), 0..3),
        ) {
            let mut mutated = date.clone().into_bytes();
            for (i, c) in &flips {
                if let Some(b) = mutated.get_mut(*i) {
                    *b = c.as_bytes()[0];
                }
            }
            let mutated = String::from_utf8(mutated).unwrap();
            for s in [&date, &noisy, &mutated] {
                proptest::prop_assert_eq!(is_iso8601(s), is_iso8601_general(s), "{:?}", s);
            }
        }
    }

    #[test]
    fn email_shapes() {
        for ok in ["john.doe@example.com", "a@b", "\"x@y\"@example.com"] {
            assert_eq!(email_problem(ok), None, "{ok}");
        }
        for bad in [
            "john.doe",
            "@example.com",
            "john@",
            "jo hn@example.com",
            "a@b\u{7}",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn iso_dates() {
        for ok in [
            "2024-05-01",
            "2024-02-29",
            "2024-05-01T12:00",
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123Z",
            "2024-05-01T23:59:59+02:00",
            "2024-05-01T23:59:59-0530",
            "2024-05-01T23:59:59+02",
        ] {
            assert!(is_iso8601(ok), "{ok}");
        }
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-5-1",
            "01/05/2024",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+25:00",
            "2024-05-01T12",
            "2024-05-01 12:00:00",
            "2024-05-01T12:00:00Zjunk",
        ] {
            assert!(!is_iso8601(bad), "{bad}");
        }
    }

    #[test]
    fn custom_names_are_limited_to_50_chars() {
        assert!(custom_name_problem(&Field::Attribute("a".repeat(50))).is_none());
        assert!(custom_name_problem(&Field::Attribute("a".repeat(51))).is_some());
        assert!(custom_name_problem(&Field::Metric(" ".into())).is_some());
        assert!(custom_name_problem(&Field::Address).is_none());
    }
}
