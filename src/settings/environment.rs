//! Settings from environment variables: one table for every host that reads
//! them (the CLI, a component that reads `wasi:cli/environment`).
//!
//! - The standard AWS variables and three short project variables, in
//!   [`ENVIRONMENT`];
//! - every other key of [`KEYS`] from `PINPOINT_IMPORT_<KEY>`, the key in
//!   upper case with `-` as `_` (`poll-interval-ms` is
//!   `PINPOINT_IMPORT_POLL_INTERVAL_MS`).
//!
//! Values are trimmed; an empty value is no value. Where several variables
//! give one key the most specific wins: `AWS_REGION` over
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` over `AWS_ENDPOINT_URL`.
//! A `PINPOINT_IMPORT_*` variable that names no setting (a typo) is an error
//! ([`check_environment`]), as an unknown key is ([`super::check_keys`]).

use std::collections::BTreeMap;

use super::{KEYS, closest, unknown_names_error};
use crate::error::{ErrorKind, NodeError, quote};

/// Environment variables and the settings they give, in order of precedence:
/// where two give the same key, the later one wins.
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

/// The prefix of the project's own variables.
pub const PREFIX: &str = "PINPOINT_IMPORT_";

/// Variables the host reads for itself, not settings of the node: known, so
/// [`check_environment`] accepts them.
pub const HOST_VARIABLES: &[&str] = &["PINPOINT_IMPORT_CACHE_DIR", "PINPOINT_NODE_WASM"];

/// The variables that give `key`, least specific first (the last one set
/// wins); empty for a key the node does not read.
pub fn variables_for(key: &str) -> Vec<String> {
    if !super::is_known_key(key) {
        return Vec::new();
    }
    let listed: Vec<String> = ENVIRONMENT
        .iter()
        .filter(|(_, k)| *k == key)
        .map(|(v, _)| (*v).to_owned())
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    vec![format!(
        "{PREFIX}{}",
        key.to_ascii_uppercase().replace('-', "_")
    )]
}

/// Every variable that gives a setting, then [`HOST_VARIABLES`].
pub fn known_variables() -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let every = KEYS
        .iter()
        .flat_map(|(k, _)| variables_for(k))
        .chain(HOST_VARIABLES.iter().map(|v| (*v).to_owned()));
    for variable in every {
        if !all.contains(&variable) {
            all.push(variable);
        }
    }
    all
}

/// Every setting the environment gives (`env` answers a variable's value),
/// trimmed, empty values left out, the most specific variable winning.
pub fn from_environment(env: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    for (key, _) in KEYS {
        for variable in variables_for(key) {
            if let Some(value) = env(&variable)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                settings.insert((*key).to_owned(), value);
            }
        }
    }
    settings
}

/// For an `InvalidSettings` error about a key, the same error with its
/// message naming the key's environment variables, most specific first:
/// `… (environment variable PINPOINT_IMPORT_BUCKET)`. `setting` stays the
/// key. Any other error is returned as it is.
pub fn name_variable(mut error: NodeError) -> NodeError {
    if error.kind != ErrorKind::InvalidSettings {
        return error;
    }
    let Some(key) = error.details.setting.as_deref() else {
        return error;
    };
    let mut variables = variables_for(key);
    if variables.is_empty() {
        return error;
    }
    variables.reverse();
    let noun = if variables.len() == 1 {
        "environment variable"
    } else {
        "environment variables"
    };
    error
        .message
        .push_str(&format!(" ({noun} {})", variables.join(" or ")));
    error
}

/// Checks the names of the environment's variables: a `PINPOINT_IMPORT_*`
/// variable that is neither a setting's nor a host's
/// (`PINPOINT_IMPORT_POLL_INTERVALL_MS`) is an `InvalidSettings` error naming
/// it and the closest known variable; `setting` is the (first) unknown
/// variable. Other variables (`HOME`, `AWS_PROFILE`) are not looked at.
pub fn check_environment<'a>(env_vars: impl IntoIterator<Item = &'a str>) -> Result<(), NodeError> {
    let known = known_variables();
    let unknown: Vec<&str> = env_vars
        .into_iter()
        .filter(|v| v.starts_with(PREFIX) && !known.iter().any(|k| k == v))
        .collect();
    let ours = || {
        known
            .iter()
            .map(String::as_str)
            .filter(|k| k.starts_with(PREFIX))
    };
    unknown_names_error(
        &unknown,
        ("environment variable", "environment variables"),
        &format!("{PREFIX}* variables name the node's settings"),
        |v| {
            let closest = closest(v, ours()).unwrap_or_default();
            format!("{} (the closest known variable is {closest})", quote(v))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_maps_to_settings_with_the_aws_precedence() {
        let s = from_environment(env(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "eu-west-2"),
            ("AWS_ENDPOINT_URL", "http://localhost:4566"),
            ("AWS_ENDPOINT_URL_S3", "http://localhost:9000"),
            ("PINPOINT_IMPORT_BUCKET", " bucket "),
            ("PINPOINT_IMPORT_PREFIX", "   "),
            ("PINPOINT_IMPORT_POLL_INTERVAL_MS", "100"),
            ("PINPOINT_IMPORT_RETRY_MAX_TOTAL_SECONDS", "30"),
            ("HOME", "/nonexistent"),
        ]));
        assert_eq!(s["region"], "eu-west-2");
        assert_eq!(s["pinpoint-endpoint"], "http://localhost:4566");
        assert_eq!(s["s3-endpoint"], "http://localhost:9000");
        assert_eq!(s["staging-bucket"], "bucket", "trimmed");
        assert!(!s.contains_key("staging-prefix"), "blank is unset");
        assert_eq!(s["poll-interval-ms"], "100");
        assert_eq!(s["retry-max-total-seconds"], "30");
        assert_eq!(s.len(), 6, "{s:?}");
        // A blank specific variable leaves the general one in force.
        let s = from_environment(env(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", ""),
        ]));
        assert_eq!(s["region"], "eu-west-1");
    }

    #[test]
    fn every_key_has_variables_and_each_gives_its_key() {
        assert_eq!(
            variables_for("region"),
            ["AWS_DEFAULT_REGION", "AWS_REGION"]
        );
        assert_eq!(
            variables_for("s3-endpoint"),
            ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
        );
        assert_eq!(variables_for("staging-bucket"), ["PINPOINT_IMPORT_BUCKET"]);
        assert_eq!(
            variables_for("poll-interval-ms"),
            ["PINPOINT_IMPORT_POLL_INTERVAL_MS"]
        );
        assert!(variables_for("poll-intervall-ms").is_empty());
        for (key, _) in KEYS {
            let variables = variables_for(key);
            assert!(!variables.is_empty(), "{key}");
            for variable in &variables {
                let s = from_environment(env(&[(variable, "v")]));
                assert_eq!(s.get(*key).map(String::as_str), Some("v"), "{variable}");
            }
        }
        let known = known_variables();
        check_environment(known.iter().map(String::as_str)).unwrap();
        // Table entries name known keys only.
        for (_, key) in ENVIRONMENT {
            assert!(super::super::is_known_key(key), "{key}");
        }
    }

    #[test]
    fn errors_name_the_variable_and_keep_the_key() {
        let given = from_environment(env(&[
            ("AWS_REGION", "eu-west-1"),
            (
                "PINPOINT_IMPORT_ROLE_ARN",
                "arn:aws:iam::123456789012:role/R",
            ),
        ]));
        let err = Settings::from_lookup(|k| given.get(k).cloned()).unwrap_err();
        let err = name_variable(err);
        assert_eq!(err.details.setting.as_deref(), Some("staging-bucket"));
        assert!(
            err.message
                .ends_with("(environment variable PINPOINT_IMPORT_BUCKET)"),
            "{}",
            err.message
        );
        let err =
            name_variable(NodeError::new(ErrorKind::InvalidSettings, "bad").with_setting("region"));
        assert_eq!(
            err.message,
            "bad (environment variables AWS_REGION or AWS_DEFAULT_REGION)"
        );
        let err = name_variable(
            NodeError::new(ErrorKind::InvalidSettings, "bad").with_setting("poll-interval-ms"),
        );
        assert_eq!(
            err.message,
            "bad (environment variable PINPOINT_IMPORT_POLL_INTERVAL_MS)"
        );
        // Other errors, and settings that are no key, are left alone.
        for e in [
            NodeError::new(ErrorKind::ServiceError, "x").with_setting("region"),
            NodeError::new(ErrorKind::InvalidSettings, "x").with_setting("credentials"),
            NodeError::new(ErrorKind::InvalidSettings, "x"),
        ] {
            assert_eq!(name_variable(e.clone()), e);
        }
    }

    #[test]
    fn unknown_project_variables_are_named_with_the_closest() {
        let err = check_environment([
            "HOME",
            "AWS_PROFILE",
            "PINPOINT_IMPORT_CACHE_DIR",
            "PINPOINT_NODE_WASM",
            "PINPOINT_IMPORT_POLL_INTERVALL_MS",
        ])
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSettings);
        assert_eq!(
            err.details.setting.as_deref(),
            Some("PINPOINT_IMPORT_POLL_INTERVALL_MS")
        );
        assert!(
            err.message.contains(
                "PINPOINT_IMPORT_POLL_INTERVALL_MS (the closest known variable is PINPOINT_IMPORT_POLL_INTERVAL_MS)"
            ),
            "{}",
            err.message
        );
        let err =
            check_environment(["PINPOINT_IMPORT_BUCKT", "PINPOINT_IMPORT_REGION"]).unwrap_err();
        assert!(
            err.message.contains("is PINPOINT_IMPORT_BUCKET)"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("PINPOINT_IMPORT_REGION"),
            "{}",
            err.message
        );
        check_environment(["HOME", "PINPOINT_IMPORT_BUCKET", "AWS_REGION"]).unwrap();
    }
}
