//! Running the component: one engine per host, its instances in a pool
//! sized by [`HostConfig`], the component compiled once (and cached on disk
//! by its hash), pre-instantiated; per run a fresh store with WASI,
//! `wasi:http` behind the egress policy, `wasi:config` with the settings, our
//! `host` interface, a memory cap and a deadline.
//!
//! This is the reference for runtimes that embed the node: [`NodeHost::run`]
//! takes the seed's input and a [`RunConfig`] and returns the output or a
//! typed [`NodeError`]. One host serves many concurrent runs: each has its
//! own store, settings, credentials and events, and nothing else is shared.
//!
//! The parts, each in its own file, none referring back to this one:
//! - `engine`: the engine, its pooling allocator ([`HostConfig`]) and the
//!   pool's slots;
//! - `cache`: the precompiled component on disk ([`cache_dir`]);
//! - `pool`: the pre-instantiated component, a store and an instance per
//!   call, the deadline and the cancellation;
//! - `store` and `limits`: a run's store data and its memory cap;
//! - `host_functions`: the component's imports, the node's `host`
//!   interface among them;
//! - `errors`: traps, the deadline and forced stops as the node's errors;
//! - `run_config` and `events`: what an embedder gives a run and hears from it.

mod cache;
mod engine;
mod errors;
mod events;
mod host_functions;
mod limits;
mod pool;
mod run_config;
mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::import::{ImportOutput, StagedFile, ValidationReport};
use pinpoint_segment_import::input::{ImportInput, ImportRequest};

pub use cache::cache_dir;
pub use engine::HostConfig;
pub use events::{EventSink, LogLevel, Quiet};
pub use run_config::{CANCEL_GRACE, RunConfig};

use crate::convert;
use crate::credentials::Static;
use errors::stopped_error;
use pool::InstancePool;

/// The full component (world `node-component`) this crate was built with
/// (`host-test/build.rs`): the one [`NodeHost`] runs.
pub const COMPONENT: &[u8] = include_bytes!(env!("PINPOINT_NODE_WASM"));

/// The portable component (world `node-portable`, WASI imports only) built
/// from the same checkout, for runtimes other than this host.
pub const PORTABLE_COMPONENT: &[u8] = include_bytes!(env!("PINPOINT_NODE_PORTABLE_WASM"));

/// The engine and the pre-instantiated component: create once, run many,
/// concurrently (clones share the engine and its pool).
#[derive(Clone)]
pub struct NodeHost {
    pool: InstancePool,
}

impl NodeHost {
    /// A host for the component this crate was built with, with the default
    /// [`HostConfig`].
    pub fn new() -> wasmtime::Result<Self> {
        Self::from_component(COMPONENT)
    }

    /// A host for the component this crate was built with and a pool sized
    /// by `config`.
    pub fn with_config(config: HostConfig) -> wasmtime::Result<Self> {
        Self::from_component_with_config(COMPONENT, config)
    }

