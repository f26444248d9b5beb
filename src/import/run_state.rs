//! What a run has made in AWS so far, as one state that each step of the
//! flow moves on: what a cancelled run reports it leaves behind
//! (the cancellation report), and whether a job may still read an object.

/// What the run has made in AWS, and what may still use it. Objects are
/// named by their `s3://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Nothing was sent that makes anything in AWS.
    NothingMade,
    /// The run's own object was sent (or was on its way), so it may exist;
    /// no import job reads it. At the end of a run, kept because
    /// `delete-staged-object` is false.
    ObjectStaged {
        /// The object.
        object: String,
    },
    /// The run's own object was deleted again, and no import job was made.
    ObjectDeleted {
        /// The object.
        object: String,
    },
    /// The run's own object could not be deleted, and no import job was made.
    ObjectLeft {
        /// The object.
        object: String,
        /// Why it could not be deleted.
        why: String,
    },
    /// An import job that reads `object` may exist and may not have ended:
    /// `CreateImportJob` may have reached Pinpoint, or a segment made from
    /// `object` is being resumed and its job is not known yet.
    JobMayRun {
        /// The object the job reads.
        object: String,
    },
    /// The import job is known and has not been seen to end: it reads
    /// `object` and makes `segment`.
    JobRunning {
        /// The object the job reads.
        object: String,
        /// The job's id.
        job: String,
        /// The segment it makes.
        segment: String,
    },
    /// The import job has ended (made `segment`, or failed to).
    JobEnded {
        /// The job's id.
        job: String,
        /// Its segment.
        segment: String,
    },
}

impl RunState {
    /// Whether an import job may still be reading the object being
    /// finished, so it must stay.
    pub fn job_may_run(&self) -> bool {
        matches!(
            self,
            RunState::JobMayRun { .. } | RunState::JobRunning { .. }
        )
    }

    /// The run's own `object` is on its way to S3.
    pub fn object_sent(&mut self, object: &str) {
        *self = RunState::ObjectStaged {
            object: object.to_owned(),
        };
    }

    /// `CreateImportJob` for `object` was sent: Pinpoint may have made the
    /// job (`may_exist`), or it clearly refused it and only the object is.
    pub fn create_sent(&mut self, object: &str, may_exist: bool) {
        let object = object.to_owned();
        *self = if may_exist {
            RunState::JobMayRun { object }
        } else {
            RunState::ObjectStaged { object }
        };
    }

    /// A segment made from `object` is resumed: until its job is found, the
    /// job may be running.
    pub fn resuming(&mut self, object: &str) {
        *self = RunState::JobMayRun {
            object: object.to_owned(),
        };
    }

    /// The job `job` that reads `object` and makes `segment` is known;
    /// `ended` when it was seen to end.
    pub fn job_known(&mut self, object: &str, job: &str, segment: &str, ended: bool) {
        let (job, segment) = (job.to_owned(), segment.to_owned());
        *self = if ended {
            RunState::JobEnded { job, segment }
        } else {
            RunState::JobRunning {
                object: object.to_owned(),
                job,
                segment,
            }
        };
    }

    /// The known job was seen to end.
    pub fn job_ended(&mut self) {
        if let RunState::JobRunning { job, segment, .. } = self {
            *self = RunState::JobEnded {
                job: std::mem::take(job),
                segment: std::mem::take(segment),
            };
        }
    }

    /// What deleting the run's own object came to: `Ok(true)` deleted,
    /// `Ok(false)` kept by the settings, `Err` why it could not be. Only a
    /// run with no job changes: a job's state is what it reports.
    pub fn object_cleaned(&mut self, outcome: &Result<bool, String>) {
        let RunState::ObjectStaged { object } = self else {
            return;
        };
        let object = std::mem::take(object);
        *self = match outcome {
            Ok(true) => RunState::ObjectDeleted { object },
            Ok(false) => RunState::ObjectStaged { object },
            Err(why) => RunState::ObjectLeft {
                object,
                why: why.clone(),
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_may_run_from_its_create_until_it_is_seen_to_end() {
        let mut state = RunState::NothingMade;
        assert!(!state.job_may_run());
        state.object_sent("s3://b/k");
        assert!(!state.job_may_run());
        state.create_sent("s3://b/k", true);
        assert!(state.job_may_run());
        state.job_known("s3://b/k", "j", "s", false);
        assert!(state.job_may_run());
        state.job_ended();
        assert_eq!(
            state,
            RunState::JobEnded {
                job: "j".into(),
                segment: "s".into()
            }
        );
        assert!(!state.job_may_run());
        // Cleaning the object up does not hide the job.
        state.object_cleaned(&Ok(true));
        assert!(matches!(state, RunState::JobEnded { .. }));
    }

    #[test]
    fn a_refused_create_leaves_only_the_object_and_its_clean_up_is_recorded() {
        let mut state = RunState::NothingMade;
        state.object_sent("s3://b/k");
        state.create_sent("s3://b/k", false);
        assert_eq!(
            state,
            RunState::ObjectStaged {
                object: "s3://b/k".into()
            }
        );
        let mut kept = state.clone();
        kept.object_cleaned(&Ok(false));
        assert_eq!(kept, state);
        let mut left = state.clone();
        left.object_cleaned(&Err("503".into()));
        assert_eq!(
            left,
            RunState::ObjectLeft {
                object: "s3://b/k".into(),
                why: "503".into()
            }
        );
        state.object_cleaned(&Ok(true));
        assert_eq!(
            state,
            RunState::ObjectDeleted {
                object: "s3://b/k".into()
            }
        );
    }
}
