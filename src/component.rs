//! The component glue: WIT bindings, the exported `node` interface, and the
//! flow's host traits implemented over WASI. Nothing of substance lives here.

use std::time::{Duration, SystemTime};

use crate::aws::sign::Credentials;
use crate::aws::{Request, Response};
use crate::error::{ErrorKind, NodeError, Problem, ProblemKind, ServiceContext};
use crate::import::{
    self, ImportOutput, Level, Runtime, Stage, Transport, TransportError, TransportErrorKind,
    ValidationReport,
};
use crate::input::{Format, ImportInput};
use crate::settings::Settings;

wit_bindgen::generate!({
    path: "wit",
    world: "node-component",
    generate_all,
});

use exports::pinpoint::segment_import::node::Guest;
use pinpoint::segment_import::host;
use pinpoint::segment_import::types as wit;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

struct Node;

export!(Node);

impl Guest for Node {
    fn run(input: wit::ImportInput) -> Result<wit::ImportOutput, wit::NodeError> {
        let input = from_wit_input(input);
        let settings = Settings::from_lookup(config).map_err(to_wit_error)?;
        let mut runtime = WasiRuntime;
        import::run(&input, &settings, &mut WasiHttp, &mut runtime)
            .map(to_wit_output)
            .map_err(to_wit_error)
    }

    fn validate(input: wit::ImportInput) -> Result<wit::ValidationReport, wit::NodeError> {
        let input = from_wit_input(input);
        let limits = crate::settings::data_limits(config).map_err(to_wit_error)?;
        import::validate(&input, &limits)
            .map(to_wit_report)
            .map_err(to_wit_error)
    }

    fn describe() -> String {
        crate::describe::descriptor()
    }
}

fn config(key: &str) -> Option<String> {
    wasi::config::store::get(key).ok().flatten()
}

/// HTTP over `wasi:http/outgoing-handler`.
struct WasiHttp;

const CHUNK: u64 = 64 * 1024;

impl Transport for WasiHttp {
    fn send(&mut self, request: Request) -> Result<Response, TransportError> {
        let invalid = |m: &str| TransportError::new(TransportErrorKind::Invalid, m);
        let (parts, body) = request.into_parts();
        let mut pairs = Vec::new();
        for (name, value) in parts.headers.iter() {
            pairs.push((name.as_str().to_owned(), value.as_bytes().to_vec()));
        }
        if !body.is_empty() || !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
            pairs.push((
                "content-length".to_owned(),
                body.len().to_string().into_bytes(),
            ));
        }
        let headers =
            Fields::from_list(&pairs).map_err(|e| invalid(&format!("bad header: {e:?}")))?;
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

        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(Duration::from_secs(10).as_nanos() as u64));
        let _ = options.set_first_byte_timeout(Some(Duration::from_secs(120).as_nanos() as u64));
        let _ = options.set_between_bytes_timeout(Some(Duration::from_secs(60).as_nanos() as u64));
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(transport_error)?;

        // A server may answer (and close) before it reads the whole body, as
        // S3 does on a refused PUT: a failed write then yields to the answer.
        let written = if body.is_empty() {
            Ok(())
        } else {
            write_body(&outgoing_body, &body)
        };
        let finished = OutgoingBody::finish(outgoing_body, None).map_err(transport_error);

        let incoming = loop {
            match future.get() {
                Some(result) => break result,
                None => future.subscribe().block(),
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
        )?;
        response
            .body(body)
            .map_err(|e| broken(&format!("bad response: {e}")))
    }
}

fn broken(message: &str) -> TransportError {
    TransportError::new(TransportErrorKind::Broken, message)
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), TransportError> {
    let stream = body
        .write()
        .map_err(|()| broken("request body stream unavailable"))?;
    let mut rest = bytes;
    while !rest.is_empty() {
        let permitted = match stream.check_write() {
            Ok(0) => {
                stream.subscribe().block();
                continue;
            }
            Ok(n) => n.min(CHUNK) as usize,
            Err(e) => return Err(stream_error(e)),
        };
        let (now, later) = rest.split_at(permitted.min(rest.len()));
        stream.write(now).map_err(stream_error)?;
        rest = later;
    }
    stream.blocking_flush().map_err(stream_error)?;
    drop(stream);
    Ok(())
}

