//! The user object (`UserDto`) returned for relations such as a result's `author`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// A portal user as REST 3.0 returns it in a relation (`author`, `responsible`, ...).
///
/// Only the fields asked for in `select` come back, so all are optional; fields this
/// version does not know are kept in [`User::extra`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The user's id.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<UserId>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role, as the portal names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Avatar (a URL or an object, as the portal sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<serde_json::Value>,
    /// Gender code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// External auth id (`externalAuthId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_auth_id: Option<String>,
    /// The caller's rights on this user, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<serde_json::Value>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl User {
    /// A user with only the id set.
    pub fn with_id(id: UserId) -> Self {
        Self {
            id: Some(id),
            ..Self::default()
        }
    }
}
