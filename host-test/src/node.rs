//! Running the component: one [`Engine`] per host, its instances in a pool
//! sized by [`HostConfig`], the component compiled once (and cached on disk
//! by its hash), pre-instantiated; per run a fresh store with WASI,
//! `wasi:http` behind the egress policy, `wasi:config` with the settings, our
//! `host` interface, a memory cap and a deadline.
//!
//! This is the reference for runtimes that embed the node: [`NodeHost::run`]
//! takes the seed's input and a [`RunConfig`] and returns the output or a
//! typed [`NodeError`]. One host serves many concurrent runs: each has its
//! own store, settings, credentials and events, and nothing else is shared.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::import::{ImportOutput, Stage, ValidationReport};
use pinpoint_segment_import::input::ImportInput;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig,
    ResourceLimiter, Store,
};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::{self, wit, wit_host};
use crate::convert;
use crate::credentials::{CredentialsProvider, Static};
use crate::egress::EgressPolicy;

/// The full component (world `node-component`) this crate was built with
/// (`host-test/build.rs`): the one [`NodeHost`] runs.
pub const COMPONENT: &[u8] = include_bytes!(env!("PINPOINT_NODE_WASM"));

/// The portable component (world `node-portable`, WASI imports only) built
/// from the same checkout, for runtimes other than this host.
pub const PORTABLE_COMPONENT: &[u8] = include_bytes!(env!("PINPOINT_NODE_PORTABLE_WASM"));

/// Log levels of the component's log lines.
pub use wit_host::LogLevel;

/// Receives the component's log lines and progress.
pub trait EventSink: Send + Sync {
    /// A log line.
    fn log(&self, level: LogLevel, message: &str);
    /// Progress of a stage: `completed` of `total`.
    fn progress(&self, stage: Stage, completed: u64, total: Option<u64>);
    /// Bytes of the body of the request the component is sending, counted
    /// by the host as they leave (a staged file's upload); the default
    /// ignores them.
    fn bytes_sent(&self, sent: u64) {
        let _ = sent;
    }
    /// How long the component took to instantiate for this run (a slot of
    /// the host's pool, the memory image, the start functions), measured by
    /// the host; the default ignores it.
    fn instantiated(&self, elapsed: Duration) {
        let _ = elapsed;
    }
}

/// An [`EventSink`] that drops everything.
pub struct Quiet;

impl EventSink for Quiet {
    fn log(&self, _: LogLevel, _: &str) {}
    fn progress(&self, _: Stage, _: u64, _: Option<u64>) {}
}

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
    /// [`HostConfig::max_memory_per_instance`] caps it too (the smaller wins).
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

/// The store's data for one run.
struct RunState {
    memory: MemoryCap,
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    egress: EgressPolicy,
    config: WasiConfigVariables,
    credentials: Arc<dyn CredentialsProvider>,
    events: Arc<dyn EventSink>,
    cancellation: CancellationToken,
    /// The last stage the component reported, for a run stopped by force.
    stage: Option<Stage>,
}

/// The `host.cancellation` pollable: ready once the run is cancelled.
struct CancelSignal(CancellationToken);

#[wasmtime_wasi::async_trait]
impl Pollable for CancelSignal {
    async fn ready(&mut self) {
        self.0.cancelled().await;
    }
}

/// A run's store and its slot of the host's pool. The slot is given back
/// after the store is dropped (fields drop in order), that is after wasmtime
/// has returned the instance to the pool; the store's data is dropped before
/// that, so the slot cannot live there.
struct RunStore {
    store: Store<RunState>,
    slot: Option<OwnedSemaphorePermit>,
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

/// A run cancelled while it waited for a slot of the pool: it never started.
#[derive(Debug)]
struct CancelledWaitingForSlot;

impl std::fmt::Display for CancelledWaitingForSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the run was cancelled while it waited for a free instance slot of the host")
    }
}

impl std::error::Error for CancelledWaitingForSlot {}

/// The memory cap of a run: a guest that grows its memory past `limit` traps
/// with [`MemoryLimitExceeded`], which the host recognises by type.
struct MemoryCap {
    limit: usize,
}

/// The trap of a guest that needed more memory than its run allows.
#[derive(Debug)]
struct MemoryLimitExceeded {
    limit: usize,
    desired: usize,
}

