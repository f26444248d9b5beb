//! Operations the emulator knows and the faults that tests can queue for them.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

/// An operation of either emulated service, as recognised from a request.
///
/// Faults are queued per operation, and every recorded request names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Pinpoint `GET /v1/apps/{id}`.
    GetApp,
    /// Pinpoint `GET /v1/apps/{id}/segments`.
    GetSegments,
    /// Pinpoint `GET /v1/apps/{id}/segments/{segment}`.
    GetSegment,
    /// Pinpoint `DELETE /v1/apps/{id}/segments/{segment}`.
    DeleteSegment,
    /// Pinpoint `GET /v1/apps/{id}/segments/{segment}/versions`.
    GetSegmentVersions,
    /// Pinpoint `GET /v1/apps/{id}/segments/{segment}/versions/{version}`.
    GetSegmentVersion,
    /// Pinpoint `POST /v1/apps/{id}/jobs/import`.
    CreateImportJob,
    /// Pinpoint `GET /v1/apps/{id}/jobs/import/{job}`.
    GetImportJob,
    /// Pinpoint `GET /v1/apps/{id}/jobs/import`.
    GetImportJobs,
    /// Pinpoint `GET /v1/apps/{id}/segments/{segment}/jobs/import`.
    GetSegmentImportJobs,
    /// A Pinpoint request that matches no operation (answered 404 or 405).
    UnknownPinpoint,
    /// S3 `GET /`.
    ListBuckets,
    /// S3 `PUT /{bucket}`.
    CreateBucket,
    /// S3 `DELETE /{bucket}`.
    DeleteBucket,
    /// S3 `HEAD /{bucket}`.
    HeadBucket,
    /// S3 `GET /{bucket}` (version 1 listing).
    ListObjects,
    /// S3 `GET /{bucket}?list-type=2`.
    ListObjectsV2,
    /// S3 `POST /{bucket}?delete`.
    DeleteObjects,
    /// S3 `PUT /{bucket}/{key}`.
    PutObject,
    /// S3 `PUT /{bucket}/{key}` with `x-amz-copy-source`.
    CopyObject,
    /// S3 `GET /{bucket}/{key}`.
    GetObject,
    /// S3 `HEAD /{bucket}/{key}`.
    HeadObject,
    /// S3 `DELETE /{bucket}/{key}`.
    DeleteObject,
    /// S3 `POST /{bucket}/{key}?uploads`.
    CreateMultipartUpload,
    /// S3 `PUT /{bucket}/{key}?partNumber=&uploadId=`.
    UploadPart,
    /// S3 `POST /{bucket}/{key}?uploadId=`.
    CompleteMultipartUpload,
    /// S3 `DELETE /{bucket}/{key}?uploadId=`.
    AbortMultipartUpload,
    /// Any other S3 request (handed to s3s as is).
    OtherS3,
}

