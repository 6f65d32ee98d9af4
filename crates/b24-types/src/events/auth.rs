//! The `auth[...]` block of an event delivery.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::secret::{AccessToken, ApplicationToken, RefreshToken};

/// A portal's `member_id`: the key under which an app keeps a portal's
/// [`ApplicationToken`]. An identifier, not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(String);

impl MemberId {
    /// Wraps a member id as sent.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `auth` block of an event: who the event acts for, where the portal is, and
/// the `application_token` that proves the delivery came from the portal.
///
/// What is present depends on the sender: an OAuth app gets tokens (only when the
/// action that fired the event had a user), an outgoing webhook gets only `domain`,
/// `client_endpoint`, `server_endpoint`, `member_id` and `application_token`. Every
/// token is a secret type whose `Debug` is redacted. Unknown keys are dropped (they
/// might be tokens too), never kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventAuth {
    /// An access token for [`EventAuth::user_id`], when the event carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<AccessToken>,
    /// A refresh token: only some events send one (`ONAPPINSTALL`, bot events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// The token to compare with the one stored for [`EventAuth::member_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_token: Option<ApplicationToken>,
    /// Unix time the access token expires.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<i64>,
    /// Lifetime of the access token in seconds.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in: Option<i64>,
    /// Granted scopes, comma-separated.
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub scope: Option<String>,
    /// The portal's address (`some-domain.bitrix24.com`).
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain: Option<String>,
    /// The OAuth server's REST base.
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_endpoint: Option<String>,
    /// The portal's REST base (`https://some-domain.bitrix24.com/rest/`).
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_endpoint: Option<String>,
    /// The portal's member id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<MemberId>,
    /// The app's status on the portal (`L` local, `F` free, `D` demo, `T` trial,
    /// `P` paid).
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// The user the access token acts for.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<UserId>,
    /// The app's client id (bot events).
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_id: Option<String>,
}

impl EventAuth {
    /// An auth block with only the member id and the application token.
    pub fn new(member_id: MemberId, application_token: ApplicationToken) -> Self {
        Self {
            member_id: Some(member_id),
            application_token: Some(application_token),
            ..Self::default()
        }
    }
}
