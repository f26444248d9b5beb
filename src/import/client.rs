//! Signed requests with retries: every call to AWS goes through [`Client`].

use std::time::Duration;

use super::host::{
    AttemptTimeout, Body, CLEANUP_TIMEOUT, Cleanup, Level, MAX_RESPONSE_BYTES, Runtime, Transport,
    TransportError, TransportErrorKind, attempt_timeout,
};
use crate::aws::errors::{
    AwsError, parse_pinpoint_error, parse_s3_error, pinpoint_error, redact, s3_error,
};
use crate::aws::sign::{Service, sign_request};
use crate::aws::{Request, Response};
use crate::error::{ErrorKind, NodeError, ServiceContext};
use crate::settings::{RetryPolicy, Settings};

/// Whether a request may be sent again after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat (reads, PUT of the same bytes, DELETE).
    Safe,
    /// Not safe to repeat blindly once it may have reached the server.
    Unsafe,
}

/// Why a Pinpoint call failed, once its error answer is mapped.
#[derive(Debug)]
pub enum Failure {
    /// The node error to report.
    Failed(NodeError),
    /// An unsafe request may have reached the server; the caller must check.
    Ambiguous(TransportError),
    /// The server answered, too much to read
    /// ([`TransportErrorKind::TooLarge`]): the request may have taken effect.
    /// The node error to report.
    Unread(NodeError),
}

/// Why a call did not return a success answer.
#[derive(Debug)]
pub enum CallError {
    /// AWS answered with an error status (after retries where they apply).
    Answer(Box<Response>),
    /// The node error to report.
    Failed(NodeError),
    /// An unsafe request may have reached the server; the caller must check.
    Ambiguous(TransportError),
    /// The answer was larger than [`MAX_RESPONSE_BYTES`] and was not read;
    /// the request may have taken effect. The node error to report.
    Unread(NodeError),
}

/// Sends signed requests for one run.
pub struct Client<'a, T, R> {
    /// The HTTP transport.
    pub transport: &'a mut T,
    /// Clocks, credentials and reporting.
    pub runtime: &'a mut R,
    /// The run's settings.
    pub settings: &'a Settings,
    /// The secret key and session token of the last signature: AWS may quote
    /// them back (a signature error quotes the canonical request, token and
    /// all), and they are cut out of every error answer.
    pub secrets: Vec<String>,
    /// Set once the run is cancelled and cleans up: requests are sent anyway,
    /// marked [`Cleanup`], with one attempt of at most [`CLEANUP_TIMEOUT`].
    pub cleaning_up: bool,
}

const RETRYABLE_STATUS: [u16; 5] = [429, 500, 502, 503, 504];

