//! Between the node crate's types and the WIT types of `wit/world.wit`: the
//! guest side's one mapping (the host has its own, in `host-test`).

use super::wit;
use crate::aws::job_status::JobStatus;
use crate::error::{ErrorKind, NodeError, Problem, ProblemKind, ServiceContext};
use crate::import::{ImportOutput, Stage, StagedFile, ValidationReport};
use crate::input::{Format, ImportInput, ImportRequest, OnExisting};

pub(super) fn from_wit_input(input: wit::ImportInput) -> ImportRequest {
    ImportRequest {
        input: ImportInput {
            application_id: input.application_id,
            segment_name: input.segment_name,
            format: match input.format {
                wit::DataFormat::Csv => Format::Csv,
                wit::DataFormat::Json => Format::Json,
            },
            data: input.data,
        },
        on_existing: match input.on_existing {
            None | Some(wit::OnExisting::Fail) => OnExisting::Fail,
            Some(wit::OnExisting::NewVersion) => OnExisting::NewVersion,
        },
    }
}

pub(super) fn to_wit_output(o: ImportOutput) -> Result<wit::ImportOutput, NodeError> {
    let job_status = to_wit_status(o.job_status)?;
    Ok(wit::ImportOutput {
        segment_id: o.segment_id,
        import_job_id: o.import_job_id,
        segment_name: o.segment_name,
        job_status,
        endpoints_submitted: o.endpoints_submitted,
        endpoints_imported: o.endpoints_imported,
        endpoints_failed: o.endpoints_failed,
        failures: o.failures,
        staged_object: o.staged_object,
        staged_object_deleted: o.staged_object_deleted,
        reused_existing_segment: o.reused_existing_segment,
        segment_version: o.segment_version,
        created_segment: o.created_segment,
    })
}

/// Pinpoint's job status as the WIT enum; a name outside Pinpoint's closed
/// set is an answer the node cannot report, so a `ServiceError`.
fn to_wit_status(status: JobStatus) -> Result<wit::JobStatus, NodeError> {
    use wit::JobStatus as W;
    Ok(match status {
        JobStatus::Created => W::Created,
        JobStatus::PreparingForInitialization => W::PreparingForInitialization,
        JobStatus::Initializing => W::Initializing,
        JobStatus::Processing => W::Processing,
        JobStatus::PendingJob => W::PendingJob,
        JobStatus::Completing => W::Completing,
        JobStatus::Completed => W::Completed,
        JobStatus::Failing => W::Failing,
        JobStatus::Failed => W::Failed,
        JobStatus::Unknown(name) => {
            return Err(NodeError::new(
                ErrorKind::ServiceError,
                format!(
                    "Pinpoint reported the import job as {:?}, which is not one of its documented states",
                    name.chars().take(64).collect::<String>()
                ),
            ));
        }
    })
}

/// A stage of the flow as the WIT enum.
#[cfg_attr(feature = "portable", allow(dead_code))]
pub(super) fn to_wit_stage(stage: Stage) -> wit::Stage {
    match stage {
        Stage::Validating => wit::Stage::Validating,
        Stage::CheckingApplication => wit::Stage::CheckingApplication,
        Stage::CheckingSegments => wit::Stage::CheckingSegments,
        Stage::Staging => wit::Stage::Staging,
        Stage::CreatingJob => wit::Stage::CreatingJob,
        Stage::WaitingForJob => wit::Stage::WaitingForJob,
        Stage::CleaningUp => wit::Stage::CleaningUp,
        Stage::Done => wit::Stage::Done,
    }
}

fn to_wit_format(format: Format) -> wit::DataFormat {
    match format {
        Format::Csv => wit::DataFormat::Csv,
        Format::Json => wit::DataFormat::Json,
    }
}

pub(super) fn to_wit_report(r: ValidationReport) -> wit::ValidationReport {
    wit::ValidationReport {
        format: to_wit_format(r.format),
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

pub(super) fn to_wit_staged(f: StagedFile) -> wit::StagedFile {
    wit::StagedFile {
        report: to_wit_report(f.report),
        data: f.data,
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

pub(super) fn to_wit_error(e: NodeError) -> wit::NodeError {
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
        staged_object: d.staged_object,
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
        ErrorKind::Cancelled => wit::NodeError::Cancelled(info),
        ErrorKind::OutOfMemory => wit::NodeError::OutOfMemory(info),
    }
}
