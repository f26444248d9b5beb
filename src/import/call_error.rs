//! How a call to AWS can fail, as the flow sees it once any error answer is
//! mapped to its node error.

use super::host::TransportError;
use crate::error::{ErrorKind, NodeError};

/// Why a call did not return a success answer.
#[derive(Debug)]
pub enum CallError {
    /// The node error to report: AWS's error answer (after retries where
    /// they apply), mapped, or a failure with no answer.
    Failed(NodeError),
    /// An unsafe request may have reached the server; the caller must check.
    Ambiguous(TransportError),
    /// The server answered, too much to read
    /// ([`super::host::MAX_RESPONSE_BYTES`]): the request may have taken
    /// effect. The node error to report.
    Unread(NodeError),
}

impl CallError {
    /// The node error of a failed call of `operation`, for callers with
    /// nothing to check.
    pub fn into_node_error(self, operation: &str) -> NodeError {
        match self {
            CallError::Failed(n) | CallError::Unread(n) => n,
            CallError::Ambiguous(t) => NodeError::new(
                ErrorKind::ServiceError,
                format!("the connection broke during {operation}: {}", t.message),
            ),
        }
    }
}
