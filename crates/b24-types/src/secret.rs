//! Secret newtypes that cannot be printed by accident.
//!
//! `Debug` prints `Name([redacted])`; there is no `Display` and no `Deref`. The value
//! is reached only through `expose_secret()`, which stands out in review. Equality is
//! offered as a constant-time [`ct_eq`](AccessToken::ct_eq) method rather than
//! `PartialEq`, so a comparison does not leak the secret through timing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value. Never log or display what this returns.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Compares with another value in time independent of where they differ.
            pub fn ct_eq(&self, other: &Self) -> bool {
                constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
            }

            /// True if the value is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Serialize for $name {
            /// Serialises the value itself: only for persisting it (a token store).
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self)
            }
        }
    };
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len_diff = a.len() ^ b.len();
    let mut acc = u8::from(len_diff != 0);
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        acc |= x ^ y;
    }
    acc == 0
}

secret_type!(
    /// The secret part of an incoming webhook URL (`/rest/{user}/{secret}/`).
    WebhookSecret
);
secret_type!(
    /// An OAuth access token (lives one hour).
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (lives 180 days; rotates on every refresh).
    RefreshToken
);
secret_type!(
    /// An OAuth application's client secret (sent only to the OAuth server).
    ClientSecret
);
secret_type!(
    /// The token that proves an event delivery came from the portal
    /// (`auth[application_token]`): an OAuth app learns it from `ONAPPINSTALL`, an
    /// outgoing webhook shows it in its settings. Compare with
    /// [`ApplicationToken::ct_eq`], never with `==`.
    ApplicationToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = AccessToken::new("ydtj8pho532wydb5ixk78ol7uqlb7sch");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", WebhookSecret::new("abc123")),
            "WebhookSecret([redacted])"
        );
        assert_eq!(
            format!("{:#?}", ClientSecret::new("s")),
            "ClientSecret([redacted])"
        );
        assert_eq!(t.expose_secret(), "ydtj8pho532wydb5ixk78ol7uqlb7sch");
    }

    #[test]
    fn ct_eq_compares_values() {
        assert!(RefreshToken::new("abc").ct_eq(&RefreshToken::new("abc")));
        assert!(!RefreshToken::new("abc").ct_eq(&RefreshToken::new("abd")));
        assert!(!RefreshToken::new("abc").ct_eq(&RefreshToken::new("abcd")));
        assert!(!RefreshToken::new("").ct_eq(&RefreshToken::new("a")));
    }
}