    /// A shared host for the built-in component, made on first use.
    pub fn shared() -> wasmtime::Result<&'static NodeHost> {
        static HOST: OnceLock<NodeHost> = OnceLock::new();
        if let Some(h) = HOST.get() {
            return Ok(h);
        }
        let host = Self::new()?;
        Ok(HOST.get_or_init(|| host))
    }

    /// A host for the component `bytes`, with the default [`HostConfig`].
    pub fn from_component(bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::from_component_with_config(bytes, HostConfig::default())
    }

    /// A host for the component `bytes` and a pool sized by `config`. A
    /// component that needs more linear memories or tables per instance
    /// than a slot of the pool holds is refused.
    pub fn from_component_with_config(bytes: &[u8], config: HostConfig) -> wasmtime::Result<Self> {
        Ok(NodeHost {
            pool: InstancePool::new(bytes, config)?,
        })
    }

    /// The configuration of this host's pool.
    pub fn config(&self) -> &HostConfig {
        &self.pool.config
    }

    /// Runs the import.
    ///
    /// Before the component starts, when the settings are complete, the
    /// credentials are asked for once: a provider whose configuration is
    /// broken (a profile that cannot work) is `InvalidSettings` right away.
    /// Any other failure is left to the component, which asks again before
    /// its first signature and reports `PermissionDenied` in its order
    /// (after the checks of the data).
    pub async fn run(
        &self,
        input: &ImportInput,
        config: &RunConfig,
    ) -> Result<ImportOutput, NodeError> {
        self.run_owned(input.clone(), config).await
    }

    /// [`NodeHost::run`], taking the input (the seed's, or an
    /// [`ImportRequest`] with options such as `on_existing`): its data is
    /// moved to the component's input, not copied, so the host holds it once
    /// while the component has its own copy (for the CLI, whose data is a
    /// large file).
    pub async fn run_owned(
        &self,
        input: impl Into<ImportRequest>,
        config: &RunConfig,
    ) -> Result<ImportOutput, NodeError> {
        let lookup = |k: &str| config.settings.get(k).cloned();
        if pinpoint_segment_import::settings::Settings::from_lookup(lookup).is_ok() {
            let checked = tokio::select! {
                checked = config.credentials.credentials() => checked,
                () = config.cancellation.cancelled() => return Err(stopped_error(None)),
            };
            if let Err(e) = checked
                && e.broken_configuration
            {
                return Err(NodeError::new(ErrorKind::InvalidSettings, e.message));
            }
        }
        let input = convert::into_wit_input(input.into());
        self.pool
            .call(config, async |node, store| {
                node.call_run(store, &input).await
            })
            .await
            .map(convert::from_wit_output)
    }

    /// The dry run: validates without any network.
    pub async fn validate(
        &self,
        input: &ImportInput,
        config: &RunConfig,
    ) -> Result<ValidationReport, NodeError> {
        self.validate_owned(input.clone(), config).await
    }

    /// [`NodeHost::validate`], taking the input (see [`NodeHost::run_owned`]).
    pub async fn validate_owned(
        &self,
        input: impl Into<ImportRequest>,
        config: &RunConfig,
    ) -> Result<ValidationReport, NodeError> {
        let input = convert::into_wit_input(input.into());
        self.pool
            .call(config, async |node, store| {
                node.call_validate(store, &input).await
            })
            .await
            .map(convert::from_wit_report)
    }

    /// The file a run would stage in S3, checked as [`NodeHost::validate`]
    /// checks, without any network (the CLI's `validate --staged-file`).
    pub async fn stage_owned(
        &self,
        input: impl Into<ImportRequest>,
        config: &RunConfig,
    ) -> Result<StagedFile, NodeError> {
        let input = convert::into_wit_input(input.into());
        self.pool
            .call(config, async |node, store| {
                node.call_stage(store, &input).await
            })
            .await
            .map(convert::from_wit_staged)
    }

    /// The node's descriptor (JSON text).
    pub async fn describe(&self) -> wasmtime::Result<String> {
        let config = RunConfig::new(BTreeMap::new(), Arc::new(Static::new("", "", None)));
        let mut store = self.pool.store(&config);
        let instance = self.pool.instantiate(&mut store).await?;
        instance
            .pinpoint_segment_import_node()
            .call_describe(&mut store)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pinpoint_segment_import::input::Format;

    use super::errors::trap_error;
    use super::*;

    fn no_settings() -> RunConfig {
        RunConfig::new(BTreeMap::new(), Arc::new(Static::new("", "", None)))
    }

    fn csv(rows: usize) -> ImportInput {
        let mut data = String::from("ChannelType,Address\n");
        for i in 0..rows {
            data.push_str(&format!("EMAIL,user{i}@example.com\n"));
        }
        ImportInput {
            application_id: "a1b2c3d4e5f6".into(),
            segment_name: "Pool".into(),
            format: Format::Csv,
            data,
        }
    }

    #[test]
    fn a_host_config_out_of_range_is_refused_with_its_reason() {
        let zero = HostConfig {
            max_concurrent_instances: 0,
            ..HostConfig::default()
        };
        let err = NodeHost::with_config(zero).err().unwrap().to_string();
        assert!(err.contains("max_concurrent_instances"), "{err}");
        for bytes in [1 << 10, 8 << 30] {
            let config = HostConfig {
                max_memory_per_instance: bytes,
                ..HostConfig::default()
            };
            let err = NodeHost::with_config(config).err().unwrap().to_string();
            assert!(err.contains("max_memory_per_instance"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_pool_holds_its_instances_and_a_run_waits_for_a_free_slot() {
        let host = NodeHost::with_config(HostConfig {
            max_concurrent_instances: 2,
            ..HostConfig::default()
        })
        .unwrap();
        let config = no_settings();
        // Two instances alive at once: the pool's sizing per instance (core
        // instances, memories, tables) fits the component.
        let mut first = host.pool.store(&config);
        host.pool.instantiate(&mut first).await.unwrap();
        let mut second = host.pool.store(&config);
        host.pool.instantiate(&mut second).await.unwrap();

        // Past the wait, wasmtime has no room for a third, and its error is
        // the host's typed one.
        let mut third = host.pool.store(&config);
        let full = host
            .pool
            .pre
            .instantiate_async(&mut third.store)
            .await
            .err()
            .unwrap();
        let err = trap_error(&full);
        assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
        assert!(err.message.contains("no free instance slot"), "{err:?}");
        drop(third);

        // A run waits for a slot; the wait counts toward its deadline.
        let mut hurried = no_settings();
        hurried.deadline = Duration::from_millis(300);
        let err = host.validate(&csv(3), &hurried).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::TimedOut, "{err:?}");

        // Cancelled while it waits, it ends at once, having done nothing.
        let cancelled = no_settings();
        let token = cancelled.cancellation.clone();
        let waiting = tokio::spawn({
            let host = host.clone();
            async move { host.validate(&csv(3), &cancelled).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        token.cancel();
        let err = waiting.await.unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
        assert!(
            err.message.contains("waited for a free instance slot"),
            "{err:?}"
        );

        // It gets the slot a finished run gives back.
        let waiting = tokio::spawn({
            let host = host.clone();
            async move { host.validate(&csv(3), &no_settings()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiting.is_finished(),
            "the run waits while the pool is full"
        );
        drop(first);
        let report = waiting.await.unwrap().unwrap();
        assert_eq!(report.endpoint_count, 3);
        drop(second);
    }

    #[tokio::test]
    async fn the_memory_cap_is_the_smaller_of_the_run_and_the_slot_and_stays_typed() {
        let slot = 16 << 20;
        let host = NodeHost::with_config(HostConfig {
            max_concurrent_instances: 2,
            max_memory_per_instance: slot,
        })
        .unwrap();
        // About 24 MB: the data alone does not fit in the slot.
        let big = csv(800_000);
        // The run allows 4 GiB; the slot's 16 MiB is the cap.
        let err = host.validate(&big, &no_settings()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::OutOfMemory, "{err:?}");
        assert_eq!(err.details.limit_bytes, Some(slot as u64));
        // A run's own cap below the slot's is its cap.
        let mut small_cap = no_settings();
        small_cap.memory_limit_bytes = 8 << 20;
        let err = host.validate(&big, &small_cap).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::OutOfMemory, "{err:?}");
        assert_eq!(err.details.limit_bytes, Some(8 << 20));
        // The slots are reused for the next runs.
        for _ in 0..3 {
            let report = host.validate(&csv(10), &no_settings()).await.unwrap();
            assert_eq!(report.endpoint_count, 10);
        }
    }
}
