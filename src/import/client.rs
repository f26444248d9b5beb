//! Signed requests with retries: every call to AWS goes through [`Client`].
//! Each attempt's result is read by [`classify`]; this loop signs, sends,
//! counts, waits and logs, and maps the services' error answers.

use std::time::Duration;

use super::attempt::{
    Attempted, Idempotency, Retryable, Verdict, cancelled, classify, unreachable,
};
use super::call_error::CallError;
use super::host::{
    AttemptTimeout, Body, CLEANUP_TIMEOUT, Cleanup, Level, Runtime, Transport, attempt_timeout,
};
use crate::aws::errors::{
    AwsError, parse_pinpoint_error, parse_s3_error, pinpoint_error, redact, s3_error,
};
use crate::aws::sign::{Service, sign_request};
use crate::aws::{Request, Response};
use crate::error::NodeError;
use crate::settings::{RetryPolicy, Settings};

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

impl<T: Transport, R: Runtime> Client<'_, T, R> {
    /// A call to Pinpoint ([`Client::call`]).
    pub fn pinpoint(
        &mut self,
        operation: &str,
        request: &Request,
        idempotency: Idempotency,
    ) -> Result<Response, CallError> {
        self.call(Service::Pinpoint, operation, request, None, idempotency)
    }

    /// A call to S3 ([`Client::call`]); S3 requests are safe to repeat.
    pub fn s3(&mut self, operation: &str, request: &Request) -> Result<Response, NodeError> {
        self.call(Service::S3, operation, request, None, Idempotency::Safe)
            .map_err(|e| e.into_node_error(operation))
    }

    /// [`Client::s3`] with `body` streamed as the request's body (its hash
    /// is in the request, [`crate::aws::sign::StreamedPayload`]).
    pub fn s3_streaming(
        &mut self,
        operation: &str,
        request: &Request,
        body: &dyn Body,
    ) -> Result<Response, NodeError> {
        self.call(
            Service::S3,
            operation,
            request,
            Some(body),
            Idempotency::Safe,
        )
        .map_err(|e| e.into_node_error(operation))
    }

    /// Sends `request` to `service`, with `body` (if any) streamed as its
    /// body on every attempt ([`Transport::send_streaming`]), retrying
    /// throttling, server errors and connection failures with exponential
    /// backoff and full jitter.
    ///
    /// Two bounds hold together: at most `retry-max-attempts` attempts, and
    /// the request's time budget `retry-max-total-seconds` for its attempts
    /// and the waits between them. Each attempt carries an [`AttemptTimeout`]
    /// of what is left of the budget; no attempt starts once the wait before
    /// it would spend the budget.
    ///
    /// Returns the answer when its status is a success (2xx); an error answer
    /// is mapped to the service's node error ([`CallError::Failed`]).
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
        let call = Attempted {
            service,
            operation,
            authority: authority(request),
            idempotency,
        };
        let mut attempt = 1;
        let started = self.runtime.monotonic();
        loop {
            if !self.cleaning_up && self.runtime.cancelled() {
                return Err(CallError::Failed(cancelled(operation)));
            }
            let signed = self.sign(service, request, &policy, started)?;
            let result = match body {
                Some(body) => self.transport.send_streaming(signed, body),
                None => self.transport.send(signed),
            };
            let spent = self.runtime.monotonic().saturating_sub(started);
            let failure = match classify(result, &call) {
                Verdict::Success(response) => return Ok(response),
                Verdict::Refused(response) => {
                    return Err(CallError::Failed(self.error_answer(&call, &response)));
                }
                Verdict::Failed(e) => return Err(e),
                Verdict::Retryable(failure) => failure,
            };
            let delay = self.delay(
                match &failure {
                    Retryable::Answer { retry_after, .. } => *retry_after,
                    Retryable::Transport(_) => None,
                },
                attempt,
            );
            let what = match &failure {
                Retryable::Answer { response, .. } => {
                    format!("{operation} answered {}", response.status().as_u16())
                }
                Retryable::Transport(e) => format!("{operation} failed ({})", e.message),
            };
            if let Some(why) = stop(&policy, attempt, spent, delay) {
                return Err(CallError::Failed(match failure {
                    Retryable::Answer { response, .. } => {
                        self.runtime.log(Level::Info, &format!("{what}; {why}"));
                        self.error_answer(&call, &response)
                    }
                    Retryable::Transport(e) => unreachable(&call, &why, &e),
                }));
            }
            self.runtime.log(
                Level::Info,
                &format!(
                    "{what}; retrying in {}: {}",
                    seconds(delay),
                    next_attempt(&policy, attempt)
                ),
            );
            self.runtime.sleep(delay);
            attempt += 1;
        }
    }

    /// `request` signed with the runtime's credentials (kept as the secrets
    /// to cut out of error answers), with the attempt's timeout from what is
    /// left of the budget since `started`, marked [`Cleanup`] if the run
    /// cleans up.
    fn sign(
        &mut self,
        service: Service,
        request: &Request,
        policy: &RetryPolicy,
        started: Duration,
    ) -> Result<Request, CallError> {
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
            .insert(AttemptTimeout(attempt_timeout(policy, spent)));
        if self.cleaning_up {
            signed.extensions_mut().insert(Cleanup);
        }
        Ok(signed)
    }

    /// The node error of `call`'s error answer `response`, secrets cut out.
    fn error_answer(&self, call: &Attempted<'_>, response: &Response) -> NodeError {
        match call.service {
            Service::Pinpoint => pinpoint_error(
                call.operation,
                &redact_error(parse_pinpoint_error(response), &self.secrets),
            ),
            Service::S3 => s3_error(
                call.operation,
                &self.settings.staging_bucket,
                &self.settings.region,
                &redact_error(parse_s3_error(response), &self.secrets),
            ),
        }
    }

    /// The wait before attempt `attempt + 1`: full jitter over an
    /// exponential ceiling, but never less than the server's `Retry-After`
    /// (itself capped at 300 s).
    fn delay(&mut self, retry_after: Option<Duration>, attempt: u32) -> Duration {
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

fn authority(request: &Request) -> String {
    request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default()
}
