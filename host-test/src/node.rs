//! Running the component: one [`Engine`], the component compiled once (and
//! cached on disk by its hash), pre-instantiated; per run a fresh store with
//! WASI, `wasi:http` behind the egress policy, `wasi:config` with the
//! settings, our `host` interface, a memory cap and a deadline.
//!
//! This is the reference for runtimes that embed the node: [`NodeHost::run`]
//! takes the seed's input and a [`RunConfig`] and returns the output or a
//! typed [`NodeError`].

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::import::{ImportOutput, Stage, ValidationReport};
use pinpoint_segment_import::input::ImportInput;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
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
    /// Linear memory cap of the component, in bytes.
    pub memory_limit_bytes: usize,
    /// Wall-clock limit of the whole run.
    pub deadline: Duration,
}

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
}

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
        self.events
            .progress(convert::from_wit_stage(stage), completed, total);
    }
}

impl wit::Host for RunState {}

/// The engine and the pre-instantiated component: create once, run many.
#[derive(Clone)]
pub struct NodeHost {
    engine: Engine,
    pre: bindings::NodeComponentPre<RunState>,
}

impl NodeHost {
    /// A host for the component this crate was built with.
    pub fn new() -> wasmtime::Result<Self> {
        Self::from_component(COMPONENT)
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

    /// A host for the component `bytes`.
    pub fn from_component(bytes: &[u8]) -> wasmtime::Result<Self> {
        let engine = engine()?;
        let component = load_component(&engine, bytes)?;
        let mut linker = Linker::<RunState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut RunState| {
            WasiConfig::from(&s.config)
        })?;
        wit_host::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
        let pre = bindings::NodeComponentPre::new(linker.instantiate_pre(&component)?)?;
        Ok(NodeHost { engine, pre })
    }

    fn store(&self, config: &RunConfig) -> Store<RunState> {
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
                limit: config.memory_limit_bytes,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        // Yield to the executor at every epoch tick, so the deadline applies
        // even to a guest that computes without waiting on I/O.
        store.epoch_deadline_async_yield_and_update(1);
        store
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
        if pinpoint_segment_import::settings::Settings::from_lookup(lookup).is_ok()
            && let Err(e) = config.credentials.credentials().await
            && e.broken_configuration
        {
            return Err(NodeError::new(ErrorKind::InvalidSettings, e.message));
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
            let instance = self.pre.instantiate_async(&mut store).await?;
            export(instance.pinpoint_segment_import_node(), &mut store).await
        };
        match tokio::time::timeout(config.deadline, call).await {
            Err(_) => Err(deadline_error(config.deadline)),
            Ok(Err(trap)) => Err(trap_error(&trap)),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(convert::from_wit_error(e)),
        }
    }

    /// The node's descriptor (JSON text).
    pub async fn describe(&self) -> wasmtime::Result<String> {
        let config = RunConfig::new(BTreeMap::new(), Arc::new(Static::new("", "", None)));
        let mut store = self.store(&config);
        let instance = self.pre.instantiate_async(&mut store).await?;
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

/// A trap as the node's error: the memory cap by its type, anything else a
/// `ServiceError` that names the trap (no backtrace: the trap's message only).
fn trap_error(trap: &wasmtime::Error) -> NodeError {
    if let Some(cap) = trap.downcast_ref::<MemoryLimitExceeded>() {
        let mut e = NodeError::new(
            ErrorKind::ImportSizeExceeded,
            format!(
                "the run needed more memory than the host allows: {cap}; import less data at once"
            ),
        );
        e.details.limit_bytes = Some(cap.limit as u64);
        return e;
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

/// The shared engine: async, epoch interruption with a 10 ms ticker.
fn engine() -> wasmtime::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e.clone());
    }
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    let engine = Engine::new(&config)?;
    let engine = ENGINE.get_or_init(|| engine).clone();
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
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
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
