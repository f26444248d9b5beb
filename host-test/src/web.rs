//! `pinpoint-import web`: the page that checks an import file in the browser
//! with the node's portable component, served on loopback or written out as
//! static files.
//!
//! Everything is embedded in the binary: the page (`host-test/web/`), the
//! JavaScript glue jco made of the portable component and the WASI shim it
//! runs on (`host-test/web/generated/`, committed; the `web` test checks
//! that it is what the pinned jco makes of this checkout's component), and
//! the component's core modules, taken from the embedded portable component
//! when the site is built. So a build needs only Rust, and the page always
//! runs the very component the binary carries. `docs/web.md` says more.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::node::PORTABLE_COMPONENT;
use crate::signals::{Notice, Signals};

/// The page's Content-Security-Policy, sent with every file (the page's
/// `<meta>` says the same for hosts that send no header; a worker obeys
/// only the header): scripts and the worker from the page's origin only,
/// WebAssembly compiled from them, and no connection anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The name jco gives the component's glue and core modules.
const NAME: &str = "node_component";

/// The page's files as they are in the source tree (path, content).
const SOURCES: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../web/index.html")),
    ("style.css", include_bytes!("../web/style.css")),
    ("app.js", include_bytes!("../web/app.js")),
    ("worker.js", include_bytes!("../web/worker.js")),
    (
        "generated/node_component.js",
        include_bytes!("../web/generated/node_component.js"),
    ),
    (
        "generated/shim/LICENSE",
        include_bytes!("../web/generated/shim/LICENSE"),
    ),
    (
        "generated/shim/cli.js",
        include_bytes!("../web/generated/shim/cli.js"),
    ),
    (
        "generated/shim/clocks.js",
        include_bytes!("../web/generated/shim/clocks.js"),
    ),
    (
        "generated/shim/common.js",
        include_bytes!("../web/generated/shim/common.js"),
    ),
    (
        "generated/shim/config.js",
        include_bytes!("../web/generated/shim/config.js"),
    ),
    (
        "generated/shim/environment.js",
        include_bytes!("../web/generated/shim/environment.js"),
    ),
    (
        "generated/shim/http.js",
        include_bytes!("../web/generated/shim/http.js"),
    ),
    (
        "generated/shim/in-memory-http.js",
        include_bytes!("../web/generated/shim/in-memory-http.js"),
    ),
    (
        "generated/shim/io.js",
        include_bytes!("../web/generated/shim/io.js"),
    ),
    (
        "generated/shim/random.js",
        include_bytes!("../web/generated/shim/random.js"),
    ),
];

/// One file of the site.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its path in the site, without a leading `/` (`generated/shim/io.js`).
    pub path: String,
    /// Its bytes.
    pub body: Cow<'static, [u8]>,
}

impl Asset {
    /// The `Content-Type` it is served with, from its extension.
    pub fn content_type(&self) -> &'static str {
        match self.path.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("wasm") => "application/wasm",
            _ => "text/plain; charset=utf-8",
        }
    }
}

/// The portable component is not a component the site can be built from.
#[derive(Debug)]
pub struct SiteError(String);

impl std::fmt::Display for SiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SiteError {}

/// The core modules of a component, in the order of its core module index
/// space (only top-level modules: the node's component nests none), named
/// as jco names them: `node_component.core.wasm`, `node_component.core2.wasm`, ...
pub fn core_modules(component: &[u8]) -> Result<Vec<(String, &[u8])>, SiteError> {
    let mut modules = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let payload =
            payload.map_err(|e| SiteError(format!("the portable component is not valid: {e}")))?;
        if let wasmparser::Payload::ModuleSection {
            unchecked_range, ..
        } = payload
        {
            let name = match modules.len() {
                0 => format!("{NAME}.core.wasm"),
                n => format!("{NAME}.core{}.wasm", n + 1),
            };
            let bytes = component.get(unchecked_range).ok_or_else(|| {
                SiteError("a core module lies outside the portable component".into())
            })?;
            modules.push((name, bytes));
        }
    }
    if modules.is_empty() {
        return Err(SiteError(
            "the portable component has no core module".into(),
        ));
    }
    Ok(modules)
}

/// The whole site: the page's files and, as `core/NAME.js` modules holding
/// them in base64 (so that loading them needs no `fetch`, which
/// `connect-src 'none'` forbids), the embedded portable component's core
/// modules.
#[derive(Debug, Clone)]
pub struct Site {
    assets: Vec<Asset>,
}

impl Site {
    /// The site of the component embedded in this binary.
    pub fn embedded() -> Result<Site, SiteError> {
        Site::of(PORTABLE_COMPONENT)
    }

    /// The site of `component` (a `node-portable` component whose glue is
    /// the committed one).
    pub fn of(component: &[u8]) -> Result<Site, SiteError> {
        let mut assets: Vec<Asset> = SOURCES
            .iter()
            .map(|(path, body)| Asset {
                path: (*path).to_owned(),
                body: Cow::Borrowed(*body),
            })
            .collect();
        for (name, bytes) in core_modules(component)? {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            assets.push(Asset {
                path: format!("core/{name}.js"),
                body: Cow::Owned(format!("export default \"{encoded}\";\n").into_bytes()),
            });
        }
        Ok(Site { assets })
    }

