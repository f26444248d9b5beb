//! The node's settings, read from the host (`wasi:config/store`).
//!
//! Keys and defaults are documented in `docs/cli.md` (Settings). A missing required key or
//! a value that does not parse is an `InvalidSettings` error naming the key;
//! so is a key the node does not know ([`check_keys`]). [`environment`] maps
//! environment variables to these keys.

use std::time::Duration;

use crate::endpoints::model::edit_distance;
use crate::error::{ErrorKind, NodeError, quote};

pub mod environment;

/// Default `staging-prefix`.
pub const DEFAULT_STAGING_PREFIX: &str = "pinpoint-imports/";
/// Default `max-import-bytes`: 1 GiB, Pinpoint's import-size quota per job.
pub use crate::endpoints::DEFAULT_MAX_IMPORT_BYTES;
/// Default `max-wait-seconds`: how long to wait for the import job.
pub const DEFAULT_MAX_WAIT_SECONDS: u64 = 900;
/// Default `poll-interval-ms`: the first `GetImportJob` comes 200 ms after
/// `CreateImportJob`, so a small import is seen finished at once.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 200;
/// Default `poll-max-interval-ms`: the interval grows 1.5x per poll up to
/// this, which suits jobs of minutes (AWS's own example polls every 3 s).
pub const DEFAULT_POLL_MAX_INTERVAL_MS: u64 = 5000;

/// Every key the node reads, for `describe` and for checking unknown keys.
pub const KEYS: &[(&str, &str)] = &[
    (
        "region",
        "AWS region of the Pinpoint project and the staging bucket (required)",
    ),
    (
        "staging-bucket",
        "S3 bucket where the endpoint file is staged (required)",
    ),
    (
        "import-role-arn",
        "IAM role Pinpoint assumes to read the staged file (required)",
    ),
    (
        "staging-prefix",
        "key prefix of staged files (default `pinpoint-imports/`)",
    ),
    (
        "pinpoint-endpoint",
        "URL that replaces https://pinpoint.{region}.amazonaws.com",
    ),
    (
        "s3-endpoint",
        "URL that replaces https://s3.{region}.amazonaws.com",
    ),
    (
        "s3-path-style",
        "true, false or auto (default auto: path style for IP and localhost endpoints and dotted bucket names)",
    ),
    (
        "wait-for-completion",
        "wait for the import job to finish (default true)",
    ),
    (
        "max-wait-seconds",
        "how long to wait for the import job (default 900)",
    ),
    (
        "poll-interval-ms",
        "first interval between job polls; grows 1.5x per poll (default 200)",
    ),
    (
        "poll-max-interval-ms",
        "longest interval between job polls (default 5000)",
    ),
    (
        "max-import-bytes",
        "largest staged file accepted (default 1073741824, Pinpoint's quota)",
    ),
    (
        "delete-staged-object",
        "delete the staged file after the import (default true)",
    ),
    (
        "check-address-format",
        "check E.164 phone numbers and e-mail addresses (default true)",
    ),
    (
        "retry-max-attempts",
        "attempts per request on throttling and server errors (default 5)",
    ),
    (
        "retry-base-delay-ms",
        "base of the exponential backoff (default 200)",
    ),
    (
        "retry-max-delay-ms",
        "cap of one backoff delay (default 20000)",
    ),
    (
        "retry-max-total-seconds",
        "time one request may take, its attempts and waits together (default 120)",
    ),
];

/// Whether `key` is one of [`KEYS`].
pub fn is_known_key(key: &str) -> bool {
    KEYS.iter().any(|(k, _)| *k == key)
}

/// Checks that every key the host gives is one the node reads: an unknown key
/// (`poll-intervall-ms`) is an `InvalidSettings` error naming it and the
/// closest known key, and `setting` is the (first) unknown key.
pub fn check_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<(), NodeError> {
    let unknown: Vec<&str> = keys.into_iter().filter(|k| !is_known_key(k)).collect();
    unknown_names_error(
        &unknown,
        ("setting", "settings"),
        "the node reads only the settings its descriptor lists",
        |k| {
            let closest = closest(k, KEYS.iter().map(|(k, _)| *k)).unwrap_or_default();
            format!("`{}` (the closest known setting is `{closest}`)", quote(k))
        },
    )
}

