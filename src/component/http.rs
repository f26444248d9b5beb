//! HTTP over `wasi:http/outgoing-handler`: the flow's [`Transport`].
//!
//! Every answer is read with a size bound ([`MAX_RESPONSE_BYTES`]): a server
//! that streams without end gets a typed error, not all of the memory. Each
//! attempt waits for its answer at most what the flow allows it
//! ([`AttemptTimeout`]), so no attempt outlasts the request's time budget.

use std::rc::Rc;
use std::time::Duration;

use super::bindings::wasi::http::outgoing_handler;
use super::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use super::bindings::wasi::io::poll::Pollable;
use super::bindings::wasi::io::streams::StreamError;
use super::cancel::Cancellation;
use crate::aws::{Request, Response};
use crate::import::{
    AttemptTimeout, Body, Cleanup, MAX_ATTEMPT_TIMEOUT, MAX_RESPONSE_BYTES, Transport,
    TransportError, TransportErrorKind,
};

/// HTTP over `wasi:http/outgoing-handler`.
pub(super) struct WasiHttp {
    /// The host's cancellation signal: every wait of a request watches it,
    /// except a [`Cleanup`] request's.
    pub(super) cancel: Rc<Cancellation>,
}

/// What a request waits with: the run's cancellation signal, and whether to
/// watch it.
#[derive(Clone, Copy)]
struct Waiter<'a> {
    cancel: &'a Cancellation,
    watch: bool,
}

impl Waiter<'_> {
    /// The waiter of a request with these `parts`.
    fn of<'a>(cancel: &'a Cancellation, parts: &http::request::Parts) -> Waiter<'a> {
        Waiter {
            cancel,
            watch: parts.extensions.get::<Cleanup>().is_none(),
        }
    }

    /// Waits for `pollable`; a cancellation first is an error.
    fn wait(self, pollable: &Pollable) -> Result<(), TransportError> {
        if self.cancel.wait(pollable, self.watch) {
            Ok(())
        } else {
            Err(TransportError::new(
                TransportErrorKind::Cancelled,
                "the run was cancelled while waiting for the answer",
            ))
        }
    }
}

const CHUNK: u64 = 64 * 1024;

impl Transport for WasiHttp {
    fn send(&mut self, request: Request) -> Result<Response, TransportError> {
        let (parts, body) = request.into_parts();
        let length = body.len() as u64;
        let waiter = Waiter::of(&self.cancel, &parts);
        exchange(parts, length, waiter, |out| {
            if body.is_empty() {
                Ok(())
            } else {
                write_body(out, waiter, &mut |write| write(&body))
            }
        })
    }

    /// Streams `body` into the request's body stream, 64 KiB at a time, as
    /// it is written: the body is never held whole.
    fn send_streaming(
        &mut self,
        request: Request,
        body: &dyn Body,
    ) -> Result<Response, TransportError> {
        let (parts, _) = request.into_parts();
        let waiter = Waiter::of(&self.cancel, &parts);
        exchange(parts, body.content_length(), waiter, |out| {
            write_body(out, waiter, &mut |write| body.write(write))
        })
    }
}

