//! Pinpoint's import job states (`JobStatus`): the documented set, and the
//! raw name of any other, read once where an answer is parsed.

use serde::{Deserialize, Serialize, Serializer};

/// The state of a Pinpoint import job.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
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
    /// A name Pinpoint does not document (empty when the answer gave none),
    /// as it was answered: the job is taken as not ended, and the name is
    /// quoted in messages.
    Unknown(String),
}

impl JobStatus {
    /// Every documented state, in the order a job goes through them.
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

    /// Pinpoint's name of the state (`COMPLETED`), or the unknown name as
    /// answered.
    pub fn as_str(&self) -> &str {
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
            JobStatus::Unknown(name) => name,
        }
    }

    /// The documented state Pinpoint names `name`, if it is one.
    pub fn parse(name: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state `name` names: a documented one, else [`JobStatus::Unknown`].
    pub fn read(name: String) -> JobStatus {
        JobStatus::parse(&name).unwrap_or(JobStatus::Unknown(name))
    }

    /// Whether the job has finished, one way or the other (`COMPLETED` or
    /// `FAILED`); an unknown state has not.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

impl From<String> for JobStatus {
    fn from(name: String) -> Self {
        JobStatus::read(name)
    }
}

/// What a job's answer without a `JobStatus` reads as: unknown, not ended.
impl Default for JobStatus {
    fn default() -> Self {
        JobStatus::Unknown(String::new())
    }
}

impl Serialize for JobStatus {
    /// As Pinpoint names it (`"COMPLETED"`): the CLI's and MCP's `job_status`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
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

    #[test]
    fn an_unknown_name_is_kept_as_answered_and_not_ended() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::read(status.as_str().to_owned()), status);
        }
        let unknown = JobStatus::read("ARCHIVED".to_owned());
        assert_eq!(unknown, JobStatus::Unknown("ARCHIVED".to_owned()));
        assert_eq!(unknown.to_string(), "ARCHIVED");
        assert!(!unknown.is_terminal());
        let read: JobStatus = serde_json::from_str(r#""COMPLETED""#).unwrap();
        assert_eq!(read, JobStatus::Completed);
        assert!(read.is_terminal() && JobStatus::Failed.is_terminal());
        assert!(!JobStatus::default().is_terminal());
    }
}