impl std::fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the component asked for {} MiB of memory; the limit is {} MiB",
            self.desired >> 20,
            self.limit >> 20
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(MemoryLimitExceeded {
                limit: self.limit,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references: a few thousand at most.
        Ok(desired <= 1 << 20)
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

impl wit_host::Host for RunState {
    async fn get_credentials(&mut self) -> Result<wit_host::Credentials, String> {
        self.credentials
            .credentials()
            .await
            .map_err(|e| e.message)
            .map(|c| wit_host::Credentials {
                access_key_id: c.access_key_id().to_owned(),
                secret_access_key: c.secret_access_key().to_owned(),
                session_token: c.session_token().map(str::to_owned),
                expiration: c.expiry().map(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                }),
            })
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.log(level, &message);
    }

    fn progress(&mut self, stage: wit::Stage, completed: u64, total: Option<u64>) {
        let stage = convert::from_wit_stage(stage);
        self.stage = Some(stage);
        self.events.progress(stage, completed, total);
    }

    fn cancellation(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let signal = self.table.push(CancelSignal(self.cancellation.clone()))?;
        subscribe(&mut self.table, signal)
    }
}

impl wit::Host for RunState {}

/// How one host serves its runs: the size of its engine's instance pool.
///
/// Every run, validation and `describe` holds one slot of the pool while its
/// store lives. A run that finds every slot taken waits for one (first come,
/// first served), and the wait counts toward its [`RunConfig::deadline`]
/// (`TimedOut` when it passes); a full pool is never a trap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// Instances alive at once: the pool's slots (at least 1). Each slot
    /// reserves address space for one linear memory (4 GiB and a guard
    /// region), not memory: a page becomes resident only when a run uses it.
    pub max_concurrent_instances: u32,
    /// The most linear memory one instance may grow to, in bytes (64 KiB to
    /// 4 GiB). A run's cap is the smaller of this and its
    /// [`RunConfig::memory_limit_bytes`]; either way, going past it is the
    /// typed `OutOfMemory`.
    pub max_memory_per_instance: usize,
}

impl Default for HostConfig {
    /// 16 instances of up to 4 GiB: one for the CLI's `run`, headroom for the
    /// concurrent calls of `pinpoint-import mcp`, and about 64 GiB of
    /// reserved address space (nothing resident until used).
    fn default() -> Self {
        HostConfig {
            max_concurrent_instances: 16,
            max_memory_per_instance: MAX_WASM32_MEMORY,
        }
    }
}

/// The largest linear memory of wasm32: 4 GiB.
const MAX_WASM32_MEMORY: usize = 4 << 30;

/// What one instance of the node's component takes from the pool: its core
/// instances (the guest module and wit-component's two shims), its one
/// linear memory and its tables (the guest's and a shim's). The memories and
/// tables are checked against the component when it loads
/// ([`NodeHost::from_component_with_config`]); all three by a test that
/// fills a pool.
const CORE_INSTANCES_PER_INSTANCE: u32 = 3;
const MEMORIES_PER_INSTANCE: u32 = 1;
const TABLES_PER_INSTANCE: u32 = 2;

impl HostConfig {
    /// The engine configuration of a host with this pool: async, epoch
    /// interruption, the pooling allocator sized from `self`.
    fn engine_config(&self) -> wasmtime::Result<Config> {
        let n = self.max_concurrent_instances;
        if n == 0 {
            return Err(wasmtime::Error::msg(
                "max_concurrent_instances must be at least 1",
            ));
        }
        if !(1 << 16..=MAX_WASM32_MEMORY).contains(&self.max_memory_per_instance) {
            return Err(wasmtime::Error::msg(format!(
                "max_memory_per_instance must be between 64 KiB and 4 GiB, not {} bytes",
                self.max_memory_per_instance
            )));
        }
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_INSTANCE))
            .max_core_instances_per_component(CORE_INSTANCES_PER_INSTANCE)
            .total_memories(n.saturating_mul(MEMORIES_PER_INSTANCE))
            .max_memories_per_component(MEMORIES_PER_INSTANCE)
            .total_tables(n.saturating_mul(TABLES_PER_INSTANCE))
            .max_tables_per_component(TABLES_PER_INSTANCE)
            // One fiber per store: a run makes one call at a time.
            .total_stacks(n)
            .max_memory_size(self.max_memory_per_instance);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Ok(config)
    }
}

/// The engine and the pre-instantiated component: create once, run many,
/// concurrently (clones share the engine and its pool).
#[derive(Clone)]
pub struct NodeHost {
    engine: Engine,
    pre: bindings::NodeComponentPre<RunState>,
    config: HostConfig,
    /// Free slots of the pool: one permit per instance alive.
    slots: Arc<Semaphore>,
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