    /// Every file.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The file served at `path` (`/` is `index.html`).
    pub fn get(&self, path: &str) -> Option<&Asset> {
        let path = path.trim_start_matches('/');
        let path = if path.is_empty() { "index.html" } else { path };
        self.assets.iter().find(|a| a.path == path)
    }

    /// Writes every file under `dir` (created if missing).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for asset in &self.assets {
            let file = dir.join(&asset.path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(file, &asset.body)?;
        }
        Ok(())
    }

    /// The answer to `request`: the file with the page's security headers,
    /// 404 for any other path, 405 for any method but GET and HEAD.
    pub fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let builder = Response::builder()
            .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::REFERRER_POLICY, "no-referrer")
            .header(header::CACHE_CONTROL, "no-cache");
        let (status, content_type, body) =
            if !matches!(*request.method(), Method::GET | Method::HEAD) {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"only GET and HEAD\n"),
                )
            } else {
                match self.get(request.uri().path()) {
                    Some(asset) => (
                        StatusCode::OK,
                        asset.content_type(),
                        match &asset.body {
                            Cow::Borrowed(b) => Bytes::from_static(b),
                            Cow::Owned(b) => Bytes::from(b.clone()),
                        },
                    ),
                    None => (
                        StatusCode::NOT_FOUND,
                        "text/plain; charset=utf-8",
                        Bytes::from_static(b"not found\n"),
                    ),
                }
            };
        let body = if *request.method() == Method::HEAD {
            Bytes::new()
        } else {
            body
        };
        builder
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }

    /// Serves the site on `listener` until `stop` completes.
    pub async fn serve(self, listener: TcpListener, stop: impl Future<Output = ()>) {
        let site = Arc::new(self);
        let accept = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let site = site.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let response = site.respond(&request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    // A client that goes away mid-answer is not our error.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = stop => {}
        }
    }
}

/// Binds loopback port `port` (0 picks a free one).
pub async fn bind(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// `pinpoint-import web`'s flags.
#[derive(Debug, clap::Args)]
pub struct WebArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080, conflicts_with = "output")]
    pub port: u16,
    /// Write the page's static files to this directory instead of serving them.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// `pinpoint-import web`: writes the files (`--output`, exit 0), or serves
/// them on loopback, printing the URL on stderr, until SIGINT or SIGTERM
/// (exit 130 or 143). A failure to bind or write is exit 2.
pub async fn command(args: WebArgs, notice: Notice) -> ExitCode {
    let fail = |message: String| {
        crate::log::notice(&message);
        ExitCode::from(2)
    };
    let site = match Site::embedded() {
        Ok(site) => site,
        Err(e) => return fail(e.to_string()),
    };
    if let Some(dir) = args.output {
        return match site.write_to(&dir) {
            Ok(()) => {
                crate::log::notice(&format!(
                    "wrote the page to {} (serve it over HTTP with the header Content-Security-Policy: {CONTENT_SECURITY_POLICY})",
                    dir.display()
                ));
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("cannot write the page to {}: {e}", dir.display())),
        };
    }
    let signals = match Signals::watch(notice) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot watch signals: {e}")),
    };
    let (listener, addr) = match bind(args.port).await {
        Ok(bound) => bound,
        Err(e) => return fail(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)),
    };
    crate::log::notice(&format!(
        "the import file check is at http://{addr}/ (files are checked in the browser; nothing is uploaded)"
    ));
    let stopped = signals.clone();
    site.serve(listener, async move {
        stopped.first().await;
    })
    .await;
    ExitCode::from(signals.received().map_or(0, |s| s.exit_code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_component_gives_every_core_module_the_glue_names() {
        let glue = std::str::from_utf8(SOURCES[4].1).unwrap();
        let modules = core_modules(PORTABLE_COMPONENT).unwrap();
        for (name, bytes) in &modules {
            assert!(glue.contains(&format!("getCoreModule('{name}')")), "{name}");
            assert!(wasmparser::Parser::is_core_wasm(bytes), "{name}");
        }
        assert_eq!(
            glue.matches("getCoreModule('").count(),
            modules.len(),
            "the glue loads as many core modules as the component has"
        );
    }

    #[test]
    fn every_file_is_served_with_the_policy_and_nothing_else_is() {
        let site = Site::embedded().unwrap();
        for asset in site.assets() {
            let request = Request::get(format!("/{}", asset.path)).body(()).unwrap();
            let response = site.respond(&request);
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(
                response.headers()[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
        }
        let index = site.respond(&Request::get("/").body(()).unwrap());
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let missing = site.respond(&Request::get("/../Cargo.toml").body(()).unwrap());
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let post = site.respond(&Request::post("/").body(()).unwrap());
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_page_declares_the_policy_it_is_served_with() {
        let page = std::str::from_utf8(SOURCES[0].1).unwrap();
        // The <meta> cannot hold frame-ancestors; the rest is the same.
        let meta = CONTENT_SECURITY_POLICY
            .trim_end_matches("; frame-ancestors 'none'")
            .to_owned();
        assert!(page.contains(&format!("content=\"{meta}\"")), "{page}");
    }
}
