//! The emulator's data directory (the emulated buckets, customer data while a run
//! stages it) and its lifetime.
//!
//! Each emulator makes a directory named [`DATA_DIR_PREFIX`]`*` (in the system's
//! temporary directory unless [`EmulatorConfig::data_parent`](crate::EmulatorConfig)
//! says otherwise) and holds an exclusive `flock` on the file [`OWNER_LOCK`] inside it
//! for as long as it lives. The directory goes:
//! - when the [`Emulator`](crate::Emulator) is dropped or shut down (at once, not when
//!   its last task ends), and again when its last task ends;
//! - on [`remove_data_dirs_now`], for exits that run no destructors
//!   (`std::process::exit`, a second signal); a panic hook calls it when the host asks
//!   ([`remove_data_dirs_on_panic`]; with `panic = "abort"` a panic runs no destructors
//!   either);
//! - after a crash no process can see (SIGKILL, power loss), at the next start of any
//!   process that calls [`remove_stale_dirs`]: the kernel releases a dead process's
//!   locks, so a directory whose lock can be taken has no owner left.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use super::util::lock;

/// The name every emulator data directory starts with.
pub const DATA_DIR_PREFIX: &str = "pinpoint-emulator-";

/// The lock file in a data directory: locked (`flock`, exclusive) by its owner while
/// the owner lives; it holds the owner's process id, for people.
pub const OWNER_LOCK: &str = ".owner.lock";

/// The data directories of this process's emulators that still exist.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A data directory owned by this process: removed when dropped.
#[derive(Debug)]
pub(crate) struct DataDir {
    path: PathBuf,
    /// Holds the owner lock; released (by the kernel at the latest) when the process ends.
    _owner: File,
}

impl DataDir {
    /// Makes a fresh data directory in `parent` and takes its owner lock.
    pub(crate) fn create(parent: &Path) -> io::Result<DataDir> {
        let dir = tempfile::Builder::new()
            .prefix(DATA_DIR_PREFIX)
            .tempdir_in(parent)?;
        // Locked under another name first, then renamed into place: whoever finds the
        // lock file finds it locked while this process lives.
        let staging = dir.path().join(".owner.lock.new");
        let mut owner = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)?;
        owner.try_lock().map_err(io::Error::from)?;
        writeln!(owner, "{}", std::process::id())?;
        fs::rename(&staging, dir.path().join(OWNER_LOCK))?;
        let path = dir.path().canonicalize()?;
        // From here on removal is this type's (and the lock's) business.
        let _ = dir.keep();
        lock(&LIVE).push(path.clone());
        Ok(DataDir {
            path,
            _owner: owner,
        })
    }

    /// The directory (canonical).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and everything in it now (a no-op once it is gone).
    pub(crate) fn remove(&self) {
        remove_dir(&self.path);
        lock(&LIVE).retain(|p| p != &self.path);
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes `dir` (and its contents) if it exists; the emulator has no one to report
/// a failure to here, and [`remove_stale_dirs`] tries again later.
fn remove_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
}

/// Removes, now, the data directory of every emulator of this process that is still
/// alive: for exit paths that run no destructors (`std::process::exit`, a panic with
/// `panic = "abort"`). Those emulators keep answering, with their S3 data gone (a
/// write to it fails). Async-signal safety is not needed: call it from a signal
/// *task* (e.g. `tokio::signal`), not a raw signal handler.
pub fn remove_data_dirs_now() {
    let dirs = std::mem::take(&mut *lock(&LIVE));
    for dir in &dirs {
        remove_dir(dir);
    }
}

/// Installs (once per process; later calls do nothing) a panic hook that runs the
/// hook installed before it, then [`remove_data_dirs_now`]: a panic, even one that
/// aborts, leaves no emulator data behind.
pub fn remove_data_dirs_on_panic() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            remove_data_dirs_now();
        }));
    });
}

/// [`remove_stale_dirs_in`] the system's temporary directory (`std::env::temp_dir()`),
/// where emulators make their data directories by default. Call it when a process
/// that embeds an emulator starts.
pub fn remove_stale_dirs() -> io::Result<Vec<PathBuf>> {
    remove_stale_dirs_in(&std::env::temp_dir())
}

