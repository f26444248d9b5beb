//! Pinpoint's import job states (`JobStatus`), a closed set.

/// The state of a Pinpoint import job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// `CREATED`: accepted, not started.
    Created,
    /// `PREPARING_FOR_INITIALIZATION`.
    PreparingForInitialization,
    /// `INITIALIZING`.
    Initializing,
    /// `PROCESSING`: importing endpoints.
    Processing,
    /// `PENDING_JOB`: waiting for capacity.
    PendingJob,
    /// `COMPLETING`.
    Completing,
    /// `COMPLETED`: finished; some endpoints may have failed.
    Completed,
    /// `FAILING`.
    Failing,
    /// `FAILED`: nothing was imported.
    Failed,
}

impl JobStatus {
    /// Every state, in the order a job goes through them.
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Created,
        JobStatus::PreparingForInitialization,
        JobStatus::Initializing,
        JobStatus::Processing,
        JobStatus::PendingJob,
        JobStatus::Completing,
        JobStatus::Completed,
        JobStatus::Failing,
        JobStatus::Failed,
    ];

    /// Pinpoint's name of the state (`COMPLETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "CREATED",
            JobStatus::PreparingForInitialization => "PREPARING_FOR_INITIALIZATION",
            JobStatus::Initializing => "INITIALIZING",
            JobStatus::Processing => "PROCESSING",
            JobStatus::PendingJob => "PENDING_JOB",
            JobStatus::Completing => "COMPLETING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failing => "FAILING",
            JobStatus::Failed => "FAILED",
        }
    }

    /// The state Pinpoint names `name`, if it is one.
    pub fn parse(name: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_none() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("completed"), None);
        assert_eq!(JobStatus::parse("ARCHIVED"), None);
    }
}
