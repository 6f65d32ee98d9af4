//! The `time` object every response carries.

use serde::{Deserialize, Serialize};

/// Timing facts of one call, as the portal reports them (all values in seconds).
///
/// The documentation warns that the composition of this object may vary, so every
/// field is optional, and numbers are accepted as integers, floats or numeric strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Time {
    /// Unix time the request started.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<f64>,
    /// Unix time the request finished.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish: Option<f64>,
    /// `finish - start`.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<f64>,
    /// Processing time.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub processing: Option<f64>,
    /// Start as an ISO-8601 date with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_start: Option<String>,
    /// Finish as an ISO-8601 date with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_finish: Option<String>,
    /// Unix time when the oldest one-minute bucket of this method's operating time expires.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub operating_reset_at: Option<f64>,
    /// Execution time (s) of this method for this app or webhook over the rolling 10 minutes.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub operating: Option<f64>,
}

impl Time {
    /// A `Time` with every field empty.
    pub fn new() -> Self {
        Self::default()
    }
}
