//! What the component imports, as this host provides it: the linker with
//! WASI, `wasi:http`, `wasi:config` and the node's own `host` interface
//! (credentials, log lines, progress, the cancellation), implemented here on
//! the run's store data.

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi_config::WasiConfig;

use super::events::LogLevel;
use super::store::RunState;
use crate::bindings::{wit, wit_host};
use crate::convert;

/// A linker of `engine` with every import of the node's component.
pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<RunState>> {
    let mut linker = Linker::<RunState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut RunState| {
        WasiConfig::from(&s.config)
    })?;
    wit_host::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// The `host.cancellation` pollable: ready once the run is cancelled.
struct CancelSignal(tokio_util::sync::CancellationToken);

#[wasmtime_wasi::async_trait]
impl Pollable for CancelSignal {
    async fn ready(&mut self) {
        self.0.cancelled().await;
    }
}

impl wit_host::Host for RunState {
    async fn get_credentials(&mut self) -> Result<wit_host::Credentials, String> {
        self.credentials
            .credentials()
            .await
            .map_err(|e| e.message)
            .map(|c| wit_host::Credentials {
                access_key_id: c.access_key_id().to_owned(),
                secret_access_key: c.secret_access_key().to_owned(),
                session_token: c.session_token().map(str::to_owned),
                expiration: c.expiry().map(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                }),
            })
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.log(level, &message);
    }

    fn progress(&mut self, stage: wit::Stage, completed: u64, total: Option<u64>) {
        let stage = convert::from_wit_stage(stage);
        self.stage = Some(stage);
        self.events.progress(stage, completed, total);
    }

    fn cancellation(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let signal = self.table.push(CancelSignal(self.cancellation.clone()))?;
        subscribe(&mut self.table, signal)
    }
}

impl wit::Host for RunState {}
