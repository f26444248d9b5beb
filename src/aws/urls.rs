//! Where requests go: Pinpoint and S3 endpoints, S3 addressing, and the
//! percent-encoding of path segments.
//!
//! Without an override the node uses AWS's public endpoints for the region;
//! with one it sends to (and signs for) the override, as AWS SDKs do.

use crate::error::{ErrorKind, NodeError, quote};
use crate::settings::{PathStyle, Settings};

/// The characters left as they are in a path segment (RFC 3986 unreserved).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes one path segment or query value: everything but the
/// unreserved characters, so no input can add a `/`, `?` or `#`.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes an S3 key, keeping its `/` separators.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// The Pinpoint base URL: scheme and authority.
pub fn pinpoint_base(settings: &Settings) -> String {
    settings
        .pinpoint_endpoint
        .clone()
        .unwrap_or_else(|| format!("https://pinpoint.{}.amazonaws.com", settings.region))
}

/// [`pinpoint_base`], checked: a base that is not an http(s) URL with a host
/// is `InvalidSettings` naming `pinpoint-endpoint`, or `region` when no
/// endpoint is set (the default endpoint is made from it).
pub fn checked_pinpoint_base(settings: &Settings) -> Result<String, NodeError> {
    let base = pinpoint_base(settings);
    let setting = if settings.pinpoint_endpoint.is_some() {
        "pinpoint-endpoint"
    } else {
        "region"
    };
    parse_base(&base, setting)?;
    Ok(base)
}

/// [`s3_object_url`], parsed. A URL that does not parse is `InvalidSettings`
/// naming its cause: `s3-endpoint` (or `region` when no endpoint is set) when
/// the endpoint is at fault, else `staging-bucket` (the key is
/// percent-encoded, the bucket is not).
pub fn s3_object_uri(settings: &Settings, key: &str) -> Result<http::Uri, NodeError> {
    parse_s3(settings, s3_object_url(settings, key))
}

/// The URL of `ListObjectsV2` of at most `max_keys` keys of the staging
/// bucket that start with `prefix`, parsed (errors as [`s3_object_uri`]).
pub fn s3_list_uri(
    settings: &Settings,
    prefix: &str,
    max_keys: u32,
) -> Result<http::Uri, NodeError> {
    let (bucket_url, path_style) = s3_bucket_url(settings);
    let slash = if path_style { "" } else { "/" };
    parse_s3(
        settings,
        format!(
            "{bucket_url}{slash}?list-type=2&max-keys={max_keys}&prefix={}",
            encode_segment(prefix)
        ),
    )
}

/// Parses an S3 URL made from the settings, blaming the setting at fault.
fn parse_s3(settings: &Settings, url: String) -> Result<http::Uri, NodeError> {
    let (base, setting) = match &settings.s3_endpoint {
        Some(endpoint) => (endpoint.clone(), "s3-endpoint"),
        None => (s3_default(settings), "region"),
    };
    parse_base(&base, setting)?;
    url.parse().map_err(|e| {
        NodeError::new(
            ErrorKind::InvalidSettings,
            format!(
                "the staging bucket makes the S3 URL \"{}\" invalid ({e}); check `staging-bucket`",
                quote(&url)
            ),
        )
        .with_setting("staging-bucket")
    })
}

/// Checks that `base` is an http(s) URL with a host; `setting` is blamed.
fn parse_base(base: &str, setting: &str) -> Result<(), NodeError> {
    let parsed = base.parse::<http::Uri>();
    let error = match &parsed {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {
            return Ok(());
        }
        Ok(_) => "it needs http:// or https:// and a host".to_owned(),
        Err(e) => e.to_string(),
    };
    Err(NodeError::new(
        ErrorKind::InvalidSettings,
        format!(
            "the endpoint \"{}\" made from `{setting}` is not a valid URL ({error})",
            quote(base)
        ),
    )
    .with_setting(setting))
}

fn s3_default(settings: &Settings) -> String {
    format!("https://s3.{}.amazonaws.com", settings.region)
}

/// The URL of an object in the staging bucket.
pub fn s3_object_url(settings: &Settings, key: &str) -> String {
    format!("{}/{}", s3_bucket_url(settings).0, encode_key(key))
}