/// The `InvalidSettings` error for names the node does not know: `Ok` when
/// there are none; else a message listing each (`describe` says it and the
/// closest known name), then `hint`, with `setting` the first unknown name.
pub(crate) fn unknown_names_error(
    unknown: &[&str],
    (noun, nouns): (&str, &str),
    hint: &str,
    describe: impl Fn(&str) -> String,
) -> Result<(), NodeError> {
    let Some(first) = unknown.first() else {
        return Ok(());
    };
    let names: Vec<String> = unknown.iter().map(|name| describe(name)).collect();
    let noun = if names.len() == 1 { noun } else { nouns };
    Err(NodeError::new(
        ErrorKind::InvalidSettings,
        format!("unknown {noun} {}; {hint}", names.join(", ")),
    )
    .with_setting(&quote(first)))
}

/// The candidate `name` most likely meant: one that contains it or that it
/// contains (`bucket` -> `staging-bucket`), else the nearest by edit distance
/// (the first on a tie). Only a name's first characters are compared, so a
/// huge name costs little.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let head: String = name.chars().take(crate::error::MAX_QUOTED_CHARS).collect();
    candidates.min_by_key(|c| {
        let related = !head.is_empty() && (c.contains(head.as_str()) || head.contains(c));
        (!related, edit_distance(c, &head))
    })
}

/// Whether S3 requests address the bucket in the path or in the host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStyle {
    /// Path style for IP and localhost endpoints and dotted bucket names.
    Auto,
    /// Always `https://host/bucket/key`.
    Path,
    /// Always `https://bucket.host/key`.
    VirtualHosted,
}

/// Bounds on retries of throttled and failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Base of the exponential backoff.
    pub base_delay: Duration,
    /// Cap of one delay.
    pub max_delay: Duration,
    /// Cap of the time one request may spend in retries.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_total: Duration::from_secs(120),
        }
    }
}

/// The parsed settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// AWS region.
    pub region: String,
    /// Staging bucket.
    pub staging_bucket: String,
    /// Staging key prefix, empty or ending in `/`.
    pub staging_prefix: String,
    /// The role Pinpoint assumes to read the staged file.
    pub import_role_arn: String,
    /// Pinpoint endpoint override (scheme and authority, no path).
    pub pinpoint_endpoint: Option<String>,
    /// S3 endpoint override (scheme and authority, no path).
    pub s3_endpoint: Option<String>,
    /// S3 addressing.
    pub s3_path_style: PathStyle,
    /// Wait for the job to finish.
    pub wait_for_completion: bool,
    /// How long to wait for the job.
    pub max_wait: Duration,
    /// First interval between polls.
    pub poll_interval: Duration,
    /// Longest interval between polls (at least `poll_interval`).
    pub poll_max_interval: Duration,
    /// Largest staged file accepted.
    pub max_import_bytes: u64,
    /// Delete the staged file afterwards.
    pub delete_staged_object: bool,
    /// Check address shapes per channel.
    pub check_address_format: bool,
    /// Retry bounds.
    pub retry: RetryPolicy,
}