impl<T: Transport, R: Runtime> Client<'_, T, R> {
    /// Sends `request` to `service`, retrying throttling, server errors and
    /// connection failures with exponential backoff and full jitter.
    ///
    /// Two bounds hold together: at most `retry-max-attempts` attempts, and
    /// the request's time budget `retry-max-total-seconds` for its attempts
    /// and the waits between them. Each attempt carries an [`AttemptTimeout`]
    /// of what is left of the budget; no attempt starts once the wait before
    /// it would spend the budget.
    ///
    /// Returns the answer when its status is a success (2xx); an error answer
    /// is returned as [`CallError::Answer`] for the caller to map.
    ///
    /// A cancelled run (unless [`Client::cleaning_up`]) sends nothing more: a
    /// request is `Cancelled` before an attempt, and an attempt whose wait
    /// was cancelled is `Cancelled` too, or [`CallError::Ambiguous`] for an
    /// unsafe request, which may have arrived.
    pub fn call(
        &mut self,
        service: Service,
        operation: &str,
        request: &Request,
        idempotency: Idempotency,
    ) -> Result<Response, CallError> {
        self.call_with(service, operation, request, None, idempotency)
    }

    /// [`Client::call`], with `body` (if any) streamed as the request's body
    /// on every attempt ([`Transport::send_streaming`]).
    fn call_with(
        &mut self,
        service: Service,
        operation: &str,
        request: &Request,
        body: Option<&dyn Body>,
        idempotency: Idempotency,
    ) -> Result<Response, CallError> {
        let policy = if self.cleaning_up {
            RetryPolicy {
                max_attempts: 1,
                max_total: CLEANUP_TIMEOUT,
                ..self.settings.retry
            }
        } else {
            self.settings.retry
        };
        let mut attempt = 1;
        let started = self.runtime.monotonic();
        loop {
            if !self.cleaning_up && self.runtime.cancelled() {
                return Err(CallError::Failed(cancelled(operation)));
            }
            let mut signed = request.clone();
            let credentials = self.runtime.credentials().map_err(CallError::Failed)?;
            self.secrets = [
                Some(credentials.secret_access_key()),
                credentials.session_token(),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
            sign_request(
                &mut signed,
                service,
                &self.settings.region,
                &credentials,
                self.runtime.now(),
            )
            .map_err(CallError::Failed)?;
            let spent = self.runtime.monotonic().saturating_sub(started);
            signed
                .extensions_mut()
                .insert(AttemptTimeout(attempt_timeout(&policy, spent)));
            if self.cleaning_up {
                signed.extensions_mut().insert(Cleanup);
            }
            let result = match body {
                Some(body) => self.transport.send_streaming(signed, body),
                None => self.transport.send(signed),
            };
            let spent = self.runtime.monotonic().saturating_sub(started);
            match result {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status().as_u16();
                    if !RETRYABLE_STATUS.contains(&status) {
                        return Err(CallError::Answer(Box::new(response)));
                    }
                    let delay = self.delay(attempt, retry_after(&response));
                    if let Some(why) = stop(&policy, attempt, spent, delay) {
                        self.runtime.log(
                            Level::Info,
                            &format!("{operation} answered {status}; {why}"),
                        );
                        return Err(CallError::Answer(Box::new(response)));
                    }
                    self.runtime.log(
                        Level::Info,
                        &format!(
                            "{operation} answered {status}; retrying in {}: {}",
                            seconds(delay),
                            next_attempt(&policy, attempt)
                        ),
                    );
                    self.runtime.sleep(delay);
                }
                Err(e) if e.kind == TransportErrorKind::Denied => {
                    let key = endpoint_setting(service);
                    return Err(CallError::Failed(
                        NodeError::new(
                            ErrorKind::InvalidSettings,
                            format!("the host denied {operation} to {}: its egress policy does not allow this endpoint ({})", authority(request), e.message),
                        )
                        .with_setting(key),
                    ));
                }
                Err(e) if e.kind == TransportErrorKind::TooLarge => {
                    return Err(CallError::Unread(
                        NodeError::new(
                            ErrorKind::ServiceError,
                            format!(
                                "the answer of {} to {operation} is larger than {} MiB ({MAX_RESPONSE_BYTES} bytes), the most the node reads; it was not read and {operation} was not retried ({})",
                                authority(request),
                                MAX_RESPONSE_BYTES >> 20,
                                e.message
                            ),
                        )
                        .with_service(ServiceContext {
                            operation: operation.to_owned(),
                            ..Default::default()
                        }),
                    ));
                }
                Err(e) if e.kind == TransportErrorKind::Invalid => {
                    return Err(CallError::Failed(NodeError::new(
                        ErrorKind::ServiceError,
                        format!("could not make the {operation} request: {}", e.message),
                    )));
                }
                Err(e) if e.maybe_sent() && idempotency == Idempotency::Unsafe => {
                    return Err(CallError::Ambiguous(e));
                }
                Err(e) if e.kind == TransportErrorKind::Cancelled => {
                    return Err(CallError::Failed(cancelled(operation)));
                }
                Err(e) => {
                    let delay = self.delay(attempt, None);
                    if let Some(why) = stop(&policy, attempt, spent, delay) {
                        let mut error = NodeError::new(
                            ErrorKind::ServiceError,
                            format!(
                                "could not reach {} for {operation}: {why}; the last attempt failed with: {}",
                                authority(request),
                                e.message
                            ),
                        )
                        .with_service(ServiceContext {
                            operation: operation.to_owned(),
                            ..Default::default()
                        });
                        if e.kind == TransportErrorKind::Connect {
                            // No connection at all: the endpoint is the first suspect.
                            let key = endpoint_setting(service);
                            error
                                .message
                                .push_str(&format!("; check `{key}` and the network"));
                            error = error.with_setting(key);
                        }
                        return Err(CallError::Failed(error));
                    }
                    self.runtime.log(
                        Level::Info,
                        &format!(
                            "{operation} failed ({}); retrying in {}: {}",
                            e.message,
                            seconds(delay),
                            next_attempt(&policy, attempt)
                        ),
                    );
                    self.runtime.sleep(delay);
                }
            }
            attempt += 1;
        }
    }

    /// [`Client::call`] to Pinpoint, with error answers mapped to node errors.
    pub fn pinpoint(
        &mut self,
        operation: &str,
        request: &Request,
        idempotency: Idempotency,
    ) -> Result<Response, Failure> {
        self.call(Service::Pinpoint, operation, request, idempotency)
            .map_err(|e| match e {
                CallError::Answer(r) => Failure::Failed(pinpoint_error(
                    operation,
                    &redact_error(parse_pinpoint_error(&r), &self.secrets),
                )),
                CallError::Failed(n) => Failure::Failed(n),
                CallError::Ambiguous(t) => Failure::Ambiguous(t),
                CallError::Unread(n) => Failure::Unread(n),
            })
    }

    /// [`Client::call`] to S3, with error answers mapped to node errors.
    pub fn s3(&mut self, operation: &str, request: &Request) -> Result<Response, NodeError> {
        self.s3_with(operation, request, None)
    }

    /// [`Client::s3`] with `body` streamed as the request's body (its hash
    /// is in the request, [`crate::aws::sign::PayloadSha256`]).
    pub fn s3_streaming(
        &mut self,
        operation: &str,
        request: &Request,
        body: &dyn Body,
    ) -> Result<Response, NodeError> {
        self.s3_with(operation, request, Some(body))
    }

    fn s3_with(
        &mut self,
        operation: &str,
        request: &Request,
        body: Option<&dyn Body>,
    ) -> Result<Response, NodeError> {
        let (bucket, region) = (&self.settings.staging_bucket, &self.settings.region);
        match self.call_with(Service::S3, operation, request, body, Idempotency::Safe) {
            Ok(r) => Ok(r),
            Err(CallError::Answer(r)) => Err(s3_error(
                operation,
                bucket,
                region,
                &redact_error(parse_s3_error(&r), &self.secrets),
            )),
            Err(CallError::Failed(e) | CallError::Unread(e)) => Err(e),
            Err(CallError::Ambiguous(t)) => Err(NodeError::new(ErrorKind::ServiceError, t.message)),
        }
    }

    /// The wait before attempt `attempt + 1`: full jitter over an
    /// exponential ceiling, but never less than the server's `Retry-After`
    /// (itself capped at 300 s).
    fn delay(&mut self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let policy = self.settings.retry;
        let ceiling = policy
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(policy.max_delay);
        let ceiling_ms = ceiling.as_millis() as u64;
        let jitter = Duration::from_millis(if ceiling_ms == 0 {
            0
        } else {
            self.runtime.random() % (ceiling_ms + 1)
        });
        match retry_after {
            Some(server) => jitter.max(server.min(Duration::from_secs(300))),
            None => jitter,
        }
    }
}

