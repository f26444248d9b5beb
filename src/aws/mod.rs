//! AWS on the wire: SigV4 signing, where requests go, the S3 and Pinpoint
//! requests the node makes, and how their answers and errors are read.

pub mod errors;
pub mod job_status;
pub mod pinpoint;
pub mod s3;
pub mod sign;
pub mod urls;

/// A request ready to sign and send: the body is always in memory.
pub type Request = http::Request<Vec<u8>>;
/// An answer: status, headers and the whole body.
pub type Response = http::Response<Vec<u8>>;
