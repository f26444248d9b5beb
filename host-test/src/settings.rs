//! The node's settings as the host assembles them: the environment (the
//! node's one table of variables, `pinpoint_segment_import::settings::environment`,
//! shared with the portable component), then command-line flags, later
//! sources overriding earlier ones. When neither names a region, the CLI asks
//! the AWS SDK's region chain (the profile's `region`, instance metadata:
//! [`crate::credentials::resolve_region`]).

use std::collections::BTreeMap;

use pinpoint_segment_import::settings::environment;

/// The settings the environment gives: every variable of the node's table
/// (`AWS_REGION` beats `AWS_DEFAULT_REGION`, a service-specific endpoint
/// beats `AWS_ENDPOINT_URL`, `PINPOINT_IMPORT_<KEY>` for the rest).
pub fn from_environment(env: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    environment::from_environment(&env)
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
                    "PINPOINT_IMPORT_POLL_INTERVAL_MS" => "250",
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
        assert_eq!(s["poll-interval-ms"], "250");
        assert!(has_endpoint(&s));
    }
}
