//! `pinpoint-import emulator`: the embedded S3 + Pinpoint emulator on
//! loopback until a signal, with the variables that point a client at it.

use std::net::SocketAddr;
use std::process::ExitCode;

use host_test::emulated::{self, Emulator};
use host_test::log::notice;
use host_test::signals::Signals;

use super::exit::{signal_notice, usage};
use super::setup::emulator_config;

/// What a command that may embed an emulator does first: a panic removes
/// this process's emulator data (`emulated::remove_data_dirs_on_panic`), and
/// the data directories of emulators whose process is gone (SIGKILL, a
/// crash, a power loss) are removed now, saying so. Directories of live
/// processes stay.
pub fn clean_up_at_start() {
    emulated::remove_data_dirs_on_panic();
    if let Ok(removed) = emulated::remove_stale_dirs()
        && !removed.is_empty()
    {
        notice(&format!(
            "removed {} data directories of emulators whose process is gone, in {}",
            removed.len(),
            std::env::temp_dir().display()
        ));
    }
}

/// Serves the emulator on `port` (0 picks a free one), its import jobs
/// moving one status step per `job_step_ms`.
pub async fn serve_emulator(port: u16, job_step_ms: u64) -> ExitCode {
    let signals = match Signals::watch(signal_notice()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot watch signals: {e}")),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let emulator = match Emulator::start(emulator_config(job_step_ms), addr).await {
        Ok(e) => e,
        Err(e) => return usage(&format!("cannot start the emulator on {addr}: {e:#}")),
    };
    signals.remove_on_exit(emulator.data_dir().to_owned());
    let url = emulator.endpoint_url();
    notice(&format!("emulator of S3 and Pinpoint listening at {url}"));
    // The emulator's keys are fixed test values, public in its source and
    // the README: printing them is how a user points a client at it.
    eprintln!(
        "  export AWS_ENDPOINT_URL={url} AWS_REGION={}",
        emulated::DEFAULT_REGION
    );
    eprintln!(
        "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        emulated::DEFAULT_ACCESS_KEY_ID,
        emulated::DEFAULT_SECRET_ACCESS_KEY
    );
    eprintln!(
        "  export PINPOINT_IMPORT_BUCKET={} PINPOINT_IMPORT_ROLE_ARN={}",
        emulated::DEFAULT_BUCKET,
        emulated::DEFAULT_ROLE_ARN
    );
    eprintln!("  application id: {}", emulated::SEED_APPLICATION_ID);
    let signal = signals.first().await;
    // Stops the server and removes its data directory.
    emulator.shutdown().await;
    ExitCode::from(signal.exit_code())
}