/// Removes every emulator data directory in `parent` whose owner process is gone,
/// and answers the directories removed. A directory is removed only when its
/// [`OWNER_LOCK`] can be locked (the owner is dead: the kernel released its lock),
/// while this function holds that lock. Left alone: directories of live emulators (of
/// this process too), entries that are not directories (or are symbolic links), and
/// directories without a lock file (made by an older emulator, or one starting this
/// very moment: nothing says their owner is gone). A directory that cannot be opened
/// or removed is skipped (the next call tries again). `Err` only when `parent` cannot
/// be read.
pub fn remove_stale_dirs_in(parent: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(parent)?.flatten() {
        let named = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(DATA_DIR_PREFIX));
        // `file_type` does not follow symbolic links.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !(named && is_dir) {
            continue;
        }
        let dir = entry.path();
        let Ok(owner) = File::open(dir.join(OWNER_LOCK)) else {
            continue;
        };
        if owner.try_lock().is_ok() && fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory with customer data whose owner lets go of its lock while the
    /// directory stays, as a dead owner leaves it (`tests/exit_paths.rs` kills real
    /// processes).
    fn abandoned(parent: &Path) -> (DataDir, PathBuf) {
        let dir = DataDir::create(parent).unwrap();
        let path = dir.path().to_owned();
        fs::write(path.join("customer-data.csv"), "EMAIL,a@example.com\n").unwrap();
        dir._owner.unlock().unwrap();
        (dir, path)
    }

    #[test]
    fn a_data_directory_is_locked_while_owned_and_removed_when_dropped() {
        let parent = tempfile::tempdir().unwrap();
        let dir = DataDir::create(parent.path()).unwrap();
        let path = dir.path().to_owned();
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(DATA_DIR_PREFIX)
        );
        assert!(path.join(OWNER_LOCK).is_file());
        assert!(!path.join(".owner.lock.new").exists());
        let pid = fs::read_to_string(path.join(OWNER_LOCK)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        // Another open of the lock file (as another process would) cannot lock it.
        let other = File::open(path.join(OWNER_LOCK)).unwrap();
        assert!(other.try_lock().is_err());
        assert!(lock(&LIVE).contains(&path));
        drop(dir);
        assert!(!path.exists());
        assert!(!lock(&LIVE).contains(&path));
    }

    #[test]
    fn only_directories_whose_owner_is_gone_are_removed() {
        let parent = tempfile::tempdir().unwrap();
        let p = &parent.path().canonicalize().unwrap();
        let live = DataDir::create(p).unwrap();
        let (_gone, gone_path) = abandoned(p);
        // Not ours to judge: no lock file, another name, a symbolic link, a file.
        fs::create_dir(p.join("pinpoint-emulator-nolock")).unwrap();
        let other = p.join("other-tool-dir");
        fs::create_dir(&other).unwrap();
        File::create(other.join(OWNER_LOCK)).unwrap();
        let target = tempfile::tempdir().unwrap();
        File::create(target.path().join(OWNER_LOCK)).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(target.path(), p.join("pinpoint-emulator-link")).unwrap();
        fs::write(p.join("pinpoint-emulator-file"), "x").unwrap();

        let removed = remove_stale_dirs_in(p).unwrap();
        assert_eq!(removed, std::slice::from_ref(&gone_path));
        assert!(!gone_path.exists());
        for kept in [
            live.path(),
            &p.join("pinpoint-emulator-nolock"),
            &other,
            #[cfg(unix)]
            &p.join("pinpoint-emulator-link"),
            &p.join("pinpoint-emulator-file"),
        ] {
            assert!(kept.exists(), "{} was removed", kept.display());
        }
        assert!(target.path().join(OWNER_LOCK).exists());
        assert!(live.path().join(OWNER_LOCK).exists());

        assert!(remove_stale_dirs_in(p).unwrap().is_empty());
        assert!(remove_stale_dirs_in(&p.join("missing")).is_err());
    }
}