    /// A host for the component `bytes` and a pool sized by `config`.
    pub fn from_component_with_config(bytes: &[u8], config: HostConfig) -> wasmtime::Result<Self> {
        let engine = engine(&config)?;
        let component = load_component(&engine, bytes)?;
        if let Some(needs) = component.resources_required()
            && (needs.num_memories > MEMORIES_PER_INSTANCE
                || needs.num_tables > TABLES_PER_INSTANCE)
        {
            return Err(wasmtime::Error::msg(format!(
                "the component needs {} linear memories and {} tables per instance; the host's pool has room for {MEMORIES_PER_INSTANCE} and {TABLES_PER_INSTANCE}",
                needs.num_memories, needs.num_tables
            )));
        }
        let mut linker = Linker::<RunState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut RunState| {
            WasiConfig::from(&s.config)
        })?;
        wit_host::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
        let pre = bindings::NodeComponentPre::new(linker.instantiate_pre(&component)?)?;
        let slots = Arc::new(Semaphore::new(config.max_concurrent_instances as usize));
        Ok(NodeHost {
            engine,
            pre,
            config,
            slots,
        })
    }

    /// The configuration of this host's pool.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    fn store(&self, config: &RunConfig) -> RunStore {
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
                limit: config
                    .memory_limit_bytes
                    .min(self.config.max_memory_per_instance),
            },
            cancellation: config.cancellation.clone(),
            stage: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        // Yield to the executor at every epoch tick, so the deadline applies
        // even to a guest that computes without waiting on I/O.
        store.epoch_deadline_async_yield_and_update(1);
        RunStore { store, slot: None }
    }

    /// Waits for a free slot of the pool, then instantiates the component in
    /// `store`, which keeps the slot until it is dropped; reports the
    /// instantiation's duration to the run's events.
    async fn instantiate(&self, store: &mut RunStore) -> wasmtime::Result<bindings::NodeComponent> {
        let cancellation = store.data().cancellation.clone();
        let slot = tokio::select! {
            slot = self.slots.clone().acquire_owned() => slot
                .map_err(|_| wasmtime::Error::msg("the host's instance pool was closed"))?,
            () = cancellation.cancelled() => return Err(CancelledWaitingForSlot.into()),
        };
        store.slot = Some(slot);
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

    /// [`NodeHost::run`], taking the input: its data is moved to the
    /// component's input, not copied, so the host holds it once while the
    /// component has its own copy (for the CLI, whose data is a large file).
    pub async fn run_owned(
        &self,
        input: ImportInput,
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
        let input = convert::into_wit_input(input);
        self.call(config, async |node, store| {
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
        input: ImportInput,
        config: &RunConfig,
    ) -> Result<ValidationReport, NodeError> {
        let input = convert::into_wit_input(input);
        self.call(config, async |node, store| {
            node.call_validate(store, &input).await
        })
        .await
        .map(convert::from_wit_report)
    }

    /// Instantiates the component in a fresh store for `config` and calls one
    /// export; its value, its typed error, the deadline or a trap, each as
    /// the node's result.
    async fn call<T>(
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

    /// The node's descriptor (JSON text).
    pub async fn describe(&self) -> wasmtime::Result<String> {
        let config = RunConfig::new(BTreeMap::new(), Arc::new(Static::new("", "", None)));
        let mut store = self.store(&config);
        let instance = self.instantiate(&mut store).await?;
        instance
            .pinpoint_segment_import_node()
            .call_describe(&mut store)
            .await
    }
}

/// The egress policy's body counter, reporting to the run's events.
fn sent_bytes(events: &Arc<dyn EventSink>) -> Arc<dyn Fn(u64) + Send + Sync> {
    let events = events.clone();
    Arc::new(move |sent| events.bytes_sent(sent))
}

fn deadline_error(deadline: Duration) -> NodeError {
    NodeError::new(
        ErrorKind::TimedOut,
        format!(
            "the run did not finish within the host's deadline of {} s",
            deadline.as_secs()
        ),
    )
}

/// The error of a cancelled run the host stopped (after [`CANCEL_GRACE`],
/// or before the component started): what may be left follows from the
/// last stage the component reported.
fn stopped_error(stage: Option<Stage>) -> NodeError {
    let left = match stage {
        None | Some(Stage::Validating | Stage::CheckingApplication | Stage::CheckingSegments) => {
            "nothing had been created in AWS"
        }
        Some(Stage::Staging) => {
            "the staged file may have been stored in S3: run again with the same input, or delete it under the staging prefix"
        }
        Some(Stage::CreatingJob | Stage::WaitingForJob) => {
            "an import job may be running, with its segment and the staged file it reads: run again with the same input to wait for it and clean up"
        }
        Some(Stage::CleaningUp | Stage::Done) => {
            "the import had ended; its staged file may be left: run again with the same input to clean up"
        }
    };
    let stage = stage.map_or("starting", Stage::name);
    NodeError::new(
        ErrorKind::Cancelled,
        format!(
            "the run was cancelled while {stage} and did not stop within {} s, so the host stopped it; {left}",
            CANCEL_GRACE.as_secs_f64()
        ),
    )
}

/// A trap as the node's error: the memory cap by its type, anything else a
/// `ServiceError` that names the trap (no backtrace: the trap's message only).
fn trap_error(trap: &wasmtime::Error) -> NodeError {
    if let Some(cap) = trap.downcast_ref::<MemoryLimitExceeded>() {
        let mut e = NodeError::new(
            ErrorKind::OutOfMemory,
            format!(
                "the run needed more memory than the host allows it: {cap}; raise the host's memory limit, or import less data at once"
            ),
        );
        e.details.limit_bytes = Some(cap.limit as u64);
        e.details.actual_bytes = Some(cap.desired as u64);
        return e;
    }
    if let Some(waiting) = trap.downcast_ref::<CancelledWaitingForSlot>() {
        return NodeError::new(
            ErrorKind::Cancelled,
            format!("{waiting}; it had not started, and nothing had been created in AWS"),
        );
    }
    if let Some(full) = trap.downcast_ref::<PoolConcurrencyLimitError>() {
        return NodeError::new(
            ErrorKind::ServiceError,
            format!("the host has no free instance slot for this run: {full}"),
        );
    }
    let reason = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        // A host error: its own message, not the backtrace context around it.
        None => trap.root_cause().to_string(),
    };
    NodeError::new(
        ErrorKind::ServiceError,
        format!("the component stopped with a trap: {reason}"),
    )
}

/// A host's engine (its own pool, [`HostConfig::engine_config`]), with a
/// 10 ms epoch ticker that stops when the engine is dropped.
fn engine(host: &HostConfig) -> wasmtime::Result<Engine> {
    let engine = Engine::new(&host.engine_config()?)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasmtime-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .map_err(|e| wasmtime::Error::msg(format!("starting the epoch ticker: {e}")))?;
    Ok(engine)
}

/// Compiles the component, or loads it precompiled from the cache, keyed by
/// the component's hash and the engine's compatibility hash.
///
/// The one place with `unsafe`: wasmtime cannot check that precompiled code
/// is its own, so loading it is trusted to the cache's naming (below).
#[allow(unsafe_code)]
fn load_component(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir() else {
        return Component::new(engine, bytes);
    };
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let mut key = Sha256::new();
    key.update(bytes);
    key.update(compat.finish().to_le_bytes());
    let path = dir.join(format!("{}.cwasm", hex::encode(&key.finalize()[..16])));
    if path.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash, under a name that is the hash of
        // the component it came from; the cache directory is the user's own.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    if std::fs::create_dir_all(&dir).is_ok() {
        // Unique per process and per call: two hosts of one process may
        // compile the same component at once.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
            prune_cache(&dir, CACHE_ENTRIES);
        }
    }
    // SAFETY: `compiled` was just produced by this engine.
    unsafe { Component::deserialize(engine, &compiled) }
}

