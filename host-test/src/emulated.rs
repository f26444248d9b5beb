//! Runs against the embedded emulator (`pinpoint-emulator`, feature
//! `emulator`): the settings and credentials that point a run at it.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use pinpoint_emulator::*;

/// How fast the CLI's emulators move import jobs: one status per 25 ms, so a
/// small import is done within a few hundred milliseconds, as a small import
/// at Pinpoint is done within seconds.
pub const CLI_JOB_STEP: std::time::Duration = std::time::Duration::from_millis(25);

/// The emulator configuration of the CLI (`run` without an endpoint, and
/// `pinpoint-import emulator`).
pub fn cli_config() -> EmulatorConfig {
    EmulatorConfig {
        job_step: CLI_JOB_STEP,
        ..EmulatorConfig::default()
    }
}

/// The environment variables that point an AWS client, or the portable
/// component, at an emulator listening at `url`: its endpoint, region, keys,
/// bucket and role (the variables of the settings table).
pub fn environment(url: &str) -> Vec<(&'static str, String)> {
    [
        ("AWS_ENDPOINT_URL", url),
        ("AWS_REGION", DEFAULT_REGION),
        ("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY),
        ("PINPOINT_IMPORT_BUCKET", DEFAULT_BUCKET),
        ("PINPOINT_IMPORT_ROLE_ARN", DEFAULT_ROLE_ARN),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

use crate::credentials::Static;
use crate::node::RunConfig;

/// A run config for `emulator`: its endpoint, region, bucket, role and
/// credentials, and the node's default polling. `overrides` are applied on
/// top.
pub fn run_config(emulator: &Emulator, overrides: &BTreeMap<String, String>) -> RunConfig {
    let url = emulator.endpoint_url();
    let mut settings: BTreeMap<String, String> = [
        ("region", DEFAULT_REGION),
        ("staging-bucket", DEFAULT_BUCKET),
        ("import-role-arn", DEFAULT_ROLE_ARN),
        ("pinpoint-endpoint", url.as_str()),
        ("s3-endpoint", url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    settings.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    RunConfig::new(settings, Arc::new(Static(default_credentials())))
}
