//! A host's engine and its instance pool: [`HostConfig`] sizes wasmtime's
//! pooling allocator, [`Slots`] lets runs wait for a free instance instead
//! of failing on a full pool, and an epoch ticker drives the deadlines.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How one host serves its runs: the size of its engine's instance pool.
///
/// Every run, validation and `describe` holds one slot of the pool while its
/// store lives. A run that finds every slot taken waits for one (first come,
/// first served), and the wait counts toward its `RunConfig::deadline`
/// (`TimedOut` when it passes); a full pool is never a trap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// Instances alive at once: the pool's slots (at least 1). Each slot
    /// reserves address space for one linear memory (4 GiB and a guard
    /// region), not memory: a page becomes resident only when a run uses it.
    pub max_concurrent_instances: u32,
    /// The most linear memory one instance may grow to, in bytes (64 KiB to
    /// 4 GiB). A run's cap is the smaller of this and its
    /// `RunConfig::memory_limit_bytes`; either way, going past it is the
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
/// ([`check_component_fits`]); all three by a test that fills a pool.
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

/// A host's engine (its own pool, sized by `host`), with a 10 ms epoch
/// ticker that stops when the engine is dropped.
pub(super) fn engine(host: &HostConfig) -> wasmtime::Result<Engine> {
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

/// Refuses a component one slot of the pool has no room for: more linear
/// memories or tables per instance than the pool reserves.
pub(super) fn check_component_fits(component: &Component) -> wasmtime::Result<()> {
    if let Some(needs) = component.resources_required()
        && (needs.num_memories > MEMORIES_PER_INSTANCE || needs.num_tables > TABLES_PER_INSTANCE)
    {
        return Err(wasmtime::Error::msg(format!(
            "the component needs {} linear memories and {} tables per instance; the host's pool has room for {MEMORIES_PER_INSTANCE} and {TABLES_PER_INSTANCE}",
            needs.num_memories, needs.num_tables
        )));
    }
    Ok(())
}

/// The free slots of a host's pool: one permit per instance alive, handed
/// out first come, first served. Clones share the slots.
#[derive(Clone)]
pub(super) struct Slots(Arc<Semaphore>);

impl Slots {
    /// The slots of a pool sized by `host`.
    pub(super) fn new(host: &HostConfig) -> Self {
        Slots(Arc::new(Semaphore::new(
            host.max_concurrent_instances as usize,
        )))
    }

    /// Waits for a free slot, which is given back when the permit is
    /// dropped; a cancellation while waiting is [`CancelledWaitingForSlot`].
    pub(super) async fn acquire(
        &self,
        cancellation: &CancellationToken,
    ) -> wasmtime::Result<OwnedSemaphorePermit> {
        tokio::select! {
            slot = self.0.clone().acquire_owned() => slot
                .map_err(|_| wasmtime::Error::msg("the host's instance pool was closed")),
            () = cancellation.cancelled() => Err(CancelledWaitingForSlot.into()),
        }
    }
}

/// A run cancelled while it waited for a slot of the pool: it never started.
#[derive(Debug)]
pub(super) struct CancelledWaitingForSlot;

impl std::fmt::Display for CancelledWaitingForSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the run was cancelled while it waited for a free instance slot of the host")
    }
}

impl std::error::Error for CancelledWaitingForSlot {}
