//! The one error type of the benchmarks: what failed, in words.

use std::fmt;

/// A benchmark could not run or produced an answer it did not expect.
///
/// The message names the step and the underlying error. None of the errors it wraps
/// carries a webhook secret or a token (the b24 crates never put them in errors).
#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct BenchError {
    context: &'static str,
    message: String,
}

impl BenchError {
    /// An error of step `context` caused by `cause`.
    pub fn new(context: &'static str, cause: impl fmt::Display) -> Self {
        Self {
            context,
            message: cause.to_string(),
        }
    }
}

/// Adds the step's name to any displayable error.
pub(crate) trait Context<T> {
    /// Maps the error into a [`BenchError`] of step `context`.
    fn context(self, context: &'static str) -> Result<T, BenchError>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, context: &'static str) -> Result<T, BenchError> {
        self.map_err(|e| BenchError::new(context, e))
    }
}
