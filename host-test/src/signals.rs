//! Cancellation by signal, for command-line hosts: the first SIGINT or
//! SIGTERM cancels the run (a [`CancellationToken`], as in
//! [`RunConfig::cancellation`](crate::node::RunConfig)), which then stops
//! within 2 s with `Cancelled`; a second one removes the registered
//! temporary directories and exits at once. The exit code is the shell's for
//! the signal: 130 for SIGINT, 143 for SIGTERM.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use tokio_util::sync::CancellationToken;

/// A signal the process was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit code of a process that stopped for this signal (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Told of each signal: the signal, and whether it is the second (the
/// process exits right after).
pub type Notice = Arc<dyn Fn(Signal, bool) + Send + Sync>;

/// Watches SIGINT and SIGTERM for the life of the process.
#[derive(Clone)]
pub struct Signals {
    token: CancellationToken,
    first: Arc<OnceLock<Signal>>,
    leftovers: Arc<Mutex<Vec<PathBuf>>>,
}

impl Signals {
    /// Starts watching (on the current tokio runtime). The first signal
    /// cancels [`Signals::token`]; a second removes what
    /// [`Signals::remove_on_exit`] registered and exits the process with
    /// its code. `notice` hears of both first.
    pub fn watch(notice: Notice) -> std::io::Result<Signals> {
        let signals = Signals {
            token: CancellationToken::new(),
            first: Arc::new(OnceLock::new()),
            leftovers: Arc::new(Mutex::new(Vec::new())),
        };
        let mut next = listener()?;
        let watcher = signals.clone();
        tokio::spawn(async move {
            let first = next.recv().await;
            let _ = watcher.first.set(first);
            notice(first, false);
            watcher.token.cancel();
            let second = next.recv().await;
            notice(second, true);
            watcher.remove_leftovers();
            std::process::exit(i32::from(second.exit_code()));
        });
        Ok(signals)
    }

    /// Cancelled by the first signal.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The first signal, once one came.
    pub fn received(&self) -> Option<Signal> {
        self.first.get().copied()
    }

    /// Waits for the first signal.
    pub async fn first(&self) -> Signal {
        self.token.cancelled().await;
        self.received().unwrap_or(Signal::Interrupt)
    }

    /// Registers a directory to remove if a second signal exits at once
    /// (an embedded emulator's data).
    pub fn remove_on_exit(&self, dir: PathBuf) {
        if let Ok(mut dirs) = self.leftovers.lock() {
            dirs.push(dir);
        }
    }

    fn remove_leftovers(&self) {
        if let Ok(dirs) = self.leftovers.lock() {
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The stream of signals.
#[cfg(unix)]
fn listener() -> std::io::Result<Listener> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok(Listener {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
    })
}

#[cfg(unix)]
struct Listener {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Listener {
    async fn recv(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}

/// Elsewhere only Ctrl-C.
#[cfg(not(unix))]
fn listener() -> std::io::Result<Listener> {
    Ok(Listener)
}

#[cfg(not(unix))]
struct Listener;

#[cfg(not(unix))]
impl Listener {
    async fn recv(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}
