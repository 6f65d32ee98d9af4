//! The `Idempotency-Key` header value of REST 3.0 writes.

use std::fmt;

use http::HeaderValue;

use crate::error::InputError;

/// A validated idempotency key: 1 to 255 printable ASCII characters.
///
/// A successful answer to a write sent with a key is stored by the portal for 24 h and
/// replayed for a repeat with the same key and body (`Idempotent-Replayed: true`).
///
/// It is kept as the header value it is sent as, so that no attempt copies it again.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(HeaderValue);

impl IdempotencyKey {
    /// The longest key the platform accepts.
    pub const MAX_LEN: usize = 255;

    /// Validates a key.
    pub fn new(key: impl AsRef<str>) -> Result<Self, InputError> {
        let key = key.as_ref();
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
        HeaderValue::from_str(key)
            .map(Self)
            .map_err(|_| InputError::IdempotencyKey {
                reason: "only printable ASCII characters are allowed",
            })
    }

    /// A key made of two 64-bit values as 32 lower-case hex characters, which are
    /// always valid (the generator's output).
    pub(crate) fn from_u64_pair(a: u64, b: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 32];
        let digits = (u128::from(a) << 64) | u128::from(b);
        for (i, slot) in text.iter_mut().enumerate() {
            let nibble = (digits >> (124 - 4 * i)) & 0xf;
            *slot = HEX.get(nibble as usize).copied().unwrap_or(b'0');
        }
        Self(HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0")))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        // Validated printable ASCII, so always text.
        self.0.to_str().unwrap_or_default()
    }

    /// The key as the header value it is sent as.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.as_str())
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_the_pair_in_hex() {
        let key = IdempotencyKey::from_u64_pair(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        assert_eq!(key.as_str(), "0123456789abcdeffedcba9876543210");
        assert_eq!(
            IdempotencyKey::from_u64_pair(0, 1).as_str(),
            format!("{:032x}", 1)
        );
        assert_eq!(key.header_value().as_bytes(), key.as_str().as_bytes());
    }
}
