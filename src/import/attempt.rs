//! What one attempt's result means for its call: a success, a failure that
//! another attempt may fix, or the call's end. A pure reading, so the retry
//! loop (the client's) only counts, waits and logs.

use std::time::Duration;

use super::call_error::CallError;
use super::host::{MAX_RESPONSE_BYTES, TransportError, TransportErrorKind};
use crate::aws::Response;
use crate::aws::sign::Service;
use crate::error::{ErrorKind, NodeError, ServiceContext};

/// Whether a request may be sent again after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat (reads, PUT of the same bytes, DELETE).
    Safe,
    /// Not safe to repeat blindly once it may have reached the server.
    Unsafe,
}

/// The call an attempt belongs to, as its verdict needs it.
#[derive(Debug, Clone)]
pub struct Attempted<'o> {
    /// The service called.
    pub service: Service,
    /// The operation (`GetApp`, `PutObject`...).
    pub operation: &'o str,
    /// Where the request went (host and port), for messages.
    pub authority: String,
    /// Whether the request may be sent again after it may have arrived.
    pub idempotency: Idempotency,
}

/// What one attempt's result means.
#[derive(Debug)]
pub enum Verdict {
    /// A success answer (2xx): the call's result.
    Success(Response),
    /// An error answer that another attempt would not change: the call
    /// ends, with the service's error mapped from it.
    Refused(Response),
    /// Another attempt may succeed: throttling, a server error, a failed or
    /// broken connection of a request that is safe to repeat.
    Retryable(Retryable),
    /// The call ends with this error (there is no answer to map).
    Failed(CallError),
}

/// A failure another attempt may fix.
#[derive(Debug)]
pub enum Retryable {
    /// Throttling or a server error (429, 500, 502, 503, 504); the wait
    /// before another attempt is at least the server's `Retry-After`.
    Answer {
        /// The answer, mapped to the call's error if no attempt follows.
        response: Response,
        /// The server's `Retry-After`, in whole seconds, if it gave one.
        retry_after: Option<Duration>,
    },
    /// No answer: no connection, or one that broke (a safe request).
    Transport(TransportError),
}

/// The statuses another attempt may turn into a success.
const RETRYABLE_STATUS: [u16; 5] = [429, 500, 502, 503, 504];

/// The verdict on one attempt of `call` that ended with `result`.
pub fn classify(result: Result<Response, TransportError>, call: &Attempted<'_>) -> Verdict {
    let operation = call.operation;
    match result {
        Ok(response) if response.status().is_success() => Verdict::Success(response),
        Ok(response) if RETRYABLE_STATUS.contains(&response.status().as_u16()) => {
            let retry_after = retry_after(&response);
            Verdict::Retryable(Retryable::Answer {
                response,
                retry_after,
            })
        }
        Ok(response) => Verdict::Refused(response),
        Err(e) if e.kind == TransportErrorKind::Denied => Verdict::Failed(CallError::Failed(
            NodeError::new(
                ErrorKind::InvalidSettings,
                format!(
                    "the host denied {operation} to {}: its egress policy does not allow this endpoint ({})",
                    call.authority, e.message
                ),
            )
            .with_setting(endpoint_setting(call.service)),
        )),
        Err(e) if e.kind == TransportErrorKind::TooLarge => Verdict::Failed(CallError::Unread(
            NodeError::new(
                ErrorKind::ServiceError,
                format!(
                    "the answer of {} to {operation} is larger than {} MiB ({MAX_RESPONSE_BYTES} bytes), the most the node reads; it was not read and {operation} was not retried ({})",
                    call.authority,
                    MAX_RESPONSE_BYTES >> 20,
                    e.message
                ),
            )
            .with_service(context(operation)),
        )),
        Err(e) if e.kind == TransportErrorKind::Invalid => {
            Verdict::Failed(CallError::Failed(NodeError::new(
                ErrorKind::ServiceError,
                format!("could not make the {operation} request: {}", e.message),
            )))
        }
        Err(e) if e.maybe_sent() && call.idempotency == Idempotency::Unsafe => {
            Verdict::Failed(CallError::Ambiguous(e))
        }
        Err(e) if e.kind == TransportErrorKind::Cancelled => {
            Verdict::Failed(CallError::Failed(cancelled(operation)))
        }
        Err(e) => Verdict::Retryable(Retryable::Transport(e)),
    }
}

/// The error of a call whose connection failed (`last`) on its last
/// attempt, `why` no attempt follows (the client's retry bounds).
pub fn unreachable(call: &Attempted<'_>, why: &str, last: &TransportError) -> NodeError {
    let operation = call.operation;
    let mut error = NodeError::new(
        ErrorKind::ServiceError,
        format!(
            "could not reach {} for {operation}: {why}; the last attempt failed with: {}",
            call.authority, last.message
        ),
    )
    .with_service(context(operation));
    if last.kind == TransportErrorKind::Connect {
        // No connection at all: the endpoint is the first suspect.
        let key = endpoint_setting(call.service);
        error
            .message
            .push_str(&format!("; check `{key}` and the network"));
        error = error.with_setting(key);
    }
    error
}

/// The error of a request the run's cancellation stopped; the flow adds what
/// the run leaves behind.
pub fn cancelled(operation: &str) -> NodeError {
    NodeError::new(
        ErrorKind::Cancelled,
        format!("the run was cancelled during {operation}"),
    )
}

