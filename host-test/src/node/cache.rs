//! The precompiled component on disk: compiling the component takes
//! seconds, so a host loads the code an earlier host compiled for the same
//! component and the same engine, kept under [`cache_dir`].

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How many compiled components the cache keeps (one per build of the node).
const CACHE_ENTRIES: usize = 4;

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

/// Compiles the component, or loads it precompiled from the cache, keyed by
/// the component's hash and the engine's compatibility hash.
///
/// The one place with `unsafe`: wasmtime cannot check that precompiled code
/// is its own, so loading it is trusted to the cache's naming (below).
#[allow(unsafe_code)]
pub(super) fn load_component(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
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

/// Removes all but the `keep` newest compiled components from `dir`.
fn prune_cache(dir: &Path, keep: usize) {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
