//! The node's typed errors: one kind per case a workflow can branch on.
//!
//! Every failure the node can meet ends in a [`NodeError`]: a [`ErrorKind`]
//! (the `node-error` case in WIT, the `type` in the CLI's JSON), a message a
//! person can act on, and [`ErrorDetails`] with whatever is known (data
//! problems with their positions, the AWS operation and request id, the job).
//! No error ever carries a credential: messages are built from our own text and
//! from what AWS answered, never from request headers.

use serde::Serialize;

/// What went wrong, as a workflow branches on it.
///
/// The names are a promise to users: the CLI prints them as `error.type` and
/// the WIT `node-error` variant has one case per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorKind {
    /// The application id is not a Pinpoint project id, or no such project exists.
    InvalidApplicationId,
    /// The data is not well-formed CSV or JSON, or breaks a Pinpoint import rule.
    MalformedData,
    /// An endpoint lacks `ChannelType` or `Address` (or the CSV header lacks the column).
    MissingRequiredFields,
    /// A segment with this name already exists in the project.
    DuplicateSegmentName,
    /// A `ChannelType` value is not one of Pinpoint's channel types.
    InvalidChannelType,
    /// The data is larger than the import limit, or an endpoint than 15 KB.
    ImportSizeExceeded,
    /// AWS refused the credentials or the action (any 403, S3 `AccessDenied`).
    PermissionDenied,
    /// AWS kept throttling after the retries.
    Throttled,
    /// AWS failed or answered something unexpected.
    ServiceError,
    /// Pinpoint ran the import job and it failed.
    ImportJobFailed,
    /// The import job did not finish within the wait limit.
    TimedOut,
    /// A setting of the host is missing or invalid.
    InvalidSettings,
    /// An input field other than the application id is invalid.
    InvalidInput,
    /// The host cancelled the run; the message says what exists (an import
    /// job that keeps running, its segment, a staged file kept for it).
    Cancelled,
    /// The run needed more memory than the host allows it: not the data's
    /// size limit (that is [`ErrorKind::ImportSizeExceeded`]).
    OutOfMemory,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::InvalidApplicationId,
        ErrorKind::MalformedData,
        ErrorKind::MissingRequiredFields,
        ErrorKind::DuplicateSegmentName,
        ErrorKind::InvalidChannelType,
        ErrorKind::ImportSizeExceeded,
        ErrorKind::PermissionDenied,
        ErrorKind::Throttled,
        ErrorKind::ServiceError,
        ErrorKind::ImportJobFailed,
        ErrorKind::TimedOut,
        ErrorKind::InvalidSettings,
        ErrorKind::InvalidInput,
        ErrorKind::Cancelled,
        ErrorKind::OutOfMemory,
    ];

    /// The kind's name as users see it (`"MalformedData"`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidApplicationId => "InvalidApplicationId",
            ErrorKind::MalformedData => "MalformedData",
            ErrorKind::MissingRequiredFields => "MissingRequiredFields",
            ErrorKind::DuplicateSegmentName => "DuplicateSegmentName",
            ErrorKind::InvalidChannelType => "InvalidChannelType",
            ErrorKind::ImportSizeExceeded => "ImportSizeExceeded",
            ErrorKind::PermissionDenied => "PermissionDenied",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::ServiceError => "ServiceError",
            ErrorKind::ImportJobFailed => "ImportJobFailed",
            ErrorKind::TimedOut => "TimedOut",
            ErrorKind::InvalidSettings => "InvalidSettings",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::Cancelled => "Cancelled",
            ErrorKind::OutOfMemory => "OutOfMemory",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = ();

    /// The kind named `name` exactly as [`ErrorKind::name`] writes it.
    fn from_str(name: &str) -> Result<Self, ()> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or(())
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of one problem found in the endpoint data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ProblemKind {
    /// Not well-formed, or breaks a value or attribute rule.
    MalformedData,
    /// A required field is absent or empty.
    MissingRequiredFields,
    /// A channel type Pinpoint does not know.
    InvalidChannelType,
    /// Too large: the whole import, or one endpoint.
    ImportSizeExceeded,
}

impl ProblemKind {
    /// The error kind a report of problems of this kind becomes.
    pub fn error_kind(self) -> ErrorKind {
        match self {
            ProblemKind::MalformedData => ErrorKind::MalformedData,
            ProblemKind::MissingRequiredFields => ErrorKind::MissingRequiredFields,
            ProblemKind::InvalidChannelType => ErrorKind::InvalidChannelType,
            ProblemKind::ImportSizeExceeded => ErrorKind::ImportSizeExceeded,
        }
    }

    /// Precedence when a report mixes kinds: the error takes the kind of the
    /// highest-ranked problem present. Size comes first (nothing else matters
    /// until the data fits), then malformed data (the file cannot be read as
    /// Pinpoint would), then missing fields, then channel types.
    pub fn precedence(self) -> u8 {
        match self {
            ProblemKind::ImportSizeExceeded => 0,
            ProblemKind::MalformedData => 1,
            ProblemKind::MissingRequiredFields => 2,
            ProblemKind::InvalidChannelType => 3,
        }
    }
}

