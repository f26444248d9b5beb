//! What the integration tests share (`mod support;` in each): the emulator
//! in the test process, the seed examples, the environment of a
//! `pinpoint-import` child process that reaches the emulator over loopback,
//! as a user's would, and reading such a child's stderr and leftovers.
// Each test crate uses a part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use host_test::emulated::{self, Emulator, SegmentInfo};
use serde_json::Value;

/// An emulator on a free loopback port, its jobs as fast as the CLI's.
pub async fn emulator() -> Emulator {
    Emulator::start(
        emulated::cli_config(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("the emulator starts")
}

/// Seed example `file` (`examples/`) as JSON.
pub fn example(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

/// Seed example `file` with the segment name `name`.
pub fn example_named(file: &str, name: &str) -> Value {
    let mut input = example(file);
    input["segment_name"] = name.into();
    input
}

/// The whole environment of a child process (to be set after `env_clear`)
/// that runs against the emulator at `url`, with `home` as its home, the
/// shared component cache, and fast polling.
pub fn environment(url: &str, home: &Path) -> Vec<(String, OsString)> {
    let mut vars: Vec<(String, OsString)> = vec![
        ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
        ("HOME".into(), home.into()),
        (
            "PINPOINT_IMPORT_CACHE_DIR".into(),
            host_test::node::cache_dir().map_or_else(|| "off".into(), |d| d.into_os_string()),
        ),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("PINPOINT_IMPORT_POLL_INTERVAL_MS".into(), "20".into()),
        ("PINPOINT_IMPORT_POLL_MAX_INTERVAL_MS".into(), "200".into()),
    ];
    vars.extend(
        emulated::environment(url)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into())),
    );
    vars
}

/// The segments of `app` in `emu` named `name`, in creation order.
pub fn segments_named(emu: &Emulator, app: &str, name: &str) -> Vec<SegmentInfo> {
    emu.segments(app)
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

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