fn context(operation: &str) -> ServiceContext {
    ServiceContext {
        operation: operation.to_owned(),
        ..Default::default()
    }
}

/// The server's `Retry-After` in whole seconds (the HTTP-date form is not read).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The setting that chooses `service`'s endpoint.
fn endpoint_setting(service: Service) -> &'static str {
    match service {
        Service::Pinpoint => "pinpoint-endpoint",
        Service::S3 => "s3-endpoint",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(idempotency: Idempotency) -> Attempted<'static> {
        Attempted {
            service: Service::Pinpoint,
            operation: "CreateImportJob",
            authority: "pinpoint.example:443".to_owned(),
            idempotency,
        }
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Result<Response, TransportError> {
        let mut builder = http::Response::builder().status(status);
        if let Some(value) = retry_after {
            builder = builder.header("retry-after", value);
        }
        Ok(builder.body(Vec::new()).unwrap())
    }

    fn failure(kind: TransportErrorKind) -> Result<Response, TransportError> {
        Err(TransportError::new(kind, "what the host said"))
    }

    #[test]
    fn success_answers_end_the_call_with_the_answer() {
        for status in [200, 201, 204] {
            match classify(answer(status, None), &call(Idempotency::Unsafe)) {
                Verdict::Success(r) => assert_eq!(r.status(), status),
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn client_errors_are_refused_and_not_retried() {
        for status in [400, 403, 404, 409, 413, 501] {
            match classify(answer(status, Some("3")), &call(Idempotency::Safe)) {
                Verdict::Refused(r) => assert_eq!(r.status(), status),
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_with_the_servers_wait() {
        for status in [429, 500, 502, 503, 504] {
            match classify(answer(status, Some(" 7 ")), &call(Idempotency::Unsafe)) {
                Verdict::Retryable(Retryable::Answer {
                    response,
                    retry_after,
                }) => {
                    assert_eq!(response.status(), status);
                    assert_eq!(retry_after, Some(Duration::from_secs(7)));
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        // A date, or nonsense, is no wait at all.
        for value in ["Wed, 21 Oct 2015 07:28:00 GMT", "soon", "-1"] {
            match classify(answer(503, Some(value)), &call(Idempotency::Safe)) {
                Verdict::Retryable(Retryable::Answer { retry_after, .. }) => {
                    assert_eq!(retry_after, None, "{value}")
                }
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn connections_that_fail_are_retryable_unless_an_unsafe_request_may_have_arrived() {
        for idempotency in [Idempotency::Safe, Idempotency::Unsafe] {
            match classify(failure(TransportErrorKind::Connect), &call(idempotency)) {
                Verdict::Retryable(Retryable::Transport(e)) => {
                    assert_eq!(e.kind, TransportErrorKind::Connect)
                }
                other => panic!("{idempotency:?}: {other:?}"),
            }
        }
        match classify(
            failure(TransportErrorKind::Broken),
            &call(Idempotency::Safe),
        ) {
            Verdict::Retryable(Retryable::Transport(e)) => {
                assert_eq!(e.kind, TransportErrorKind::Broken)
            }
            other => panic!("{other:?}"),
        }
        for kind in [TransportErrorKind::Broken, TransportErrorKind::Cancelled] {
            match classify(failure(kind), &call(Idempotency::Unsafe)) {
                Verdict::Failed(CallError::Ambiguous(e)) => assert_eq!(e.kind, kind),
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn failures_that_no_attempt_fixes_end_the_call_with_their_error() {
        let safe = call(Idempotency::Safe);
        match classify(failure(TransportErrorKind::Denied), &safe) {
            Verdict::Failed(CallError::Failed(e)) => {
                assert_eq!(e.kind, ErrorKind::InvalidSettings);
                assert_eq!(e.details.setting.as_deref(), Some("pinpoint-endpoint"));
                assert!(e.message.contains("pinpoint.example:443"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        match classify(failure(TransportErrorKind::TooLarge), &safe) {
            Verdict::Failed(CallError::Unread(e)) => {
                assert_eq!(e.kind, ErrorKind::ServiceError);
                assert_eq!(
                    e.details.service.map(|s| s.operation).as_deref(),
                    Some("CreateImportJob")
                );
            }
            other => panic!("{other:?}"),
        }
        match classify(failure(TransportErrorKind::Invalid), &safe) {
            Verdict::Failed(CallError::Failed(e)) => {
                assert_eq!(e.kind, ErrorKind::ServiceError);
                assert!(e.message.contains("what the host said"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        match classify(failure(TransportErrorKind::Cancelled), &safe) {
            Verdict::Failed(CallError::Failed(e)) => {
                assert_eq!(e.kind, ErrorKind::Cancelled);
                assert!(e.message.contains("during CreateImportJob"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_connection_never_made_points_at_the_endpoint_setting() {
        let s3 = Attempted {
            service: Service::S3,
            ..call(Idempotency::Safe)
        };
        let connect = TransportError::new(TransportErrorKind::Connect, "refused");
        let e = unreachable(&s3, "gave up", &connect);
        assert_eq!(e.details.setting.as_deref(), Some("s3-endpoint"));
        assert!(
            e.message.ends_with("check `s3-endpoint` and the network"),
            "{e:?}"
        );
        let broken = TransportError::new(TransportErrorKind::Broken, "reset");
        let e = unreachable(&s3, "gave up", &broken);
        assert_eq!(e.details.setting, None);
        assert!(
            e.message
                .contains("gave up; the last attempt failed with: reset")
        );
    }
}
