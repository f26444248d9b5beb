//! A run's store: its data (WASI, `wasi:http` behind the egress policy,
//! `wasi:config` with the settings, credentials, events, the memory cap and
//! the cancellation), and the slot of the pool it holds while it lives.

use std::sync::Arc;

use pinpoint_segment_import::import::Stage;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::events::EventSink;
use super::limits::MemoryCap;
use super::run_config::RunConfig;
use crate::credentials::CredentialsProvider;
use crate::egress::EgressPolicy;

/// The store's data for one run.
pub(super) struct RunState {
    memory: MemoryCap,
    wasi: WasiCtx,
    /// The resources of WASI, `wasi:http` and the host interface.
    pub(super) table: ResourceTable,
    http: WasiHttpCtx,
    egress: EgressPolicy,
    /// The settings, as `wasi:config` serves them.
    pub(super) config: WasiConfigVariables,
    /// Where the component's credentials come from.
    pub(super) credentials: Arc<dyn CredentialsProvider>,
    /// Where the component's log lines and progress go.
    pub(super) events: Arc<dyn EventSink>,
    /// The run's cancellation.
    pub(super) cancellation: CancellationToken,
    /// The last stage the component reported, for a run stopped by force.
    pub(super) stage: Option<Stage>,
}

/// A run's store and its slot of the host's pool. The slot is given back
/// after the store is dropped (fields drop in order), that is after wasmtime
/// has returned the instance to the pool; the store's data is dropped before
/// that, so the slot cannot live there.
pub(super) struct RunStore {
    /// The store.
    pub(super) store: Store<RunState>,
    /// The slot of the pool, once the run has one.
    pub(super) slot: Option<OwnedSemaphorePermit>,
}

impl RunStore {
    /// A fresh store of `engine` for a run with `config`, its memory capped
    /// at the smaller of the run's cap and `max_memory_per_instance`; it
    /// has no slot yet.
    pub(super) fn new(engine: &Engine, config: &RunConfig, max_memory_per_instance: usize) -> Self {
        let state = RunState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            egress: config
                .egress_policy()
                .counting_body_bytes(sent_bytes(&config.events)),
            config: WasiConfigVariables::from_iter(
                config.settings.iter().map(|(k, v)| (k.clone(), v.clone())),
            ),
            credentials: config.credentials.clone(),
            events: config.events.clone(),
            memory: MemoryCap {
                limit: config.memory_limit_bytes.min(max_memory_per_instance),
            },
            cancellation: config.cancellation.clone(),
            stage: None,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.memory);
        // Yield to the executor at every epoch tick, so the deadline applies
        // even to a guest that computes without waiting on I/O.
        store.epoch_deadline_async_yield_and_update(1);
        RunStore { store, slot: None }
    }
}

/// The egress policy's body counter, reporting to the run's events.
fn sent_bytes(events: &Arc<dyn EventSink>) -> Arc<dyn Fn(u64) + Send + Sync> {
    let events = events.clone();
    Arc::new(move |sent| events.bytes_sent(sent))
}

impl std::ops::Deref for RunStore {
    type Target = Store<RunState>;
    fn deref(&self) -> &Store<RunState> {
        &self.store
    }
}

impl std::ops::DerefMut for RunStore {
    fn deref_mut(&mut self) -> &mut Store<RunState> {
        &mut self.store
    }
}

impl wasmtime::AsContext for RunStore {
    type Data = RunState;
    fn as_context(&self) -> wasmtime::StoreContext<'_, RunState> {
        self.store.as_context()
    }
}

impl wasmtime::AsContextMut for RunStore {
    fn as_context_mut(&mut self) -> wasmtime::StoreContextMut<'_, RunState> {
        self.store.as_context_mut()
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}
