//! Random-looking tokens for secrets, tokens and member ids.
//!
//! Made from std's randomly keyed SipHash (`RandomState`), a counter and the time:
//! unpredictable enough for a local test server, with no extra dependency. Not meant
//! to protect anything real.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.finish()
}

/// `len` characters of `[a-z0-9]`, like Bitrix24's tokens and webhook codes.
pub(crate) fn token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut bits = next_u64();
    let mut left = 10;
    while out.len() < len {
        if left == 0 {
            bits = next_u64();
            left = 10;
        }
        let idx = (bits % 36) as usize;
        bits /= 36;
        left -= 1;
        if let Some(c) = ALPHABET.get(idx) {
            out.push(char::from(*c));
        }
    }
    out
}

/// `len` lowercase hex characters.
pub(crate) fn hex(len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(&format!("{:016x}", next_u64()));
    }
    out.truncate(len);
    out
}