/// Why no attempt follows attempt `attempt`, which ended after `spent`, when
/// the next would have to wait `delay`; `None` when it may follow.
fn stop(policy: &RetryPolicy, attempt: u32, spent: Duration, delay: Duration) -> Option<String> {
    let attempts = if attempt == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{attempt} attempts")
    };
    if attempt >= policy.max_attempts {
        Some(format!(
            "gave up after {attempts} in {}: `retry-max-attempts` is {}",
            seconds(spent),
            policy.max_attempts
        ))
    } else if spent.saturating_add(delay) >= policy.max_total {
        Some(format!(
            "gave up after {attempts} in {}: the retry budget of {} (`retry-max-total-seconds`) is spent",
            seconds(spent),
            seconds(policy.max_total)
        ))
    } else {
        None
    }
}

/// `attempt 2 (of at most 5, within 120 s)`: the attempt after `attempt`, and
/// both bounds on it.
fn next_attempt(policy: &RetryPolicy, attempt: u32) -> String {
    format!(
        "attempt {} (of at most {}, within {})",
        attempt + 1,
        policy.max_attempts,
        seconds(policy.max_total)
    )
}

/// A duration for people: `0.2 s`, `9.5 s`, `241 s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(10) && d.subsec_millis() != 0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// The error of a request the run's cancellation stopped; the flow adds what
/// the run leaves behind.
fn cancelled(operation: &str) -> NodeError {
    NodeError::new(
        ErrorKind::Cancelled,
        format!("the run was cancelled during {operation}"),
    )
}

/// The node error of a failed Pinpoint call, for callers with nothing to check.
pub fn plain(e: Failure, operation: &str) -> NodeError {
    match e {
        Failure::Failed(n) | Failure::Unread(n) => n,
        Failure::Ambiguous(t) => NodeError::new(
            ErrorKind::ServiceError,
            format!("the connection broke during {operation}: {}", t.message),
        ),
    }
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `err` with every secret cut out of it, in any encoding ([`redact`]).
fn redact_error(mut err: AwsError, secrets: &[String]) -> AwsError {
    for field in [
        &mut err.error_type,
        &mut err.message,
        &mut err.request_id,
        &mut err.expected_region,
    ]
    .into_iter()
    .flatten()
    {
        *field = redact(field, secrets);
    }
    err
}

/// The setting that chooses `service`'s endpoint.
fn endpoint_setting(service: Service) -> &'static str {
    match service {
        Service::Pinpoint => "pinpoint-endpoint",
        Service::S3 => "s3-endpoint",
    }
}

fn authority(request: &Request) -> String {
    request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default()
}