fn read_body(body: IncomingBody) -> Result<Vec<u8>, TransportError> {
    let stream = body
        .stream()
        .map_err(|()| broken("response body stream unavailable"))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(CHUNK) {
            Ok(chunk) => out.extend_from_slice(&chunk),
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

/// Clocks, randomness, credentials and reporting over WASI and our `host` interface.
struct WasiRuntime;

impl Runtime for WasiRuntime {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(wasi::clocks::monotonic_clock::now())
    }

    fn sleep(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        wasi::clocks::monotonic_clock::subscribe_duration(nanos).block();
    }

    fn random(&mut self) -> u64 {
        wasi::random::random::get_random_u64()
    }

    fn credentials(&mut self) -> Result<Credentials, NodeError> {
        let c = host::get_credentials().map_err(|reason| {
            NodeError::new(
                ErrorKind::PermissionDenied,
                format!("the host has no AWS credentials: {reason}"),
            )
            .with_setting("credentials")
        })?;
        Ok(Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c
                .expiration
                .and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s))),
        })
    }

    fn log(&mut self, level: Level, message: &str) {
        let level = match level {
            Level::Debug => host::LogLevel::Debug,
            Level::Info => host::LogLevel::Info,
            Level::Warn => host::LogLevel::Warn,
        };
        host::log(level, message);
    }

    fn progress(&mut self, stage: Stage, completed: u64, total: Option<u64>) {
        host::progress(stage.name(), completed, total);
    }
}

fn from_wit_input(input: wit::ImportInput) -> ImportInput {
    ImportInput {
        application_id: input.application_id,
        segment_name: input.segment_name,
        format: match input.format {
            wit::DataFormat::Csv => Format::Csv,
            wit::DataFormat::Json => Format::Json,
        },
        data: input.data,
    }
}

fn to_wit_output(o: ImportOutput) -> wit::ImportOutput {
    wit::ImportOutput {
        segment_id: o.segment_id,
        import_job_id: o.import_job_id,
        segment_name: o.segment_name,
        job_status: o.job_status,
        endpoints_submitted: o.endpoints_submitted,
        endpoints_imported: o.endpoints_imported,
        endpoints_failed: o.endpoints_failed,
        failures: o.failures,
        staged_object: o.staged_object,
        staged_object_deleted: o.staged_object_deleted,
        reused_existing_segment: o.reused_existing_segment,
    }
}

fn to_wit_report(r: ValidationReport) -> wit::ValidationReport {
    wit::ValidationReport {
        format: match r.format {
            Format::Csv => wit::DataFormat::Csv,
            Format::Json => wit::DataFormat::Json,
        },
        endpoint_count: r.endpoint_count,
        channel_counts: r
            .channel_counts
            .into_iter()
            .map(|(channel, count)| wit::ChannelCount { channel, count })
            .collect(),
        bytes_to_stage: r.bytes_to_stage,
        max_import_bytes: r.max_import_bytes,
    }
}

fn to_wit_problem(p: Problem) -> wit::Problem {
    wit::Problem {
        record_number: p.record,
        line: p.line,
        column: p.column,
        field: p.field,
        kind: match p.kind {
            ProblemKind::MalformedData => wit::ProblemKind::MalformedData,
            ProblemKind::MissingRequiredFields => wit::ProblemKind::MissingRequiredFields,
            ProblemKind::InvalidChannelType => wit::ProblemKind::InvalidChannelType,
            ProblemKind::ImportSizeExceeded => wit::ProblemKind::ImportSizeExceeded,
        },
        message: p.message,
    }
}

fn to_wit_service(s: ServiceContext) -> wit::ServiceContext {
    wit::ServiceContext {
        operation: s.operation,
        http_status: s.http_status,
        aws_error_type: s.aws_error_type,
        aws_message: s.aws_message,
        request_id: s.request_id,
    }
}

fn to_wit_error(e: NodeError) -> wit::NodeError {
    let d = e.details;
    let info = wit::ErrorInfo {
        message: e.message,
        problems: d.problems.into_iter().map(to_wit_problem).collect(),
        total_problems: d.total_problems,
        service: d.service.map(to_wit_service),
        setting: d.setting,
        field: d.field,
        import_job_id: d.import_job_id,
        segment_id: d.segment_id,
        failures: d.failures,
        limit_bytes: d.limit_bytes,
        actual_bytes: d.actual_bytes,
    };
    match e.kind {
        ErrorKind::InvalidApplicationId => wit::NodeError::InvalidApplicationId(info),
        ErrorKind::MalformedData => wit::NodeError::MalformedData(info),
        ErrorKind::MissingRequiredFields => wit::NodeError::MissingRequiredFields(info),
        ErrorKind::DuplicateSegmentName => wit::NodeError::DuplicateSegmentName(info),
        ErrorKind::InvalidChannelType => wit::NodeError::InvalidChannelType(info),
        ErrorKind::ImportSizeExceeded => wit::NodeError::ImportSizeExceeded(info),
        ErrorKind::PermissionDenied => wit::NodeError::PermissionDenied(info),
        ErrorKind::Throttled => wit::NodeError::Throttled(info),
        ErrorKind::ServiceError => wit::NodeError::ServiceError(info),
        ErrorKind::ImportJobFailed => wit::NodeError::ImportJobFailed(info),
        ErrorKind::TimedOut => wit::NodeError::TimedOut(info),
        ErrorKind::InvalidSettings => wit::NodeError::InvalidSettings(info),
        ErrorKind::InvalidInput => wit::NodeError::InvalidInput(info),
    }
}