impl Settings {
    /// Reads every setting through `get`, which answers a key's value or `None`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, NodeError> {
        let value = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |key: &str| {
            value(key).ok_or_else(|| {
                bad(
                    key,
                    &format!("the setting `{key}` is required and was not given"),
                )
            })
        };
        let limits = data_limits(&get)?;
        let region = required("region")?;
        if !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("region", "`region` must look like `us-east-1`"));
        }
        let staging_bucket = required("staging-bucket")?;
        check_bucket(&staging_bucket)?;
        let import_role_arn = required("import-role-arn")?;
        if !import_role_arn.starts_with("arn:") || !import_role_arn.contains(":role/") {
            return Err(bad(
                "import-role-arn",
                "`import-role-arn` must be an IAM role ARN such as arn:aws:iam::123456789012:role/PinpointImport",
            ));
        }
        let mut staging_prefix =
            get("staging-prefix").unwrap_or_else(|| DEFAULT_STAGING_PREFIX.to_owned());
        staging_prefix = staging_prefix.trim().trim_start_matches('/').to_owned();
        if !staging_prefix.is_empty() && !staging_prefix.ends_with('/') {
            staging_prefix.push('/');
        }
        if staging_prefix.chars().any(char::is_control) {
            return Err(bad(
                "staging-prefix",
                "`staging-prefix` contains a control character",
            ));
        }
        let s3_path_style = match value("s3-path-style").as_deref() {
            None | Some("auto") => PathStyle::Auto,
            Some("true") => PathStyle::Path,
            Some("false") => PathStyle::VirtualHosted,
            Some(_) => {
                return Err(bad(
                    "s3-path-style",
                    "`s3-path-style` must be true, false or auto",
                ));
            }
        };
        let max_attempts = number(&value, "retry-max-attempts", 5)?;
        if max_attempts == 0 {
            return Err(bad(
                "retry-max-attempts",
                "`retry-max-attempts` must be at least 1: it counts the first attempt too",
            ));
        }
        let retry = RetryPolicy {
            max_attempts: max_attempts.min(20) as u32,
            base_delay: Duration::from_millis(number(&value, "retry-base-delay-ms", 200)?),
            max_delay: Duration::from_millis(number(&value, "retry-max-delay-ms", 20_000)?),
            max_total: Duration::from_secs(number(&value, "retry-max-total-seconds", 120)?),
        };
        let poll_interval_ms = number(&value, "poll-interval-ms", DEFAULT_POLL_INTERVAL_MS)?.max(1);
        Ok(Settings {
            region,
            staging_bucket,
            staging_prefix,
            import_role_arn,
            pinpoint_endpoint: endpoint(&get, "pinpoint-endpoint")?,
            s3_endpoint: endpoint(&get, "s3-endpoint")?,
            s3_path_style,
            wait_for_completion: boolean(&value, "wait-for-completion", true)?,
            max_wait: Duration::from_secs(number(
                &value,
                "max-wait-seconds",
                DEFAULT_MAX_WAIT_SECONDS,
            )?),
            poll_interval: Duration::from_millis(poll_interval_ms),
            poll_max_interval: Duration::from_millis(
                number(&value, "poll-max-interval-ms", DEFAULT_POLL_MAX_INTERVAL_MS)?
                    .max(poll_interval_ms),
            ),
            max_import_bytes: limits.max_import_bytes,
            delete_staged_object: boolean(&value, "delete-staged-object", true)?,
            check_address_format: limits.check_address_format,
            retry,
        })
    }
}

/// The data limits alone (`max-import-bytes`, `check-address-format`), for
/// the dry run, which needs no region, bucket or role.
pub fn data_limits(
    get: impl Fn(&str) -> Option<String>,
) -> Result<crate::endpoints::Limits, NodeError> {
    let value = |key: &str| {
        get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(crate::endpoints::Limits {
        max_import_bytes: number(&value, "max-import-bytes", DEFAULT_MAX_IMPORT_BYTES)?,
        check_address_format: boolean(&value, "check-address-format", true)?,
    })
}

fn bad(key: &str, message: &str) -> NodeError {
    NodeError::new(ErrorKind::InvalidSettings, message).with_setting(key)
}

fn number(
    value: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u64,
) -> Result<u64, NodeError> {
    match value(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            bad(
                key,
                &format!("`{key}` must be a whole number, not \"{}\"", quote(&v)),
            )
        }),
    }
}

fn boolean(
    value: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: bool,
) -> Result<bool, NodeError> {
    match value(key).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(bad(
            key,
            &format!("`{key}` must be true or false, not \"{}\"", quote(v)),
        )),
    }
}

