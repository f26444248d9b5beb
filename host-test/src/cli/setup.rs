//! What `run`, `validate` and `mcp` run with: the component, and the run
//! config from the environment then the flags, with credentials from the
//! AWS SDK's chain, or the embedded emulator when no endpoint is set.

use std::collections::BTreeMap;
#[cfg(feature = "emulator")]
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use host_test::credentials::StandardChain;
#[cfg(feature = "emulator")]
use host_test::emulated::{self, Emulator};
use host_test::log::Logger;
#[cfg(feature = "emulator")]
use host_test::log::notice;
use host_test::node::{LogLevel, NodeHost, RunConfig};
use host_test::settings;
use pinpoint_segment_import::error::NodeError;
use pinpoint_segment_import::settings::environment;

use super::args::SettingsArgs;
use super::exit::UsageError;

/// The component, and the run config from the environment and flags (or
/// the node error every run reports, an invalid environment), and the
/// embedded emulator it points at when no endpoint is set and there is no
/// `--aws`.
pub struct Setup {
    /// The component, loaded.
    pub host: NodeHost,
    /// The config of every run; its `events` are the caller's to set.
    pub config: Result<RunConfig, NodeError>,
    /// The embedded emulator the config points at, if it runs.
    #[cfg(feature = "emulator")]
    pub emulator: Option<Emulator>,
}

impl Setup {
    /// Stops the embedded emulator, if it runs, and removes its data.
    pub async fn shutdown(self) {
        #[cfg(feature = "emulator")]
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }
}

/// Loads the component and makes the run config: settings from the
/// environment then the flags, credentials from the AWS SDK's chain (its
/// log lines to `log`), or the embedded emulator (started here; not for a
/// dry run).
pub async fn setup(args: &SettingsArgs, dry_run: bool, log: Logger) -> Result<Setup, UsageError> {
    let host =
        NodeHost::new().map_err(|e| UsageError(format!("cannot load the component: {e:#}")))?;
    let variables: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    if let Err(e) = environment::check_environment(variables.iter().map(String::as_str)) {
        return Ok(Setup {
            host,
            config: Err(e),
            #[cfg(feature = "emulator")]
            emulator: None,
        });
    }
    let settings = settings_from(args);
    #[cfg(feature = "emulator")]
    let (emulator, config) = {
        let use_emulator =
            !dry_run && (args.emulator || (!args.aws && !settings::has_endpoint(&settings)));
        if use_emulator {
            let (emulator, config) = start_emulator(args, settings).await?;
            (Some(emulator), config)
        } else {
            (None, aws_config(args, settings, log).await)
        }
    };
    #[cfg(not(feature = "emulator"))]
    let config = {
        let _ = dry_run;
        aws_config(args, settings, log).await
    };
    let mut config = config;
    config.deadline = Duration::from_secs(args.deadline_seconds);
    config.memory_limit_bytes = args.memory_limit_mib.saturating_mul(1 << 20);
    Ok(Setup {
        host,
        config: Ok(config),
        #[cfg(feature = "emulator")]
        emulator,
    })
}

/// The `max-import-bytes` the settings give (the environment's, then the
/// flags'), which bounds what the CLI reads; a value that is not a number is
/// the `InvalidSettings` every run would report.
pub fn max_import_bytes(args: &SettingsArgs) -> Result<u64, NodeError> {
    let settings = settings_from(args);
    pinpoint_segment_import::settings::data_limits(|k| settings.get(k).cloned())
        .map(|limits| limits.max_import_bytes)
}

/// Settings from the environment, then the flags.
fn settings_from(args: &SettingsArgs) -> BTreeMap<String, String> {
    let mut s = settings::from_environment(|k| std::env::var(k).ok());
    let flags = [
        ("region", &args.region),
        ("staging-bucket", &args.bucket),
        ("import-role-arn", &args.role_arn),
        ("staging-prefix", &args.prefix),
        ("pinpoint-endpoint", &args.endpoint_url),
        ("s3-endpoint", &args.endpoint_url),
        ("pinpoint-endpoint", &args.pinpoint_endpoint),
        ("s3-endpoint", &args.s3_endpoint),
    ];
    for (key, value) in flags {
        if let Some(v) = value {
            s.insert(key.to_owned(), v.clone());
        }
    }
    if args.no_wait {
        s.insert("wait-for-completion".into(), "false".into());
    }
    s.extend(args.set.iter().cloned());
    s
}

/// A run config for AWS (or the endpoints set): the AWS SDK's credential
/// chain for `--profile` (else `AWS_PROFILE`); the region, when neither a
/// flag nor the environment gives one, from the SDK's region chain.
async fn aws_config(
    args: &SettingsArgs,
    mut settings: BTreeMap<String, String>,
    log: Logger,
) -> RunConfig {
    if !settings.contains_key("region")
        && let Some(region) = host_test::credentials::resolve_region(args.profile.as_deref()).await
    {
        settings.insert("region".to_owned(), region.to_string());
    }
    let credentials = StandardChain::new(args.profile.clone())
        .region(settings.get("region").cloned())
        .on_log(Arc::new(move |m: &str| log(LogLevel::Debug, m)));
    RunConfig::new(settings, Arc::new(credentials))
}

/// The CLI's emulator configuration with jobs moving one step per `job_step_ms`.
#[cfg(feature = "emulator")]
pub fn emulator_config(job_step_ms: u64) -> emulated::EmulatorConfig {
    emulated::EmulatorConfig {
        job_step: Duration::from_millis(job_step_ms),
        ..emulated::cli_config()
    }
}

/// Starts the embedded emulator and a run config pointing at it: every
/// setting as given, but the emulator's own (`emulated::own_settings`).
#[cfg(feature = "emulator")]
async fn start_emulator(
    args: &SettingsArgs,
    settings: BTreeMap<String, String>,
) -> Result<(Emulator, RunConfig), UsageError> {
    let started = Emulator::start(
        emulator_config(args.emulator_job_step_ms),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .map_err(|e| UsageError(format!("cannot start the embedded emulator: {e:#}")))?;
    let (config, replaced) = emulated::run_config_under(&started, settings);
    let replaced = if replaced.is_empty() {
        String::new()
    } else {
        format!(
            "; it sets {} itself, over the values given",
            replaced.join(", ")
        )
    };
    notice(&format!(
        "no AWS endpoint given and no --aws: running against the embedded S3 + Pinpoint emulator at {}{replaced}",
        started.endpoint_url()
    ));
    Ok((started, config))
}
