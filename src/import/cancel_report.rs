//! A cancelled run's error, saying what the run leaves behind: read from
//! its [`RunState`].

use super::run_state::RunState;
use crate::error::NodeError;

/// `err` (a `Cancelled` error) with what the run leaves behind in `state`
/// appended to its message and named in its details: a job that keeps
/// running (with its segment and the staged object it reads), a staged
/// object that could not be deleted, or nothing.
pub fn cancelled(state: &RunState, mut err: NodeError) -> NodeError {
    let rerun = "run again with the same input to wait for it and clean up";
    let left = match state {
        RunState::JobRunning {
            object,
            job,
            segment,
        } => {
            err.details.import_job_id = Some(job.clone());
            err.details.segment_id = Some(segment.clone());
            err.details.staged_object = Some(object.clone());
            format!(
                "import job {job} keeps running in Pinpoint and makes segment {segment}; the staged file {object} is kept for it: {rerun}"
            )
        }
        RunState::JobMayRun { object } => {
            err.details.staged_object = Some(object.clone());
            format!(
                "an import job of this file may be running (CreateImportJob may have reached Pinpoint), so the staged file {object} is kept for it: {rerun}"
            )
        }
        RunState::JobEnded { job, segment } => {
            err.details.import_job_id = Some(job.clone());
            err.details.segment_id = Some(segment.clone());
            format!(
                "import job {job} had ended (segment {segment}): run again with the same input for its result"
            )
        }
        RunState::NothingMade => "nothing was created in AWS".to_owned(),
        RunState::ObjectDeleted { object } => format!(
            "no import job was created and the staged file {object} was deleted: nothing is left"
        ),
        RunState::ObjectStaged { object } => {
            err.details.staged_object = Some(object.clone());
            format!(
                "no import job was created; the staged file {object} is kept (`delete-staged-object` is false)"
            )
        }
        RunState::ObjectLeft { object, why } => {
            err.details.staged_object = Some(object.clone());
            format!(
                "no import job was created, but the staged file {object} could not be deleted ({why}): delete it, or run again with the same input"
            )
        }
    };
    err.message = format!("{}; {left}", err.message);
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn report(state: RunState) -> NodeError {
        cancelled(
            &state,
            NodeError::new(ErrorKind::Cancelled, "cancelled during X"),
        )
    }

    #[test]
    fn each_state_names_what_it_leaves_and_only_that() {
        let object = || "s3://b/k".to_owned();
        let (job, segment) = (|| "j1".to_owned(), || "s1".to_owned());
        // (state, message part, job named, object named)
        let cases = [
            (RunState::NothingMade, "nothing was created", false, false),
            (
                RunState::ObjectStaged { object: object() },
                "is kept (`delete-staged-object` is false)",
                false,
                true,
            ),
            (
                RunState::ObjectDeleted { object: object() },
                "nothing is left",
                false,
                false,
            ),
            (
                RunState::ObjectLeft {
                    object: object(),
                    why: "503 SlowDown".into(),
                },
                "could not be deleted (503 SlowDown)",
                false,
                true,
            ),
            (
                RunState::JobMayRun { object: object() },
                "may be running",
                false,
                true,
            ),
            (
                RunState::JobRunning {
                    object: object(),
                    job: job(),
                    segment: segment(),
                },
                "import job j1 keeps running in Pinpoint and makes segment s1",
                true,
                true,
            ),
            (
                RunState::JobEnded {
                    job: job(),
                    segment: segment(),
                },
                "import job j1 had ended (segment s1)",
                true,
                false,
            ),
        ];
        for (state, part, names_job, names_object) in cases {
            let err = report(state.clone());
            assert!(err.message.starts_with("cancelled during X; "), "{err:?}");
            assert!(err.message.contains(part), "{state:?}: {err:?}");
            assert_eq!(err.details.import_job_id.is_some(), names_job, "{state:?}");
            assert_eq!(err.details.segment_id.is_some(), names_job, "{state:?}");
            assert_eq!(
                err.details.staged_object.as_deref(),
                names_object.then_some("s3://b/k"),
                "{state:?}"
            );
        }
    }
}