/// The staging bucket's URL, without a trailing `/`, and whether it is in
/// path style (`{endpoint}/{bucket}`) rather than virtual-hosted style
/// (`{scheme}://{bucket}.{authority}`).
fn s3_bucket_url(settings: &Settings) -> (String, bool) {
    let bucket = &settings.staging_bucket;
    let base = settings
        .s3_endpoint
        .clone()
        .unwrap_or_else(|| s3_default(settings));
    let (scheme, authority) = base.split_once("://").unwrap_or(("https", base.as_str()));
    if use_path_style(settings.s3_path_style, authority, bucket) {
        (format!("{scheme}://{authority}/{bucket}"), true)
    } else {
        (format!("{scheme}://{bucket}.{authority}"), false)
    }
}

/// The authorities the node may contact with these settings, each as
/// `host:port` with the port always written out (443 for https, 80 for http).
pub fn allowed_authorities(settings: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    for url in [pinpoint_base(settings), s3_object_url(settings, "")] {
        let Ok(uri) = url.parse::<http::Uri>() else {
            continue;
        };
        let Some(authority) = uri.authority() else {
            continue;
        };
        let default_port = if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        };
        let port = authority.port_u16().unwrap_or(default_port);
        out.push(format!("{}:{port}", authority.host()));
    }
    out.dedup();
    out
}

fn use_path_style(style: PathStyle, authority: &str, bucket: &str) -> bool {
    match style {
        PathStyle::Path => true,
        PathStyle::VirtualHosted => false,
        PathStyle::Auto => {
            let host = authority
                .parse::<http::uri::Authority>()
                .map(|a| a.host().to_owned())
                .unwrap_or_default();
            bucket.contains('.') || is_ip_or_localhost(&host)
        }
    }
}

/// Whether `host` (as a URL writes it) is an IP address or `localhost`:
/// `[::1]` and any other bracketed IPv6 literal; IPv4 in every spelling URL
/// parsers take (`127.0.0.2`, `127.1`, `0x7f.1`, `017700000001`,
/// `2130706433`); `localhost` and `*.localhost` in any case, with or without
/// the root's trailing dot. Such a host has no subdomain for a bucket.
pub fn is_ip_or_localhost(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let address = inner.split('%').next().unwrap_or(inner);
        return address.parse::<std::net::Ipv6Addr>().is_ok();
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::Ipv4Addr>().is_ok()
        || inet_aton(&host).is_some()
}

