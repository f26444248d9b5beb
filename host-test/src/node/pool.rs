//! A host's running instances: the component pre-instantiated once, then per
//! call a fresh store, a slot of the pool, an instance, and one export
//! called under the run's deadline and cancellation.

use std::time::Instant;

use pinpoint_segment_import::error::NodeError;
use wasmtime::{Engine, Store};

use super::cache::load_component;
use super::engine::{HostConfig, Slots, check_component_fits, engine};
use super::errors::{deadline_error, stopped_error, trap_error};
use super::host_functions::linker;
use super::run_config::{CANCEL_GRACE, RunConfig};
use super::store::{RunState, RunStore};
use crate::bindings::{self, wit};
use crate::convert;

/// The engine, its pool and the pre-instantiated component: clones share
/// them all.
#[derive(Clone)]
pub(super) struct InstancePool {
    engine: Engine,
    /// The component, linked and ready to instantiate.
    pub(super) pre: bindings::NodeComponentPre<RunState>,
    /// How the pool is sized.
    pub(super) config: HostConfig,
    slots: Slots,
}

impl InstancePool {
    /// The pool of the component `bytes`, sized by `config`: an engine of its
    /// own, the component compiled (or loaded from the disk cache) and
    /// linked with the host's imports.
    pub(super) fn new(bytes: &[u8], config: HostConfig) -> wasmtime::Result<Self> {
        let engine = engine(&config)?;
        let component = load_component(&engine, bytes)?;
        check_component_fits(&component)?;
        let pre = bindings::NodeComponentPre::new(linker(&engine)?.instantiate_pre(&component)?)?;
        let slots = Slots::new(&config);
        Ok(InstancePool {
            engine,
            pre,
            config,
            slots,
        })
    }

    /// A fresh store for a run with `config`, without a slot yet.
    pub(super) fn store(&self, config: &RunConfig) -> RunStore {
        RunStore::new(&self.engine, config, self.config.max_memory_per_instance)
    }

    /// Waits for a free slot of the pool, then instantiates the component in
    /// `store`, which keeps the slot until it is dropped; reports the
    /// instantiation's duration to the run's events.
    pub(super) async fn instantiate(
        &self,
        store: &mut RunStore,
    ) -> wasmtime::Result<bindings::NodeComponent> {
        let cancellation = store.data().cancellation.clone();
        store.slot = Some(self.slots.acquire(&cancellation).await?);
        // The store may have waited for its slot over many epoch ticks, and
        // a tick may come during the instantiation (tens of microseconds):
        // either would yield to every other run before this one gets its
        // instance. Two ticks from now, a yield comes after 10 ms at least.
        store.set_epoch_deadline(2);
        let started = Instant::now();
        let instance = self.pre.instantiate_async(&mut store.store).await?;
        store.data().events.instantiated(started.elapsed());
        Ok(instance)
    }

    /// Instantiates the component in a fresh store for `config` and calls one
    /// export; its value, its typed error, the deadline or a trap, each as
    /// the node's result.
    pub(super) async fn call<T>(
        &self,
        config: &RunConfig,
        export: impl AsyncFnOnce(
            &bindings::wit_node::Guest,
            &mut Store<RunState>,
        ) -> wasmtime::Result<Result<T, wit::NodeError>>,
    ) -> Result<T, NodeError> {
        let mut store = self.store(config);
        let call = async {
            let instance = self.instantiate(&mut store).await?;
            export(instance.pinpoint_segment_import_node(), &mut store).await
        };
        // The component gets the grace period to stop and clean up by itself.
        let cancelled = async {
            config.cancellation.cancelled().await;
            tokio::time::sleep(CANCEL_GRACE).await;
        };
        let outcome = tokio::time::timeout(config.deadline, async {
            tokio::select! {
                result = call => Some(result),
                () = cancelled => None,
            }
        })
        .await;
        match outcome {
            Err(_) => Err(deadline_error(config.deadline)),
            Ok(None) => Err(stopped_error(store.data().stage)),
            Ok(Some(Err(trap))) => Err(trap_error(&trap)),
            Ok(Some(Ok(Ok(value)))) => Ok(value),
            Ok(Some(Ok(Err(e)))) => Err(convert::from_wit_error(e)),
        }
    }
}