/// An endpoint URL: `http(s)://authority` with no path, query or credentials.
/// `get` answers the key's value as given: an endpoint given empty is an
/// error, not AWS's own endpoint (a request signed for a test endpoint must
/// not go to AWS because a variable expanded to nothing).
fn endpoint(get: &impl Fn(&str) -> Option<String>, key: &str) -> Result<Option<String>, NodeError> {
    let Some(url) = get(key) else {
        return Ok(None);
    };
    let url = url.trim();
    if url.is_empty() {
        return Err(bad(
            key,
            &format!(
                "`{key}` is empty: give an http:// or https:// URL, or leave the setting out for AWS's own endpoint"
            ),
        ));
    }
    let url = url.trim_end_matches('/').to_owned();
    let parsed: http::Uri = url
        .parse()
        .map_err(|_| bad(key, &format!("`{key}` is not a URL: \"{}\"", quote(&url))))?;
    let scheme_ok = matches!(parsed.scheme_str(), Some("http" | "https"));
    let authority = parsed.authority().map(|a| a.as_str()).unwrap_or("");
    if !scheme_ok || authority.is_empty() || authority.contains('@') {
        return Err(bad(
            key,
            &format!(
                "`{key}` must be an http:// or https:// URL with a host, such as https://pinpoint.us-east-1.amazonaws.com"
            ),
        ));
    }
    if parsed.path() != "/" && !parsed.path().is_empty() || parsed.query().is_some() {
        return Err(bad(key, &format!("`{key}` must not have a path or query")));
    }
    // `http` takes `host:70000` or `host:12a` and drops the port; a request
    // would then fail as a DNS error far from its cause.
    let host = parsed.host().unwrap_or("");
    if let Some(port) = authority.strip_prefix(host).filter(|p| !p.is_empty()) {
        let number = port
            .strip_prefix(':')
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0);
        if number.is_none() {
            return Err(bad(
                key,
                &format!(
                    "`{key}` has the port \"{}\"; a port is a number from 1 to 65535",
                    quote(port.trim_start_matches(':'))
                ),
            ));
        }
    }
    Ok(Some(format!(
        "{}://{}",
        parsed.scheme_str().unwrap_or("https"),
        authority
    )))
}

