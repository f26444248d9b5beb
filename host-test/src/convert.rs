//! Between the component's WIT types and the node crate's Rust types (which
//! serialise to the CLI's JSON contract).

use pinpoint_segment_import::aws::job_status::JobStatus;
use pinpoint_segment_import::error::{
    ErrorDetails, ErrorKind, NodeError, Problem, ProblemKind, ServiceContext,
};
use pinpoint_segment_import::import::{ImportOutput, Stage, StagedFile, ValidationReport};
use pinpoint_segment_import::input::{Format, ImportRequest, OnExisting};

use crate::bindings::wit;

/// The input as the component takes it, without copying the data.
pub fn into_wit_input(request: ImportRequest) -> wit::ImportInput {
    let ImportRequest { input, on_existing } = request;
    wit::ImportInput {
        application_id: input.application_id,
        segment_name: input.segment_name,
        format: match input.format {
            Format::Csv => wit::DataFormat::Csv,
            Format::Json => wit::DataFormat::Json,
        },
        data: input.data,
        on_existing: Some(match on_existing {
            OnExisting::Fail => wit::OnExisting::Fail,
            OnExisting::NewVersion => wit::OnExisting::NewVersion,
        }),
    }
}

/// The component's output.
pub fn from_wit_output(o: wit::ImportOutput) -> ImportOutput {
    ImportOutput {
        segment_id: o.segment_id,
        import_job_id: o.import_job_id,
        segment_name: o.segment_name,
        job_status: from_wit_status(o.job_status),
        endpoints_submitted: o.endpoints_submitted,
        endpoints_imported: o.endpoints_imported,
        endpoints_failed: o.endpoints_failed,
        failures: o.failures,
        staged_object: o.staged_object,
        staged_object_deleted: o.staged_object_deleted,
        reused_existing_segment: o.reused_existing_segment,
        segment_version: o.segment_version,
        created_segment: o.created_segment,
    }
}

fn from_wit_format(format: wit::DataFormat) -> Format {
    match format {
        wit::DataFormat::Csv => Format::Csv,
        wit::DataFormat::Json => Format::Json,
    }
}

/// The file the component would stage.
pub fn from_wit_staged(f: wit::StagedFile) -> StagedFile {
    StagedFile {
        report: from_wit_report(f.report),
        data: f.data,
    }
}

/// The component's validation report.
pub fn from_wit_report(r: wit::ValidationReport) -> ValidationReport {
    ValidationReport {
        format: from_wit_format(r.format),
        endpoint_count: r.endpoint_count,
        channel_counts: r
            .channel_counts
            .into_iter()
            .map(|c| (c.channel, c.count))
            .collect(),
        bytes_to_stage: r.bytes_to_stage,
        max_import_bytes: r.max_import_bytes,
    }
}

/// The component's typed error.
pub fn from_wit_error(e: wit::NodeError) -> NodeError {
    use wit::NodeError as W;
    let (kind, info) = match e {
        W::InvalidApplicationId(i) => (ErrorKind::InvalidApplicationId, i),
        W::MalformedData(i) => (ErrorKind::MalformedData, i),
        W::MissingRequiredFields(i) => (ErrorKind::MissingRequiredFields, i),
        W::DuplicateSegmentName(i) => (ErrorKind::DuplicateSegmentName, i),
        W::InvalidChannelType(i) => (ErrorKind::InvalidChannelType, i),
        W::ImportSizeExceeded(i) => (ErrorKind::ImportSizeExceeded, i),
        W::PermissionDenied(i) => (ErrorKind::PermissionDenied, i),
        W::Throttled(i) => (ErrorKind::Throttled, i),
        W::ServiceError(i) => (ErrorKind::ServiceError, i),
        W::ImportJobFailed(i) => (ErrorKind::ImportJobFailed, i),
        W::TimedOut(i) => (ErrorKind::TimedOut, i),
        W::InvalidSettings(i) => (ErrorKind::InvalidSettings, i),
        W::InvalidInput(i) => (ErrorKind::InvalidInput, i),
        W::Cancelled(i) => (ErrorKind::Cancelled, i),
        W::OutOfMemory(i) => (ErrorKind::OutOfMemory, i),
    };
    NodeError {
        kind,
        message: info.message,
        details: Box::new(ErrorDetails {
            problems: info.problems.into_iter().map(from_wit_problem).collect(),
            total_problems: info.total_problems,
            service: info.service.map(|s| ServiceContext {
                operation: s.operation,
                http_status: s.http_status,
                aws_error_type: s.aws_error_type,
                aws_message: s.aws_message,
                request_id: s.request_id,
            }),
            setting: info.setting,
            field: info.field,
            import_job_id: info.import_job_id,
            segment_id: info.segment_id,
            staged_object: info.staged_object,
            failures: info.failures,
            limit_bytes: info.limit_bytes,
            actual_bytes: info.actual_bytes,
        }),
    }
}

fn from_wit_problem(p: wit::Problem) -> Problem {
    Problem {
        record: p.record_number,
        line: p.line,
        column: p.column,
        field: p.field,
        kind: match p.kind {
            wit::ProblemKind::MalformedData => ProblemKind::MalformedData,
            wit::ProblemKind::MissingRequiredFields => ProblemKind::MissingRequiredFields,
            wit::ProblemKind::InvalidChannelType => ProblemKind::InvalidChannelType,
            wit::ProblemKind::ImportSizeExceeded => ProblemKind::ImportSizeExceeded,
        },
        message: p.message,
    }
}

/// The job status the component reported, by Pinpoint's name.
pub fn from_wit_status(s: wit::JobStatus) -> JobStatus {
    use wit::JobStatus as W;
    match s {
        W::Created => JobStatus::Created,
        W::PreparingForInitialization => JobStatus::PreparingForInitialization,
        W::Initializing => JobStatus::Initializing,
        W::Processing => JobStatus::Processing,
        W::PendingJob => JobStatus::PendingJob,
        W::Completing => JobStatus::Completing,
        W::Completed => JobStatus::Completed,
        W::Failing => JobStatus::Failing,
        W::Failed => JobStatus::Failed,
    }
}

/// A stage the component reported progress of.
pub fn from_wit_stage(s: wit::Stage) -> Stage {
    match s {
        wit::Stage::Validating => Stage::Validating,
        wit::Stage::CheckingApplication => Stage::CheckingApplication,
        wit::Stage::CheckingSegments => Stage::CheckingSegments,
        wit::Stage::Staging => Stage::Staging,
        wit::Stage::CreatingJob => Stage::CreatingJob,
        wit::Stage::WaitingForJob => Stage::WaitingForJob,
        wit::Stage::CleaningUp => Stage::CleaningUp,
        wit::Stage::Done => Stage::Done,
    }
}
