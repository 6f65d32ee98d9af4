//! Which of the two REST APIs a method lives in.

/// The API a method belongs to; it decides the URL prefix and the body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// REST 3.0 at `/rest/api/`: JSON body, object-shaped errors, idempotency keys.
    V3,
    /// The classic API at `/rest/`: string-shaped errors, no idempotency keys.
    Classic,
}

impl Api {
    /// The path prefix after the host: `/rest/api/` or `/rest/`.
    pub fn prefix(self) -> &'static str {
        match self {
            Api::V3 => "/rest/api/",
            Api::Classic => "/rest/",
        }
    }

    /// True when the API honours an `Idempotency-Key` header (REST 3.0 only). The
    /// request builder refuses a key for classic methods rather than send a header
    /// the portal ignores, so a caller never believes a classic write is protected.
    pub fn supports_idempotency_key(self) -> bool {
        matches!(self, Api::V3)
    }
}