/// S3 bucket naming rules (the ones that matter for addressing and signing).
fn check_bucket(bucket: &str) -> Result<(), NodeError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(bad(
            "staging-bucket",
            "`staging-bucket` must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, NodeError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("region", "eu-west-1"),
        ("staging-bucket", "my-bucket"),
        ("import-role-arn", "arn:aws:iam::123456789012:role/Import"),
    ];

    #[test]
    fn defaults() {
        let s = parse(BASE).unwrap();
        assert_eq!(s.staging_prefix, "pinpoint-imports/");
        assert_eq!(s.max_import_bytes, 1 << 30);
        assert!(s.wait_for_completion && s.delete_staged_object);
        assert_eq!(s.s3_path_style, PathStyle::Auto);
        assert_eq!(s.pinpoint_endpoint, None);
    }

    #[test]
    fn missing_required_keys_are_named() {
        for key in ["region", "staging-bucket", "import-role-arn"] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != key).collect();
            let err = parse(&pairs).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidSettings);
            assert_eq!(err.details.setting.as_deref(), Some(key));
        }
    }

    #[test]
    fn bad_values_are_named() {
        for (key, value) in [
            ("max-wait-seconds", "soon"),
            ("wait-for-completion", "yes"),
            ("pinpoint-endpoint", "ftp://x"),
            ("s3-endpoint", "http://user:pw@host"),
            ("s3-endpoint", "http://host/path"),
            ("staging-bucket", "Bad_Bucket"),
            ("region", "US EAST"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let err = parse(&pairs).unwrap_err();
            assert_eq!(err.details.setting.as_deref(), Some(key), "{key}={value}");
        }
    }

    #[test]
    fn an_endpoint_given_empty_and_no_attempts_are_invalid() {
        for (key, value, says) in [
            ("pinpoint-endpoint", "", "is empty"),
            ("s3-endpoint", "  ", "is empty"),
            ("retry-max-attempts", "0", "at least 1"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((key, value));
            let err = parse(&pairs).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidSettings, "{key}={value:?}");
            assert_eq!(err.details.setting.as_deref(), Some(key));
            assert!(err.message.contains(says), "{}", err.message);
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("retry-max-attempts", "1"));
        assert_eq!(parse(&pairs).unwrap().retry.max_attempts, 1);
    }

    #[test]
    fn every_key_read_is_listed_and_documented() {
        let asked = std::cell::RefCell::new(Vec::new());
        let s = Settings::from_lookup(|k| {
            asked.borrow_mut().push(k.to_owned());
            BASE.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        });
        assert!(s.is_ok());
        let asked = asked.into_inner();
        for key in &asked {
            assert!(is_known_key(key), "`{key}` is read but not in KEYS");
        }
        for (key, _) in KEYS {
            assert!(
                asked.iter().any(|k| k == key),
                "`{key}` is listed but never read"
            );
        }
        check_keys(asked.iter().map(String::as_str)).unwrap();
        let reference = include_str!("../docs/cli.md");
        let start = reference.find("## Settings").unwrap();
        let section = &reference[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        for (key, _) in KEYS {
            assert!(
                section.contains(&format!("`{key}`")),
                "`{key}` is missing from the settings table of docs/cli.md"
            );
        }
    }

    #[test]
    fn unknown_keys_name_the_closest_known_key() {
        check_keys(KEYS.iter().map(|(k, _)| *k)).unwrap();
        let err = check_keys(["region", "poll-intervall-ms"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSettings);
        assert_eq!(err.details.setting.as_deref(), Some("poll-intervall-ms"));
        assert!(
            err.message
                .contains("`poll-intervall-ms` (the closest known setting is `poll-interval-ms`)"),
            "{}",
            err.message
        );
        let err = check_keys(["bucket", "retry-max-total-secs"]).unwrap_err();
        assert_eq!(err.details.setting.as_deref(), Some("bucket"));
        assert!(
            err.message.contains("is `staging-bucket`)"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("is `retry-max-total-seconds`)"),
            "{}",
            err.message
        );
        let huge = "x".repeat(1 << 20);
        let err = check_keys([huge.as_str()]).unwrap_err();
        assert!(serde_json::to_string(&err).unwrap().len() < 1024);
    }

    #[test]
    fn ports_out_of_range_are_invalid_settings() {
        for url in [
            "http://127.0.0.1:70000",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:0",
            "http://localhost:12a",
            "http://localhost:+80",
            "http://localhost:",
            "http://[::1]:99999999999999999999",
        ] {
            for key in ["s3-endpoint", "pinpoint-endpoint"] {
                let mut pairs = BASE.to_vec();
                pairs.push((key, url));
                let err = parse(&pairs).unwrap_err();
                assert_eq!(err.kind, ErrorKind::InvalidSettings, "{url}");
                assert_eq!(err.details.setting.as_deref(), Some(key), "{url}");
                assert!(err.message.contains("1 to 65535"), "{}", err.message);
            }
        }
        for (url, normal) in [
            ("http://127.0.0.1:1", "http://127.0.0.1:1"),
            ("https://h.example:65535/", "https://h.example:65535"),
            ("http://[::1]:4566", "http://[::1]:4566"),
            ("https://s3.example.com", "https://s3.example.com"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push(("s3-endpoint", url));
            assert_eq!(parse(&pairs).unwrap().s3_endpoint.as_deref(), Some(normal));
        }
    }

    #[test]
    fn endpoints_are_normalised() {
        let mut pairs = BASE.to_vec();
        pairs.push(("s3-endpoint", "http://127.0.0.1:4566/"));
        pairs.push(("staging-prefix", "/imports"));
        let s = parse(&pairs).unwrap();
        assert_eq!(s.s3_endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(s.staging_prefix, "imports/");
    }
}