impl Operation {
    /// The AWS name of the operation (`"GetApp"`, `"PutObject"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::GetApp => "GetApp",
            Operation::GetSegments => "GetSegments",
            Operation::GetSegment => "GetSegment",
            Operation::DeleteSegment => "DeleteSegment",
            Operation::GetSegmentVersions => "GetSegmentVersions",
            Operation::GetSegmentVersion => "GetSegmentVersion",
            Operation::CreateImportJob => "CreateImportJob",
            Operation::GetImportJob => "GetImportJob",
            Operation::GetImportJobs => "GetImportJobs",
            Operation::GetSegmentImportJobs => "GetSegmentImportJobs",
            Operation::UnknownPinpoint => "UnknownPinpoint",
            Operation::ListBuckets => "ListBuckets",
            Operation::CreateBucket => "CreateBucket",
            Operation::DeleteBucket => "DeleteBucket",
            Operation::HeadBucket => "HeadBucket",
            Operation::ListObjects => "ListObjects",
            Operation::ListObjectsV2 => "ListObjectsV2",
            Operation::DeleteObjects => "DeleteObjects",
            Operation::PutObject => "PutObject",
            Operation::CopyObject => "CopyObject",
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::DeleteObject => "DeleteObject",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::OtherS3 => "OtherS3",
        }
    }

    /// Whether the operation belongs to the emulated S3 (as opposed to Pinpoint).
    pub fn is_s3(self) -> bool {
        !matches!(
            self,
            Operation::GetApp
                | Operation::GetSegments
                | Operation::GetSegment
                | Operation::DeleteSegment
                | Operation::GetSegmentVersions
                | Operation::GetSegmentVersion
                | Operation::CreateImportJob
                | Operation::GetImportJob
                | Operation::GetImportJobs
                | Operation::GetSegmentImportJobs
                | Operation::UnknownPinpoint
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Operation {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A fault to inject into the next request of one operation.
///
/// Faults are queued per [`Operation`] and consumed in order, one per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and AWS error instead of doing the work. Pinpoint answers
    /// with `x-amzn-ErrorType: {error_type}` and a JSON body; S3 with an XML `<Error>` whose
    /// `<Code>` is `error_type`.
    Status {
        /// HTTP status code, e.g. 429 or 503.
        status: u16,
        /// AWS error type / code, e.g. `TooManyRequestsException` or `SlowDown`.
        error_type: String,
        /// Human-readable message.
        message: String,
    },
    /// Wait this long, then process the request normally.
    Delay(Duration),
    /// Process the request at once, then wait this long before answering: the answer
    /// shows the state when the request arrived, and what the request did is visible
    /// to other requests meanwhile (as when an answer is slow on its way back). Holding
    /// the answers to many clients' first listing makes them all act on the same view.
    DelayAnswer(Duration),
    /// Make an import job fail with these failures. On `CreateImportJob`: the job is
    /// created normally and fails (FAILING, then FAILED) when it reaches the processing
    /// step. On `GetImportJob`: the polled job (unless already finished) is answered as
    /// FAILING, and is FAILED on the next poll. Ignored for other operations (the fault
    /// is still consumed).
    FailJob {
        /// The job's `Failures` strings.
        failures: Vec<String>,
    },
    /// Close the connection (TCP reset) without answering and without doing the work.
    ResetBeforeProcessing,
    /// Do the work (e.g. store the object, create the job), then close the connection
    /// (TCP reset) without answering.
    ResetAfterProcessing,
    /// Answer 200 with a body of this many bytes (spaces) instead of doing the work:
    /// a careless server whose answer is larger than any client should read.
    OversizedAnswer(usize),
}

impl Fault {
    /// A 429 `TooManyRequestsException` (Pinpoint's throttling error).
    pub fn throttled() -> Fault {
        Fault::Status {
            status: 429,
            error_type: "TooManyRequestsException".into(),
            message: "Too many requests".into(),
        }
    }

    /// A 500 `InternalServerErrorException`.
    pub fn internal_error() -> Fault {
        Fault::Status {
            status: 500,
            error_type: "InternalServerErrorException".into(),
            message: "Internal server error".into(),
        }
    }

    /// A 503 `ServiceUnavailable` (S3 uses `SlowDown` for throttling with 503).
    pub fn unavailable() -> Fault {
        Fault::Status {
            status: 503,
            error_type: "ServiceUnavailable".into(),
            message: "Service is unable to handle request.".into(),
        }
    }

    /// Any status with an AWS error type and message.
    pub fn status(status: u16, error_type: &str, message: &str) -> Fault {
        Fault::Status {
            status,
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// Per-operation FIFO queues of faults.
#[derive(Debug, Default)]
pub(crate) struct FaultQueues {
    queues: HashMap<Operation, VecDeque<Fault>>,
}

impl FaultQueues {
    /// Appends a fault to the operation's queue.
    pub(crate) fn push(&mut self, op: Operation, fault: Fault) {
        self.queues.entry(op).or_default().push_back(fault);
    }

    /// Takes the next fault for the operation, if any.
    pub(crate) fn pop(&mut self, op: Operation) -> Option<Fault> {
        self.queues.get_mut(&op).and_then(VecDeque::pop_front)
    }

    /// Number of faults still queued for the operation.
    pub(crate) fn pending(&self, op: Operation) -> usize {
        self.queues.get(&op).map_or(0, VecDeque::len)
    }

    /// Drops every queued fault.
    pub(crate) fn clear(&mut self) {
        self.queues.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_per_operation() {
        let mut q = FaultQueues::default();
        q.push(Operation::GetApp, Fault::throttled());
        q.push(Operation::GetApp, Fault::internal_error());
        q.push(Operation::PutObject, Fault::ResetBeforeProcessing);
        assert_eq!(q.pending(Operation::GetApp), 2);
        assert_eq!(q.pop(Operation::GetApp), Some(Fault::throttled()));
        assert_eq!(q.pop(Operation::GetApp), Some(Fault::internal_error()));
        assert_eq!(q.pop(Operation::GetApp), None);
        assert_eq!(
            q.pop(Operation::PutObject),
            Some(Fault::ResetBeforeProcessing)
        );
        assert!(Operation::PutObject.is_s3());
        assert!(!Operation::GetImportJob.is_s3());
    }
}
