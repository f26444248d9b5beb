//! What the tests that drive the CLI as a child process share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

/// Reads `child`'s stderr on a thread until a line contains `marker`; the
/// receiver then gets all of stderr once it closes. Kills the child and
/// panics if no such line comes within two minutes.
pub fn wait_for_stderr(child: &mut Child, marker: &str) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (seen_tx, seen_rx) = mpsc::channel();
    let (all_tx, all_rx) = mpsc::channel();
    let wanted = marker.to_owned();
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut seen = Some(seen_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains(&wanted)
                && let Some(tx) = seen.take()
            {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        let _ = all_tx.send(all);
    });
    if seen_rx.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = child.kill();
        panic!(
            "no stderr line with {marker:?}: {}",
            all_rx.recv().unwrap_or_default()
        );
    }
    all_rx
}

/// The emulator data directories (`pinpoint-emulator-*`) left in `tmp`.
pub fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pinpoint-emulator-"))
        .collect()
}
