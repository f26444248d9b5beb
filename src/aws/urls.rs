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
    let (base, setting) = match &settings.s3_endpoint {
        Some(endpoint) => (endpoint.clone(), "s3-endpoint"),
        None => (s3_default(settings), "region"),
    };
    parse_base(&base, setting)?;
    let url = s3_object_url(settings, key);
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
    let bucket = &settings.staging_bucket;
    let base = settings
        .s3_endpoint
        .clone()
        .unwrap_or_else(|| s3_default(settings));
    let (scheme, authority) = base.split_once("://").unwrap_or(("https", base.as_str()));
    if use_path_style(settings.s3_path_style, authority, bucket) {
        format!("{scheme}://{authority}/{bucket}/{}", encode_key(key))
    } else {
        format!("{scheme}://{bucket}.{authority}/{}", encode_key(key))
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
            let host = host_of(authority);
            bucket.contains('.')
                || host == "localhost"
                || host.ends_with(".localhost")
                || host.parse::<std::net::IpAddr>().is_ok()
                || host.starts_with('[')
        }
    }
}

/// The host of an authority, without the port.
fn host_of(authority: &str) -> &str {
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority)
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
