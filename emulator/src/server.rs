//! The HTTP/1.1 server: an accept loop and one hyper connection task per client.
//!
//! A connection reset (for `Fault::Reset*`) is done by setting `SO_LINGER` to zero on the
//! socket and failing the service future: hyper then drops the connection without an
//! answer, and closing a socket with a zero linger sends a TCP RST.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::Shared;
use super::router::{self, Outcome};

/// The error a service future fails with to make hyper drop the connection.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for ResetConnection {}

/// Runs the accept loop until `shutdown` turns true; then aborts every connection.
pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve_connection(stream, shared.clone()));
                    }
                    // E.g. too many open files: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
    })
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // Keep a second handle on the socket so a fault can set SO_LINGER=0 on it.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(handle) = std_stream.try_clone() else {
        return;
    };
    let handle = Arc::new(handle);
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let handle = handle.clone();
        async move {
            match router::handle(&shared, req).await {
                Outcome::Respond(resp) => Ok(resp),
                Outcome::Reset => {
                    let _ = socket2::SockRef::from(&*handle).set_linger(Some(Duration::ZERO));
                    Err(ResetConnection)
                }
            }
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
