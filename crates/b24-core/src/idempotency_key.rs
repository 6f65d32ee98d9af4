//! The `Idempotency-Key` header value of REST 3.0 writes.

use std::fmt;

use crate::error::InputError;

/// A validated idempotency key: 1 to 255 printable ASCII characters.
///
/// A successful answer to a write sent with a key is stored by the portal for 24 h and
/// replayed for a repeat with the same key and body (`Idempotent-Replayed: true`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key the platform accepts.
    pub const MAX_LEN: usize = 255;

    /// Validates a key.
    pub fn new(key: impl Into<String>) -> Result<Self, InputError> {
        let key = key.into();
        if key.is_empty() || key.len() > Self::MAX_LEN {
            return Err(InputError::IdempotencyKey {
                reason: "length must be 1 to 255 characters",
            });
        }
        if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(InputError::IdempotencyKey {
                reason: "only printable ASCII characters are allowed",
            });
        }
        Ok(Self(key))
    }

    /// A key made of two 64-bit values as 32 lower-case hex characters, which are
    /// always valid (the generator's output).
    pub(crate) fn from_u64_pair(a: u64, b: u64) -> Self {
        Self(format!("{a:016x}{b:016x}"))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
