//! The `node-component` world: settings from `wasi:config/store`,
//! credentials, log lines and progress through the brokering host's `host`
//! interface.

use super::bindings::pinpoint::segment_import::host;
use super::bindings::wasi::config::store;
use super::bindings::wasi::io::poll::Pollable;
use super::convert::to_wit_stage;
use crate::aws::sign::{self, Credentials};
use crate::endpoints::Limits;
use crate::error::{ErrorKind, NodeError};
use crate::import::{Level, Stage};
use crate::settings::{self, Settings};

/// The brokered world.
pub(super) struct World;

/// The settings `wasi:config` holds, read once: every key must be one the
/// node knows (a misspelt key is an error, not a setting silently ignored).
/// A store that cannot list its keys is read key by key instead (an
/// unreadable key reads as "not set"; the setting that needs it then says it
/// is missing).
fn setting_lookup() -> Result<impl Fn(&str) -> Option<String>, NodeError> {
    let all = store::get_all().ok();
    if let Some(all) = &all {
        settings::check_keys(all.iter().map(|(k, _)| k.as_str()))?;
    }
    Ok(move |key: &str| match &all {
        Some(all) => all.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
        None => store::get(key).ok().flatten(),
    })
}

impl super::host::Host for World {
    fn settings() -> Result<Settings, NodeError> {
        Settings::from_lookup(setting_lookup()?)
    }

    fn data_limits() -> Result<Limits, NodeError> {
        settings::data_limits(setting_lookup()?)
    }

    fn credentials() -> Result<Credentials, NodeError> {
        let c = host::get_credentials().map_err(|reason| {
            NodeError::new(
                ErrorKind::PermissionDenied,
                format!("the host has no AWS credentials: {reason}"),
            )
            .with_setting("credentials")
        })?;
        let expiration = c
            .expiration
            .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s)));
        Ok(sign::credentials(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            expiration,
        ))
    }

    fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => host::LogLevel::Debug,
            Level::Info => host::LogLevel::Info,
            Level::Warn => host::LogLevel::Warn,
        };
        host::log(level, message);
    }

    fn progress(stage: Stage, completed: u64, total: Option<u64>) {
        host::progress(to_wit_stage(stage), completed, total);
    }

    fn cancellation() -> Option<Pollable> {
        Some(host::cancellation())
    }
}
