//! HTTP over `wasi:http/outgoing-handler`: the flow's [`Transport`].
//!
//! Every answer is read with a size bound ([`MAX_RESPONSE_BYTES`]): a server
//! that streams without end gets a typed error, not all of the memory. Each
//! attempt waits for its answer at most what the flow allows it
//! ([`AttemptTimeout`]), so no attempt outlasts the request's time budget:
//! every wait (for the body stream to take a chunk, for the answer to begin,
//! for its next bytes) polls a `wasi:clocks` timer with it, as a host's own
//! time-outs need not cover every stage (wasmtime's default sender leaves
//! the TLS handshake unbounded).

use std::rc::Rc;
use std::time::Duration;

use super::bindings::wasi::clocks::monotonic_clock;
use super::bindings::wasi::http::outgoing_handler;
use super::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use super::bindings::wasi::io::poll::Pollable;
use super::bindings::wasi::io::streams::StreamError;
use super::cancel::{Cancellation, Woken};
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

/// Where in an exchange a wait is: named in the error of a wait that timed
/// out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Writing the request body (the host may still be connecting).
    Sending,
    /// Waiting for the answer to begin: the TCP connection, its TLS
    /// handshake, the request's way out and the answer's first byte. The
    /// guest cannot tell these apart; a host's own `connect-timeout` need
    /// not cover the handshake (wasmtime-wasi-http's default sender does
    /// not), so this wait has a clock of its own.
    Answer,
    /// Reading the answer's body.
    Reading,
}

impl Stage {
    /// What the exchange was doing, for a message.
    fn doing(self) -> &'static str {
        match self {
            Stage::Sending => "sending the request body",
            Stage::Answer => {
                "waiting for the answer to begin (the TCP connection, its TLS handshake or the first byte)"
            }
            Stage::Reading => "reading the answer's body",
        }
    }
}

/// What a request waits with: the run's cancellation signal, whether to
/// watch it, and how long any one wait may last.
#[derive(Clone, Copy)]
struct Waiter<'a> {
    cancel: &'a Cancellation,
    watch: bool,
    /// The attempt's [`AttemptTimeout`]: the longest any wait of it lasts.
    limit: Duration,
}

impl Waiter<'_> {
    /// The waiter of a request with these `parts`.
    fn of<'a>(cancel: &'a Cancellation, parts: &http::request::Parts) -> Waiter<'a> {
        Waiter {
            cancel,
            watch: parts.extensions.get::<Cleanup>().is_none(),
            limit: parts
                .extensions
                .get::<AttemptTimeout>()
                .map_or(MAX_ATTEMPT_TIMEOUT, |t| t.0),
        }
    }

    /// A timer that fires when this waiter's limit has passed from now.
    fn timer(self) -> Pollable {
        monotonic_clock::subscribe_duration(nanos(self.limit))
    }

    /// Waits for `pollable` at most the waiter's limit; a cancellation
    /// first, or the limit, is an error.
    fn wait(self, pollable: &Pollable, stage: Stage) -> Result<(), TransportError> {
        self.wait_until(pollable, &self.timer(), stage)
    }

    /// Waits for `pollable` until `timer` fires; a cancellation first, or
    /// the timer, is an error: a time-out is [`TransportErrorKind::Broken`]
    /// (the request may have arrived), so a safe request is retried within
    /// its budget.
    fn wait_until(
        self,
        pollable: &Pollable,
        timer: &Pollable,
        stage: Stage,
    ) -> Result<(), TransportError> {
        match self.cancel.wait_until(pollable, timer, self.watch) {
            Woken::Ready => Ok(()),
            Woken::Cancelled => Err(TransportError::new(
                TransportErrorKind::Cancelled,
                "the run was cancelled while waiting for the answer",
            )),
            Woken::TimedOut => Err(TransportError::new(
                TransportErrorKind::Broken,
                format!(
                    "no progress for {:.1} s while {}; the attempt was abandoned",
                    self.limit.as_secs_f64(),
                    stage.doing()
                ),
            )),
        }
    }
}

/// `d` in nanoseconds, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

const CHUNK: u64 = 64 * 1024;

/// How long an answer is awaited after the request body could not be
/// written whole.
const WRITE_FAILED_GRACE: Duration = Duration::from_secs(1);

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

    let wait = waiter.limit;
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(nanos(wait.min(Duration::from_secs(10)))));
    let _ = options.set_first_byte_timeout(Some(nanos(wait)));
    let _ = options.set_between_bytes_timeout(Some(nanos(wait)));
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(transport_error)?;

    // A server may answer (and close) before it reads the whole body, as
    // S3 does on a refused PUT: a failed write then yields to the answer.
    let written = write(&outgoing_body);
    let finished = OutgoingBody::finish(outgoing_body, None).map_err(transport_error);

    // The wait for the answer to begin (connection, TLS handshake, first
    // byte) is bounded here, whatever the host bounds itself; returning
    // drops the future, which ends the host's attempt. After a failed write
    // (a server that answered early, or a write that stalled) the answer is
    // either on its way or not coming: it gets a short grace only.
    let answer_timer = match &written {
        Ok(()) => waiter.timer(),
        Err(_) => monotonic_clock::subscribe_duration(nanos(waiter.limit.min(WRITE_FAILED_GRACE))),
    };

    let incoming = loop {
        match future.get() {
            Some(result) => break result,
            None => {
                let waited = waiter.wait_until(&future.subscribe(), &answer_timer, Stage::Answer);
                if let Err(e) = waited {
                    // No answer in time: what stopped the write is the
                    // better cause.
                    if e.kind != TransportErrorKind::Cancelled {
                        written?;
                    }
                    return Err(e);
                }
            }
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
                    waiter.wait(&stream.subscribe(), Stage::Sending)?;
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
    waiter.wait(&stream.subscribe(), Stage::Sending)?;
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
        waiter.wait(&stream.subscribe(), Stage::Reading)?;
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