/// One problem in the endpoint data, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The endpoint's number, counting from 1; `None` for the file as a whole
    /// (an empty file, a CSV header).
    pub record: Option<u64>,
    /// The line in `data`, counting from 1, where known.
    pub line: Option<u64>,
    /// The column: the CSV field's position or the JSON character, from 1, where known.
    pub column: Option<u64>,
    /// The attribute, in Pinpoint's dot notation (`User.UserAttributes.FirstName`).
    pub field: Option<String>,
    /// What kind of problem, which decides the error's kind.
    pub kind: ProblemKind,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem of `kind` with `message` and no position yet.
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            record: None,
            line: None,
            column: None,
            field: None,
            kind,
            message: message.into(),
        }
    }
}

/// The AWS answer behind a service error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceContext {
    /// The operation (`GetApp`, `PutObject`, `CreateImportJob`...).
    pub operation: String,
    /// The HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The AWS error type or S3 error code (`NotFoundException`, `AccessDenied`).
    pub aws_error_type: Option<String>,
    /// AWS's message, as sent.
    pub aws_message: Option<String>,
    /// The request id, for AWS support.
    pub request_id: Option<String>,
}

/// What is known about an error besides its kind and message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErrorDetails {
    /// Problems found in the data, in order, at most [`MAX_REPORTED_PROBLEMS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// How many problems there were in all (more than `problems` holds when capped).
    #[serde(skip_serializing_if = "is_zero")]
    pub total_problems: u64,
    /// The AWS call that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceContext>,
    /// The setting at fault, for `InvalidSettings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// The input field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The import job, once one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_job_id: Option<String>,
    /// The segment concerned (the existing one for duplicates, the new one for job errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<String>,
    /// `s3://bucket/key` of a staged file the run left in S3 for a job that
    /// may still read it (a cancelled or timed-out run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staged_object: Option<String>,
    /// Failures Pinpoint reported for the job (its first 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// The size limit that was exceeded, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    /// The size that exceeded it, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_bytes: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The most characters of user data (an attribute name, a value, a setting)
/// that a message or problem quotes: a 5 MB name is not echoed back.
pub const MAX_QUOTED_CHARS: usize = 64;

/// The most characters a problem's `field` holds: more than the longest valid
/// dot name (`User.UserAttributes.` and 50 characters), so only invalid names
/// are ever cut.
pub const MAX_FIELD_CHARS: usize = 128;

/// The most characters one problem's message holds, whatever it quotes.
pub const MAX_PROBLEM_MESSAGE_CHARS: usize = 1024;

/// User data as a message quotes it: at most [`MAX_QUOTED_CHARS`] characters.
/// See [`quote_at_most`].
pub fn quote(text: &str) -> String {
    quote_at_most(text, MAX_QUOTED_CHARS)
}

/// `text` cut to its first `max_chars` characters (on a character boundary),
/// followed when cut by `…` and the full length (`abc… (5242880 characters)`).
/// Control characters (C0, DEL, C1: terminal escapes among them) are written
/// as `\u{1b}`, so a message never carries them.
pub fn quote_at_most(text: &str, max_chars: usize) -> String {
    let cut = text.char_indices().nth(max_chars).map(|(i, _)| i);
    let head = cut.and_then(|i| text.get(..i)).unwrap_or(text);
    let mut out = String::with_capacity(head.len() + 24);
    for c in head.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if cut.is_some() {
        out.push_str(&format!("… ({} characters)", text.chars().count()));
    }
    out
}

/// How many problems a data error lists; `total_problems` counts them all.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

/// A typed failure of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeError {
    /// The kind a workflow branches on.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    /// What happened and what to do about it.
    pub message: String,
    /// What else is known.
    #[serde(flatten)]
    pub details: Box<ErrorDetails>,
}

impl NodeError {
    /// An error of `kind` with `message` and no details.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        NodeError {
            kind,
            message: message.into(),
            details: Box::default(),
        }
    }

    /// Names the input field at fault.
    pub fn with_field(mut self, field: &str) -> Self {
        self.details.field = Some(field.to_owned());
        self
    }

    /// Names the setting at fault.
    pub fn with_setting(mut self, key: &str) -> Self {
        self.details.setting = Some(key.to_owned());
        self
    }

    /// Attaches the AWS answer.
    pub fn with_service(mut self, service: ServiceContext) -> Self {
        self.details.service = Some(service);
        self
    }

    /// A data error from every problem found, in order. The kind follows
    /// [`ProblemKind::precedence`]; the list is capped at
    /// [`MAX_REPORTED_PROBLEMS`] and `total_problems` keeps the full count.
    ///
    /// Returns `None` when there are no problems.
    pub fn from_problems(mut problems: Vec<Problem>) -> Option<Self> {
        let lead = problems
            .iter()
            .map(|p| p.kind)
            .min_by_key(|k| k.precedence())?;
        let total = problems.len() as u64;
        let first = problems.iter().find(|p| p.kind == lead)?.clone();
        problems.truncate(MAX_REPORTED_PROBLEMS);
        Some(Self::from_reported_problems(problems, total, &first))
    }

    /// The data error [`NodeError::from_problems`] makes, from what a
    /// bounded reader keeps: the first problems in order (at most
    /// [`MAX_REPORTED_PROBLEMS`] are listed), how many there were in all,
    /// and the first problem of the leading kind (which gives the error its
    /// kind and its message, wherever it is in the data).
    pub fn from_reported_problems(
        mut problems: Vec<Problem>,
        total: u64,
        first_of_lead: &Problem,
    ) -> Self {
        let first = describe_problem(first_of_lead);
        let message = if total == 1 {
            first
        } else {
            format!("{total} problems in the endpoint data; first of this kind: {first}")
        };
        problems.truncate(MAX_REPORTED_PROBLEMS);
        let mut err = NodeError::new(first_of_lead.kind.error_kind(), message);
        err.details.problems = problems;
        err.details.total_problems = total;
        err
    }
}

