//! The success envelope `{"result": ..., "time": {...}}` and the result shapes in it.

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// A successful response body: `{"result": T, "time": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Envelope<T> {
    /// The method's result.
    pub result: T,
    /// Timing facts, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}

impl<T> Envelope<T> {
    /// An envelope around a result.
    pub fn new(result: T, time: Option<Time>) -> Self {
        Self { result, time }
    }
}

/// A single-object result: `{"item": T}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemResult<T> {
    /// The object.
    pub item: T,
}

impl<T> ItemResult<T> {
    /// Wraps an object.
    pub fn new(item: T) -> Self {
        Self { item }
    }
}

/// A list result: `{"items": [T]}` (no total, no next cursor in REST 3.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemsResult<T> {
    /// The page of objects.
    pub items: Vec<T>,
}

impl<T> ItemsResult<T> {
    /// Wraps a page.
    pub fn new(items: Vec<T>) -> Self {
        Self { items }
    }
}

/// A boolean outcome: `{"result": true}` (delete, send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BoolResult {
    /// The outcome.
    pub result: bool,
}

impl BoolResult {
    /// Wraps an outcome.
    pub fn new(result: bool) -> Self {
        Self { result }
    }
}
