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

/// The settings an emulator sets itself, whatever the environment and flags
/// say: its region, bucket and role (the only ones it has) and its endpoint
/// for both services (where it listens).
pub fn own_settings(emulator: &Emulator) -> BTreeMap<String, String> {
    let url = emulator.endpoint_url();
    [
        ("region", DEFAULT_REGION),
        ("staging-bucket", DEFAULT_BUCKET),
        ("import-role-arn", DEFAULT_ROLE_ARN),
        ("pinpoint-endpoint", url.as_str()),
        ("s3-endpoint", url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A run config for `emulator`: its [`own_settings`] and credentials, and
/// the node's default polling. `overrides` are applied on top (tests that
/// point a run elsewhere).
pub fn run_config(emulator: &Emulator, overrides: &BTreeMap<String, String>) -> RunConfig {
    let mut settings = own_settings(emulator);
    settings.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    RunConfig::new(settings, Arc::new(Static(default_credentials())))
}

/// A run config for `emulator` with `settings` (the environment's and the
/// flags', every one applied as against any endpoint) under its
/// [`own_settings`], with its credentials; and the keys `settings` gave
/// other values that the emulator's replaced.
pub fn run_config_under(
    emulator: &Emulator,
    mut settings: BTreeMap<String, String>,
) -> (RunConfig, Vec<String>) {
    let own = own_settings(emulator);
    let replaced = own
        .iter()
        .filter(|(k, v)| settings.get(*k).is_some_and(|given| given != *v))
        .map(|(k, _)| k.clone())
        .collect();
    settings.extend(own);
    let config = RunConfig::new(settings, Arc::new(Static(default_credentials())));
    (config, replaced)
}
