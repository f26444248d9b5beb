//! Exit paths, in real processes: a process that embeds an emulator and exits without
//! running destructors (`std::process::exit`, a panic), or is killed outright
//! (SIGKILL), leaves no customer data behind, given the calls the library offers
//! (`remove_data_dirs_now`, `remove_data_dirs_on_panic`, `remove_stale_dirs_in`).
//!
//! This test has its own `main` (`harness = false`): run with `EXIT_PATHS_CHILD` set,
//! the binary is the child process of one case; without it, it runs every case as a
//! child of itself and checks what each one leaves.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use pinpoint_emulator::{
    DEFAULT_BUCKET, Emulator, EmulatorConfig, OWNER_LOCK, remove_data_dirs_now,
    remove_data_dirs_on_panic, remove_stale_dirs_in,
};

/// The environment variable that makes the binary a child: the case to act.
const CHILD: &str = "EXIT_PATHS_CHILD";
/// The directory the child makes its data directory in.
const PARENT: &str = "EXIT_PATHS_PARENT";

/// What a child process does once its emulator holds customer data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// `std::process::exit` with no clean-up: the data stays (until a sweep).
    ExitPlain,
    /// `remove_data_dirs_now`, then `std::process::exit`.
    ExitAfterRemoveNow,
    /// `remove_data_dirs_on_panic`, then a panic (on another thread, so no destructor
    /// of the emulator runs), then `std::process::exit`.
    PanicWithHook,
    /// Waits to be killed (SIGKILL).
    Hold,
}

const CASES: [(Case, &str); 4] = [
    (Case::ExitPlain, "exit-plain"),
    (Case::ExitAfterRemoveNow, "exit-after-remove-now"),
    (Case::PanicWithHook, "panic-with-hook"),
    (Case::Hold, "hold"),
];

fn name(case: Case) -> &'static str {
    CASES
        .iter()
        .find(|(c, _)| *c == case)
        .map_or("?", |(_, n)| n)
}

/// Starts an emulator in `parent` holding a staged object (customer data).
fn emulator_with_data(runtime: &tokio::runtime::Runtime, parent: &Path) -> Emulator {
    let config = EmulatorConfig {
        data_parent: Some(parent.to_owned()),
        ..EmulatorConfig::default()
    };
    let emu = runtime
        .block_on(Emulator::start(
            config,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .expect("the emulator starts");
    emu.put_object(
        DEFAULT_BUCKET,
        "pinpoint-imports/abc/endpoints.csv",
        b"ChannelType,Address\nEMAIL,customer@example.com\n",
    )
    .expect("the object is stored");
    emu
}

fn child(case: Case, parent: &Path) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if case == Case::PanicWithHook {
        remove_data_dirs_on_panic();
    }
    let emu = emulator_with_data(&runtime, parent);
    println!("{}", emu.data_dir().display());
    match case {
        Case::ExitPlain => std::process::exit(0),
        Case::ExitAfterRemoveNow => {
            remove_data_dirs_now();
            std::process::exit(0)
        }
        Case::PanicWithHook => {
            let panicked =
                std::thread::spawn(|| panic!("an expected panic (exit_paths: panic-with-hook)"))
                    .join();
            assert!(panicked.is_err());
            std::process::exit(0)
        }
        Case::Hold => loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        },
    }
}

/// Spawns this binary as the child of `case`; answers it and its data directory.
fn spawn(case: Case, parent: &Path) -> (Child, PathBuf) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .env(CHILD, name(case))
        .env(PARENT, parent)
        // The panic case's panic is expected: its message is enough.
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("the child's stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the child names its data directory");
    let dir = PathBuf::from(line.trim());
    assert!(
        dir.join(OWNER_LOCK).is_file(),
        "{case:?}: no data directory at {line:?}"
    );
    (child, dir)
}

fn parent() -> ExitCode {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let parent = scratch.path().canonicalize().expect("a canonical path");
    // This process's own live emulator, in the same place: never swept.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mine = emulator_with_data(&runtime, &parent);

    let (mut c, plain) = spawn(Case::ExitPlain, &parent);
    assert!(c.wait().expect("the child ends").success());
    assert!(
        plain.join(DEFAULT_BUCKET).is_dir(),
        "a plain exit runs no clean-up"
    );

    for case in [Case::ExitAfterRemoveNow, Case::PanicWithHook] {
        let (mut c, dir) = spawn(case, &parent);
        assert!(c.wait().expect("the child ends").success(), "{case:?}");
        assert!(!dir.exists(), "{case:?} left {}", dir.display());
    }

    let (mut held, killed) = spawn(Case::Hold, &parent);
    // While its owner lives, a sweep leaves it alone; the plain exit's goes.
    let removed = remove_stale_dirs_in(&parent).expect("the parent is readable");
    assert_eq!(removed, std::slice::from_ref(&plain));
    assert!(killed.join(DEFAULT_BUCKET).is_dir());
    held.kill().expect("SIGKILL");
    held.wait().expect("the child ends");
    assert!(
        killed.join(DEFAULT_BUCKET).is_dir(),
        "nothing ran on SIGKILL"
    );
    let removed = remove_stale_dirs_in(&parent).expect("the parent is readable");
    assert_eq!(removed, std::slice::from_ref(&killed));
    assert!(!killed.exists());

    assert!(mine.data_dir().join(DEFAULT_BUCKET).is_dir());
    let entries: Vec<PathBuf> = std::fs::read_dir(&parent)
        .expect("the parent is readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries, [mine.data_dir().to_owned()]);
    drop(mine);
    println!("exit_paths: every exit path leaves no customer data");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match std::env::var(CHILD) {
        Err(_) => parent(),
        Ok(wanted) => {
            let case = CASES
                .iter()
                .find(|(_, n)| *n == wanted)
                .map(|(c, _)| *c)
                .expect("a known case");
            let parent = PathBuf::from(std::env::var_os(PARENT).expect("the parent directory"));
            child(case, &parent)
        }
    }
}
