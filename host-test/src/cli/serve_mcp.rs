//! `pinpoint-import mcp`: the MCP server on stdio. stdout carries only MCP
//! messages; the emulator notice and log lines (`-v`; warnings always) go
//! to stderr.

use std::process::ExitCode;

use host_test::log::{StderrLog, notice};
use host_test::mcp::{self, McpServer};
use host_test::signals::Signals;

use super::args::SettingsArgs;
use super::exit::{UsageError, signal_notice, usage};
use super::setup::setup;

/// Serves MCP until the client closes stdin or a signal comes.
pub async fn mcp(args: SettingsArgs) -> ExitCode {
    let signals = match Signals::watch(signal_notice()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot watch signals: {e}")),
    };
    let log = StderrLog::new(args.verbose).logger();
    let setup = match setup(&args, false, log.clone()).await {
        Ok(setup) => setup,
        Err(UsageError(m)) => return usage(&m),
    };
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &setup.emulator {
        signals.remove_on_exit(emulator.data_dir().to_owned());
    }
    if let Err(e) = &setup.config {
        notice(&format!(
            "warning: every call will fail with {}: {}",
            e.kind.name(),
            e.message
        ));
    }
    // A signal cancels every call in progress.
    let config = setup.config.clone().map(|mut c| {
        c.cancellation = signals.token();
        c
    });
    let server = match McpServer::new(setup.host.clone(), config, log).await {
        Ok(server) => server,
        Err(e) => {
            setup.shutdown().await;
            return usage(&e.to_string());
        }
    };
    notice(&format!(
        "MCP server on stdio: tools {} and {}",
        mcp::RUN_TOOL,
        mcp::VALIDATE_TOOL
    ));
    // A signal cancels the calls; each answers with its `Cancelled` result
    // before the session closes.
    let served = server.serve_stdio(signals.token()).await;
    setup.shutdown().await;
    if let Some(signal) = signals.received() {
        return ExitCode::from(signal.exit_code());
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(&e.to_string()),
    }
}
