//! A run's result while the flow finishes it: the output, and what the run's
//! job made.

use super::output::ImportOutput;
use crate::aws::job_status::JobStatus;
use crate::aws::pinpoint::{ImportJob, Segment};

/// What the run's import job makes: a new segment, or a new version of
/// a segment that was there before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A new segment: the run made it, so a failed job's segment goes.
    NewSegment,
    /// A new version of an existing segment: whatever happens, the run
    /// never deletes it.
    NewVersion,
}

/// A successful run's output (its `job_status` is the job's last status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The output (its staged object and clean-up filled in as the run ends).
    pub output: ImportOutput,
}

impl Outcome {
    /// The outcome of `job`, which made `segment_id` of `segment_name` (or a
    /// new version of it, as `target` says) from `endpoints_submitted`
    /// endpoints, and did not fail. The version is filled in later.
    pub fn of_job(
        job: ImportJob,
        segment_id: String,
        segment_name: &str,
        endpoints_submitted: u64,
        target: Target,
    ) -> Outcome {
        let done = job.job_status == JobStatus::Completed;
        let failed = job.total_failures.unwrap_or(0);
        // The model has `TotalProcessed` ("were processed") and `TotalFailures`
        // ("weren't processed") apart; a count that cannot be apart (more than
        // was submitted) is read as including the failures.
        let imported = match job.total_processed {
            Some(p) if p.saturating_add(failed) > endpoints_submitted => p.saturating_sub(failed),
            Some(p) => p,
            None => endpoints_submitted.saturating_sub(failed),
        };
        Outcome {
            output: ImportOutput {
                endpoints_imported: done.then_some(imported),
                endpoints_failed: done.then_some(failed),
                failures: job.failures,
                segment_id,
                import_job_id: job.id,
                segment_name: segment_name.to_owned(),
                job_status: job.job_status,
                endpoints_submitted,
                staged_object: job.definition.s3_url.unwrap_or_default(),
                staged_object_deleted: false,
                reused_existing_segment: false,
                segment_version: None,
                created_segment: target == Target::NewSegment,
            },
        }
    }

    /// The outcome of `segment`, made from `s3_url` by a job Pinpoint no
    /// longer lists: it completed, with the segment's size as its count.
    pub fn of_segment_without_job(
        segment: Segment,
        s3_url: &str,
        segment_name: &str,
        endpoints_submitted: u64,
    ) -> Outcome {
        Outcome {
            output: ImportOutput {
                segment_version: segment.version,
                created_segment: false,
                segment_id: segment.id,
                import_job_id: String::new(),
                segment_name: segment_name.to_owned(),
                job_status: JobStatus::Completed,
                endpoints_submitted,
                endpoints_imported: segment.import_definition.and_then(|d| d.size),
                endpoints_failed: None,
                failures: Vec::new(),
                staged_object: s3_url.to_owned(),
                staged_object_deleted: false,
                reused_existing_segment: true,
            },
        }
    }

    /// Whether the import completed (not only started, as when the run does
    /// not wait).
    pub fn completed(&self) -> bool {
        self.output.job_status == JobStatus::Completed
    }
}