/// An IPv4 address in the forms `inet_aton` and the WHATWG URL parser take:
/// one to four parts, each decimal, octal (leading `0`) or hex (`0x`), the
/// last filling the remaining bytes.
fn inet_aton(host: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if let Some(octal) = part.strip_prefix('0').filter(|o| !o.is_empty()) {
                (octal, 8)
            } else {
                (*part, 10)
            };
        let number = if digits.is_empty() && radix == 16 {
            0
        } else if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        numbers.push(number);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|n| *n > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 64 && *last >= 1u64 << room {
        return None;
    }
    let mut address = *last;
    for (i, n) in leading.iter().enumerate() {
        address |= n << (8 * (3 - i as u32));
    }
    u32::try_from(address).ok().map(std::net::Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(s3: Option<&str>, bucket: &str, style: PathStyle) -> Settings {
        let mut s = Settings::from_lookup(|k| match k {
            "region" => Some("eu-west-2".into()),
            "staging-bucket" => Some(bucket.into()),
            "import-role-arn" => Some("arn:aws:iam::123456789012:role/R".into()),
            _ => None,
        })
        .unwrap();
        s.s3_endpoint = s3.map(Into::into);
        s.s3_path_style = style;
        s
    }

    #[test]
    fn aws_default_is_virtual_hosted_in_the_region() {
        let s = settings(None, "my-bucket", PathStyle::Auto);
        assert_eq!(
            s3_object_url(&s, "p/a b.csv"),
            "https://my-bucket.s3.eu-west-2.amazonaws.com/p/a%20b.csv"
        );
        assert_eq!(
            pinpoint_base(&s),
            "https://pinpoint.eu-west-2.amazonaws.com"
        );
    }

    #[test]
    fn dotted_buckets_and_local_endpoints_use_path_style() {
        let s = settings(None, "my.bucket", PathStyle::Auto);
        assert_eq!(
            s3_object_url(&s, "k"),
            "https://s3.eu-west-2.amazonaws.com/my.bucket/k"
        );
        let s = settings(Some("http://127.0.0.1:4566"), "b-1", PathStyle::Auto);
        assert_eq!(s3_object_url(&s, "k"), "http://127.0.0.1:4566/b-1/k");
        let s = settings(Some("http://localhost:9000"), "b-1", PathStyle::Auto);
        assert_eq!(s3_object_url(&s, "k"), "http://localhost:9000/b-1/k");
        let s = settings(Some("https://minio.example.com"), "b-1", PathStyle::Auto);
        assert_eq!(s3_object_url(&s, "k"), "https://b-1.minio.example.com/k");
        let s = settings(Some("https://minio.example.com"), "b-1", PathStyle::Path);
        assert_eq!(s3_object_url(&s, "k"), "https://minio.example.com/b-1/k");
    }

    #[test]
    fn listings_address_the_bucket_in_either_style() {
        let s = settings(None, "my-bucket", PathStyle::Auto);
        assert_eq!(
            s3_list_uri(&s, "p/ab", 1000).unwrap(),
            "https://my-bucket.s3.eu-west-2.amazonaws.com/?list-type=2&max-keys=1000&prefix=p%2Fab"
        );
        let s = settings(Some("http://127.0.0.1:4566"), "b-1", PathStyle::Auto);
        assert_eq!(
            s3_list_uri(&s, "pinpoint-imports/0f", 10).unwrap(),
            "http://127.0.0.1:4566/b-1?list-type=2&max-keys=10&prefix=pinpoint-imports%2F0f"
        );
        let mut bad = settings(Some("http://127.0.0.1:4566"), "b-1", PathStyle::Auto);
        bad.staging_bucket = "b 1".into();
        let err = s3_list_uri(&bad, "p", 1).unwrap_err();
        assert_eq!(err.details.setting.as_deref(), Some("staging-bucket"));
    }

    #[test]
    fn every_spelling_of_an_ip_or_localhost_uses_path_style() {
        for host in [
            "localhost:4566",
            "LOCALHOST:4566",
            "LocalHost",
            "localhost.",
            "s3.localhost:9000",
            "S3.LOCALHOST",
            "127.0.0.1:4566",
            "127.0.0.2",
            "127.1:4566",
            "0x7f.1",
            "0X7F.0.0.1",
            "0x7f000001",
            "2130706433:80",
            "017700000001",
            "0177.0.0.1",
            "10.0.0.5",
            "192.168.1.1",
            "[::1]:4566",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[fe80::1%25eth0]:80",
        ] {
            let s = settings(Some(&format!("http://{host}")), "b-1", PathStyle::Auto);
            assert_eq!(
                s3_object_url(&s, "k"),
                format!("http://{host}/b-1/k"),
                "{host}"
            );
        }
        for host in [
            "minio.example.com",
            "127.example.com",
            "localhost.example.com",
            "mylocalhost",
            "1.2.3.4.5",
            "0x7g.1",
            "256.1.1.1",
            "1.2.3.4294967296",
            "4294967296",
        ] {
            let s = settings(Some(&format!("https://{host}")), "b-1", PathStyle::Auto);
            assert_eq!(
                s3_object_url(&s, "k"),
                format!("https://b-1.{host}/k"),
                "{host}"
            );
        }
        assert_eq!(
            inet_aton("127.1"),
            Some(std::net::Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            inet_aton("0x7f.1"),
            Some(std::net::Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            inet_aton("1.2.65535"),
            Some(std::net::Ipv4Addr::new(1, 2, 255, 255))
        );
        assert_eq!(inet_aton("1.2.65536"), None);
        assert_eq!(inet_aton("08"), None);
    }

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(encode_segment("a/../b?x#y"), "a%2F..%2Fb%3Fx%23y");
        assert_eq!(encode_key("pre fix/k+1=2.csv"), "pre%20fix/k%2B1%3D2.csv");
    }

    #[test]
    fn allowed_authorities_cover_both_services() {
        let s = settings(None, "my-bucket", PathStyle::Auto);
        assert_eq!(
            allowed_authorities(&s),
            vec![
                "pinpoint.eu-west-2.amazonaws.com:443",
                "my-bucket.s3.eu-west-2.amazonaws.com:443"
            ]
        );
    }
}