/// How many compiled components the cache keeps (one per build of the node).
const CACHE_ENTRIES: usize = 4;

/// Removes all but the `keep` newest compiled components from `dir`.
fn prune_cache(dir: &std::path::Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, old) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(old);
    }
}

/// Where compiled components are cached: `PINPOINT_IMPORT_CACHE_DIR`, else
/// the user's cache directory; `None` when it is `off` or there is no home.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("PINPOINT_IMPORT_CACHE_DIR") {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("pinpoint-import")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinpoint_segment_import::input::Format;

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
        let mut first = host.store(&config);
        host.instantiate(&mut first).await.unwrap();
        let mut second = host.store(&config);
        host.instantiate(&mut second).await.unwrap();

        // Past the wait, wasmtime has no room for a third, and its error is
        // the host's typed one.
        let mut third = host.store(&config);
        let full = host
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

    #[test]
    fn the_cache_keeps_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for i in 0..6u64 {
            let path = dir.path().join(format!("{i}.cwasm"));
            let f = std::fs::File::create(&path).unwrap();
            f.set_modified(base + Duration::from_secs(i)).unwrap();
        }
        std::fs::write(dir.path().join("other.txt"), "kept").unwrap();
        prune_cache(dir.path(), 4);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["2.cwasm", "3.cwasm", "4.cwasm", "5.cwasm", "other.txt"]
        );
    }
}
