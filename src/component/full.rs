//! The `node-component` world: settings from `wasi:config/store`,
//! credentials, log lines and progress through the brokering host's `host`
//! interface.

use super::bindings::pinpoint::segment_import::host;
use super::bindings::wasi::config::store;
use super::convert::to_wit_stage;
use crate::aws::sign::{self, Credentials};
use crate::endpoints::Limits;
use crate::error::{ErrorKind, NodeError};
use crate::import::{Level, Stage};
use crate::settings::{self, Settings};

/// The brokered world.
pub(super) struct World;

/// A value of `wasi:config` (an unreadable store reads as "not set"; the
/// setting that needs it then says it is missing).
fn config(key: &str) -> Option<String> {
    store::get(key).ok().flatten()
}

/// Every key the host set must be one the node knows: a misspelt key is an
/// error, not a setting silently ignored.
fn check_known_keys() -> Result<(), NodeError> {
    let all = store::get_all().unwrap_or_default();
    settings::check_keys(all.iter().map(|(k, _)| k.as_str()))
}

impl super::Host for World {
    fn settings() -> Result<Settings, NodeError> {
        check_known_keys()?;
        Settings::from_lookup(config)
    }

    fn data_limits() -> Result<Limits, NodeError> {
        check_known_keys()?;
        settings::data_limits(config)
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
}