/// One problem as a single line: `record 3 (line 4), field Address: message`.
pub fn describe_problem(p: &Problem) -> String {
    let mut at = Vec::new();
    if let Some(r) = p.record {
        at.push(format!("record {r}"));
    }
    match (p.line, p.column) {
        (Some(l), Some(c)) => at.push(format!("line {l}, column {c}")),
        (Some(l), None) => at.push(format!("line {l}")),
        _ => {}
    }
    if let Some(f) = &p.field {
        at.push(format!("field {f}"));
    }
    if at.is_empty() {
        p.message.clone()
    } else {
        format!("{}: {}", at.join(", "), p.message)
    }
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for NodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(kind: ProblemKind, record: u64) -> Problem {
        Problem {
            record: Some(record),
            line: Some(record + 1),
            column: None,
            field: Some("Address".into()),
            kind,
            message: "bad".into(),
        }
    }

    #[test]
    fn no_problems_no_error() {
        assert!(NodeError::from_problems(vec![]).is_none());
    }

    #[test]
    fn mixed_kinds_follow_the_precedence_rule() {
        let err = NodeError::from_problems(vec![
            problem(ProblemKind::InvalidChannelType, 1),
            problem(ProblemKind::MissingRequiredFields, 2),
        ])
        .unwrap();
        assert_eq!(err.kind, ErrorKind::MissingRequiredFields);
        assert!(err.message.contains("record 2"), "{}", err.message);
        let err = NodeError::from_problems(vec![
            problem(ProblemKind::MissingRequiredFields, 1),
            problem(ProblemKind::MalformedData, 2),
            problem(ProblemKind::ImportSizeExceeded, 3),
        ])
        .unwrap();
        assert_eq!(err.kind, ErrorKind::ImportSizeExceeded);
    }

    #[test]
    fn long_reports_are_capped_but_counted() {
        let many = (1..=250)
            .map(|r| problem(ProblemKind::MalformedData, r))
            .collect();
        let err = NodeError::from_problems(many).unwrap();
        assert_eq!(err.details.problems.len(), MAX_REPORTED_PROBLEMS);
        assert_eq!(err.details.total_problems, 250);
        assert_eq!(err.details.problems[0].record, Some(1));
    }

    #[test]
    fn serializes_with_type_and_flat_details() {
        let err = NodeError::new(ErrorKind::InvalidSettings, "missing").with_setting("region");
        let v = serde_json::to_value(&err).unwrap();
        assert_eq!(v["type"], "InvalidSettings");
        assert_eq!(v["setting"], "region");
        assert!(v.get("problems").is_none());
    }

    #[test]
    fn quotes_are_short_cut_on_characters_and_free_of_controls() {
        assert_eq!(quote("plain"), "plain");
        let long = "é".repeat(100);
        let q = quote(&long);
        assert_eq!(q, format!("{}… (100 characters)", "é".repeat(64)));
        assert_eq!(quote_at_most("ab\u{1b}[31mc", 10), "ab\\u{1b}[31mc");
        assert_eq!(quote_at_most("\u{9b}x", 1), "\\u{9b}… (2 characters)");
        assert_eq!(quote(""), "");
    }

    #[test]
    fn every_kind_round_trips_through_its_distinct_name() {
        let names: std::collections::HashSet<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len(), "names are distinct");
        for k in ErrorKind::ALL {
            assert_eq!(k.name().parse::<ErrorKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!("malformeddata".parse::<ErrorKind>(), Err(()));
        // The seed's seven come first, in its order, as the README lists them.
        let seed = [
            "InvalidApplicationId",
            "MalformedData",
            "MissingRequiredFields",
            "DuplicateSegmentName",
            "InvalidChannelType",
            "ImportSizeExceeded",
            "PermissionDenied",
        ];
        let first: Vec<_> = ErrorKind::ALL.iter().take(7).map(|k| k.name()).collect();
        assert_eq!(first, seed);
    }
}
