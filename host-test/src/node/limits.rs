//! A run's memory cap: wasmtime's [`ResourceLimiter`] of its store, which
//! turns a guest's growth past the cap into a trap the host recognises by
//! its type.

use wasmtime::ResourceLimiter;

/// The memory cap of a run: a guest that grows its memory past `limit` traps
/// with [`MemoryLimitExceeded`].
pub(super) struct MemoryCap {
    /// The most linear memory the run may have, in bytes.
    pub(super) limit: usize,
}

/// The trap of a guest that needed more memory than its run allows.
#[derive(Debug)]
pub(super) struct MemoryLimitExceeded {
    /// The run's cap, in bytes.
    pub(super) limit: usize,
    /// The size the guest asked its memory to grow to, in bytes.
    pub(super) desired: usize,
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
