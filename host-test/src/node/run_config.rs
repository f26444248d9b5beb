//! What one run is given besides its input: settings, credentials, egress,
//! events, limits and its cancellation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::events::{EventSink, Quiet};
use crate::credentials::CredentialsProvider;
use crate::egress::EgressPolicy;

/// Everything one run needs besides the input.
#[derive(Clone)]
pub struct RunConfig {
    /// The node's settings (`wasi:config` keys: `region`, `staging-bucket`, ...).
    pub settings: BTreeMap<String, String>,
    /// Where credentials come from.
    pub credentials: Arc<dyn CredentialsProvider>,
    /// Authorities the component may reach; empty means "derive from the settings".
    pub allowed_authorities: Vec<String>,
    /// Where log lines and progress go.
    pub events: Arc<dyn EventSink>,
    /// Linear memory cap of the component, in bytes; the host's
    /// [`HostConfig::max_memory_per_instance`](super::engine::HostConfig::max_memory_per_instance)
    /// caps it too (the smaller wins).
    pub memory_limit_bytes: usize,
    /// Wall-clock limit of the whole run, including a wait for a free slot
    /// of the host's pool.
    pub deadline: Duration,
    /// Cancels the run: the component stops at its next step, deletes a
    /// staged file no import job reads, and returns `Cancelled` saying what
    /// is left. A component that has not returned [`CANCEL_GRACE`] after
    /// the cancellation is stopped where it is (also `Cancelled`).
    pub cancellation: CancellationToken,
}

/// How long a cancelled run may take to clean up before the host stops it:
/// with the component's one-second clean-up requests, a cancelled run ends
/// within 2 s.
pub const CANCEL_GRACE: Duration = Duration::from_millis(1500);

impl RunConfig {
    /// A config with these settings and credentials, no events, a 4 GiB memory
    /// cap (the wasm32 maximum) and a one-hour deadline.
    pub fn new(
        settings: BTreeMap<String, String>,
        credentials: Arc<dyn CredentialsProvider>,
    ) -> Self {
        RunConfig {
            settings,
            credentials,
            allowed_authorities: Vec::new(),
            events: Arc::new(Quiet),
            memory_limit_bytes: 4 << 30,
            deadline: Duration::from_secs(3600),
            cancellation: CancellationToken::new(),
        }
    }

    /// The egress policy of a run with this config.
    pub fn egress_policy(&self) -> EgressPolicy {
        if !self.allowed_authorities.is_empty() {
            return EgressPolicy::allow(self.allowed_authorities.clone());
        }
        let lookup = |k: &str| self.settings.get(k).cloned();
        match pinpoint_segment_import::settings::Settings::from_lookup(lookup) {
            Ok(s) => {
                EgressPolicy::allow(pinpoint_segment_import::aws::urls::allowed_authorities(&s))
            }
            Err(_) => EgressPolicy::allow([]),
        }
    }
}
