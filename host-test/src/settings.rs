//! The node's settings as the host assembles them: the standard AWS
//! environment variables, this project's `PINPOINT_IMPORT_*` variables, then
//! command-line flags, later sources overriding earlier ones.

use std::collections::BTreeMap;

use crate::credentials::profile_region;

/// Environment variables and the settings they give.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("AWS_DEFAULT_REGION", "region"),
    ("AWS_REGION", "region"),
    ("AWS_ENDPOINT_URL", "pinpoint-endpoint"),
    ("AWS_ENDPOINT_URL", "s3-endpoint"),
    ("AWS_ENDPOINT_URL_PINPOINT", "pinpoint-endpoint"),
    ("AWS_ENDPOINT_URL_S3", "s3-endpoint"),
    ("PINPOINT_IMPORT_BUCKET", "staging-bucket"),
    ("PINPOINT_IMPORT_ROLE_ARN", "import-role-arn"),
    ("PINPOINT_IMPORT_PREFIX", "staging-prefix"),
];

/// The settings the environment gives (later variables in [`ENVIRONMENT`]
/// win, so `AWS_REGION` beats `AWS_DEFAULT_REGION` and a service-specific
/// endpoint beats `AWS_ENDPOINT_URL`). The profile's region fills in when no
/// variable names one.
pub fn from_environment(env: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    if let Some(region) = profile_region(&env) {
        settings.insert("region".to_owned(), region);
    }
    for (var, key) in ENVIRONMENT {
        if let Some(value) = env(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        {
            settings.insert((*key).to_owned(), value);
        }
    }
    settings
}

/// Whether the settings point at some endpoint other than AWS's defaults.
pub fn has_endpoint(settings: &BTreeMap<String, String>) -> bool {
    settings.contains_key("pinpoint-endpoint") || settings.contains_key("s3-endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_maps_to_settings_with_the_aws_precedence() {
        let env = |k: &str| {
            Some(
                match k {
                    "AWS_DEFAULT_REGION" => "eu-west-1",
                    "AWS_REGION" => "eu-west-2",
                    "AWS_ENDPOINT_URL" => "http://localhost:4566",
                    "AWS_ENDPOINT_URL_S3" => "http://localhost:9000",
                    "PINPOINT_IMPORT_BUCKET" => "bucket",
                    "HOME" => "/nonexistent",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        let s = from_environment(env);
        assert_eq!(s["region"], "eu-west-2");
        assert_eq!(s["pinpoint-endpoint"], "http://localhost:4566");
        assert_eq!(s["s3-endpoint"], "http://localhost:9000");
        assert_eq!(s["staging-bucket"], "bucket");
        assert!(has_endpoint(&s));
    }
}
