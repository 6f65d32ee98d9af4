//! OAuth server bodies: the token answer and the error answer.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::secret::{AccessToken, RefreshToken};

/// The OAuth server's answer to a code exchange or a refresh.
///
/// The first code exchange has no `expires` and no `user_id`; `expires` and
/// `expires_in` may arrive as numbers or strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The new access token.
    pub access_token: AccessToken,
    /// The new refresh token: it replaces the old one, which stops working.
    pub refresh_token: RefreshToken,
    /// Unix time the access token expires.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<i64>,
    /// Lifetime of the access token in seconds (3600).
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in: Option<i64>,
    /// The portal's REST base, e.g. `https://portal.bitrix24.com/rest/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_endpoint: Option<String>,
    /// The OAuth server's REST base, e.g. `https://oauth.bitrix.info/rest/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_endpoint: Option<String>,
    /// The auth server's domain (not the portal's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The portal's member id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// Granted scopes, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The application status (e.g. `F`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The user the tokens act for.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<UserId>,
}

impl TokenResponse {
    /// A response with the two tokens and nothing else.
    pub fn new(access_token: AccessToken, refresh_token: RefreshToken) -> Self {
        Self {
            access_token,
            refresh_token,
            expires: None,
            expires_in: None,
            client_endpoint: None,
            server_endpoint: None,
            domain: None,
            member_id: None,
            scope: None,
            status: None,
            user_id: None,
        }
    }

    /// When the access token expires, given the unix time the answer arrived:
    /// `expires` when sent, else `now + expires_in`.
    pub fn expires_at(&self, received_at_unix: i64) -> Option<i64> {
        self.expires
            .or_else(|| self.expires_in.map(|s| received_at_unix.saturating_add(s)))
    }
}

/// The OAuth server's error body: `{"error","error_description"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OAuthErrorBody {
    /// `invalid_grant`, `invalid_client`, ...
    pub error: crate::ErrorCode,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}