/// Sends a request of `length` body bytes, which `write` writes, and reads
/// the answer; every wait through `waiter`.
fn exchange(
    parts: http::request::Parts,
    length: u64,
    waiter: Waiter<'_>,
    write: impl FnOnce(&OutgoingBody) -> Result<(), TransportError>,
) -> Result<Response, TransportError> {
    let invalid = |m: &str| TransportError::new(TransportErrorKind::Invalid, m);
    let mut pairs = Vec::new();
    for (name, value) in parts.headers.iter() {
        pairs.push((name.as_str().to_owned(), value.as_bytes().to_vec()));
    }
    if length > 0 || !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
        pairs.push(("content-length".to_owned(), length.to_string().into_bytes()));
    }
    let headers = Fields::from_list(&pairs).map_err(|e| invalid(&format!("bad header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match parts.method.as_str() {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_owned()),
    };
    let uri = &parts.uri;
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        _ => return Err(invalid("the URL has no http or https scheme")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("the URL has no host"))?
        .as_str()
        .to_owned();
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_owned();
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("bad method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("bad scheme"))?;
    outgoing
        .set_authority(Some(&authority))
        .map_err(|()| invalid("bad host"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("bad path"))?;
    let outgoing_body = outgoing.body().map_err(|()| invalid("no request body"))?;

    let wait = parts
        .extensions
        .get::<AttemptTimeout>()
        .map_or(MAX_ATTEMPT_TIMEOUT, |t| t.0);
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(nanos(wait.min(Duration::from_secs(10)))));
    let _ = options.set_first_byte_timeout(Some(nanos(wait)));
    let _ = options.set_between_bytes_timeout(Some(nanos(wait)));
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(transport_error)?;

    // A server may answer (and close) before it reads the whole body, as
    // S3 does on a refused PUT: a failed write then yields to the answer.
    let written = write(&outgoing_body);
    let finished = OutgoingBody::finish(outgoing_body, None).map_err(transport_error);

    let incoming = loop {
        match future.get() {
            Some(result) => break result,
            None => waiter.wait(&future.subscribe())?,
        }
    };
    let incoming = match incoming {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => {
            written?;
            finished?;
            return Err(transport_error(code));
        }
        Err(()) => return Err(broken("the response was already taken")),
    };
    let mut response = http::Response::builder().status(incoming.status());
    for (name, value) in incoming.headers().entries() {
        response = response.header(name, value);
    }
    let body = read_body(
        incoming
            .consume()
            .map_err(|()| broken("no response body"))?,
        waiter,
    )?;
    response
        .body(body)
        .map_err(|e| broken(&format!("bad response: {e}")))
}

fn broken(message: &str) -> TransportError {
    TransportError::new(TransportErrorKind::Broken, message)
}

/// Where a body's chunks go.
type ChunkSink<'s> = dyn FnMut(&[u8]) -> Result<(), TransportError> + 's;

/// Opens the body stream of `body` and lets `source` write to it, with a
/// writer that waits for the stream to take each chunk.
fn write_body(
    body: &OutgoingBody,
    waiter: Waiter<'_>,
    source: &mut dyn FnMut(&mut ChunkSink<'_>) -> Result<(), TransportError>,
) -> Result<(), TransportError> {
    let stream = body
        .write()
        .map_err(|()| broken("request body stream unavailable"))?;
    source(&mut |bytes| {
        let mut rest = bytes;
        while !rest.is_empty() {
            let permitted = match stream.check_write() {
                Ok(0) => {
                    waiter.wait(&stream.subscribe())?;
                    continue;
                }
                Ok(n) => n.min(CHUNK) as usize,
                Err(e) => return Err(stream_error(e)),
            };
            let (now, later) = rest.split_at(permitted.min(rest.len()));
            stream.write(now).map_err(stream_error)?;
            rest = later;
        }
        Ok(())
    })?;
    // As `blocking-flush`: flush, wait until it is done, check the result.
    stream.flush().map_err(stream_error)?;
    waiter.wait(&stream.subscribe())?;
    stream.check_write().map_err(stream_error)?;
    drop(stream);
    Ok(())
}

fn read_body(body: IncomingBody, waiter: Waiter<'_>) -> Result<Vec<u8>, TransportError> {
    let stream = body
        .stream()
        .map_err(|()| broken("response body stream unavailable"))?;
    let mut out = Vec::new();
    loop {
        waiter.wait(&stream.subscribe())?;
        match stream.read(CHUNK) {
            Ok(chunk) => {
                if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(TransportError::new(
                        TransportErrorKind::TooLarge,
                        format!(
                            "the answer is larger than {} MiB; stopped reading",
                            MAX_RESPONSE_BYTES >> 20
                        ),
                    ));
                }
                out.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(e) => return Err(stream_error(e)),
        }
    }
    drop(stream);
    let _trailers = IncomingBody::finish(body);
    Ok(out)
}

fn stream_error(e: StreamError) -> TransportError {
    match e {
        StreamError::Closed => broken("the connection closed"),
        StreamError::LastOperationFailed(err) => broken(&err.to_debug_string()),
    }
}

fn transport_error(e: ErrorCode) -> TransportError {
    let kind = match &e {
        ErrorCode::HttpRequestDenied => TransportErrorKind::Denied,
        ErrorCode::DnsTimeout
        | ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTimeout
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => TransportErrorKind::Connect,
        ErrorCode::HttpRequestMethodInvalid | ErrorCode::HttpRequestUriInvalid => {
            TransportErrorKind::Invalid
        }
        // What hosts (wasmtime's among them) answer when the connection is
        // closed or reset before the response: the request may have arrived.
        _ => TransportErrorKind::Broken,
    };
    TransportError::new(kind, format!("{e:?}"))
}
