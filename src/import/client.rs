//! Signed requests with retries: every call to AWS goes through [`Client`].

use std::time::Duration;

use super::host::{Level, Runtime, Transport, TransportError, TransportErrorKind};
use crate::aws::errors::{
    AwsError, parse_pinpoint_error, parse_s3_error, pinpoint_error, s3_error,
};
use crate::aws::sign::{Service, sign_request};
use crate::aws::{Request, Response};
use crate::error::{ErrorKind, NodeError, ServiceContext};
use crate::settings::Settings;

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
}

const RETRYABLE_STATUS: [u16; 5] = [429, 500, 502, 503, 504];

impl<T: Transport, R: Runtime> Client<'_, T, R> {
    /// Sends `request` to `service`, retrying throttling, server errors and
    /// connection failures with exponential backoff and full jitter.
    ///
    /// Returns the answer when its status is a success (2xx); an error answer
    /// is returned as [`CallError::Answer`] for the caller to map.
    pub fn call(
        &mut self,
        service: Service,
        operation: &str,
        request: &Request,
        idempotency: Idempotency,
    ) -> Result<Response, CallError> {
        let policy = self.settings.retry;
        let mut attempt = 1;
        let started = self.runtime.monotonic();
        loop {
            let mut signed = request.clone();
            let credentials = self.runtime.credentials().map_err(CallError::Failed)?;
            self.secrets = [
                Some(&credentials.secret_access_key),
                credentials.session_token.as_ref(),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .cloned()
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
            let last = attempt >= policy.max_attempts || spent >= policy.max_total;
            match self.transport.send(signed) {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status().as_u16();
                    if last || !RETRYABLE_STATUS.contains(&status) {
                        return Err(CallError::Answer(Box::new(response)));
                    }
                    let retry_after = retry_after(&response);
                    if retry_after.is_some_and(|wait| spent + wait > policy.max_total) {
                        // The server asks for a longer wait than the budget allows.
                        return Err(CallError::Answer(Box::new(response)));
                    }
                    self.runtime.log(
                        Level::Info,
                        &format!(
                            "{operation} answered {status}; retrying (attempt {} of {})",
                            attempt + 1,
                            policy.max_attempts
                        ),
                    );
                    self.backoff(attempt, retry_after);
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
                Err(e) if e.kind == TransportErrorKind::Invalid => {
                    return Err(CallError::Failed(NodeError::new(
                        ErrorKind::ServiceError,
                        format!("could not make the {operation} request: {}", e.message),
                    )));
                }
                Err(e) if e.maybe_sent() && idempotency == Idempotency::Unsafe => {
                    return Err(CallError::Ambiguous(e));
                }
                Err(e) if last => {
                    let mut error = NodeError::new(
                        ErrorKind::ServiceError,
                        format!(
                            "could not reach {} for {operation} after {attempt} attempts: {}",
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
                Err(e) => {
                    self.runtime.log(
                        Level::Info,
                        &format!(
                            "{operation} failed ({}); retrying (attempt {} of {})",
                            e.message,
                            attempt + 1,
                            policy.max_attempts
                        ),
                    );
                    self.backoff(attempt, None);
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
                    &redact(parse_pinpoint_error(&r), &self.secrets),
                )),
                CallError::Failed(n) => Failure::Failed(n),
                CallError::Ambiguous(t) => Failure::Ambiguous(t),
            })
    }

    /// [`Client::call`] to S3, with error answers mapped to node errors.
    pub fn s3(&mut self, operation: &str, request: &Request) -> Result<Response, NodeError> {
        let (bucket, region) = (&self.settings.staging_bucket, &self.settings.region);
        match self.call(Service::S3, operation, request, Idempotency::Safe) {
            Ok(r) => Ok(r),
            Err(CallError::Answer(r)) => Err(s3_error(
                operation,
                bucket,
                region,
                &redact(parse_s3_error(&r), &self.secrets),
            )),
            Err(CallError::Failed(e)) => Err(e),
            Err(CallError::Ambiguous(t)) => Err(NodeError::new(ErrorKind::ServiceError, t.message)),
        }
    }

    /// Waits before attempt `attempt + 1`: full jitter over an exponential
    /// ceiling, but never less than the server's `Retry-After`.
    fn backoff(&mut self, attempt: u32, retry_after: Option<Duration>) {
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
        let delay = match retry_after {
            Some(server) => jitter.max(server.min(Duration::from_secs(300))),
            None => jitter,
        };
        self.runtime.sleep(delay);
    }
}

/// The node error of a failed Pinpoint call, for callers with nothing to check.
pub fn plain(e: Failure, operation: &str) -> NodeError {
    match e {
        Failure::Failed(n) => n,
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

/// `err` with every occurrence of a secret replaced.
fn redact(mut err: AwsError, secrets: &[String]) -> AwsError {
    for field in [
        &mut err.error_type,
        &mut err.message,
        &mut err.request_id,
        &mut err.expected_region,
    ]
    .into_iter()
    .flatten()
    {
        for secret in secrets {
            if field.contains(secret.as_str()) {
                *field = field.replace(secret.as_str(), "<redacted>");
            }
        }
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
