//! `ONAPPINSTALL` and `ONAPPUNINSTALL` payloads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::slot::Flag;

/// The data of `ONAPPINSTALL`: `{VERSION, ACTIVE, INSTALLED, LANGUAGE_ID}`.
///
/// Its `auth[application_token]` is the token every later event of this portal
/// carries: store it under the portal's `member_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppInstallData {
    /// The installed version of the app.
    #[serde(
        rename = "VERSION",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
    /// Whether the app is active (`Y`/`N`).
    #[serde(rename = "ACTIVE", default, skip_serializing_if = "Option::is_none")]
    pub active: Option<Flag>,
    /// Whether the installation has finished (`Y`/`N`).
    #[serde(rename = "INSTALLED", default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<Flag>,
    /// The portal's language (`en`, `de`, ...).
    #[serde(
        rename = "LANGUAGE_ID",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub language_id: Option<String>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The data of `ONAPPUNINSTALL`: `{LANGUAGE_ID, CLEAN}`.
///
/// After it, the app's tokens no longer work on the portal; forget its stored
/// application token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppUninstallData {
    /// The portal's language.
    #[serde(
        rename = "LANGUAGE_ID",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub language_id: Option<String>,
    /// Whether the user asked to clear the app's data (`1`/`0`).
    #[serde(
        rename = "CLEAN",
        default,
        deserialize_with = "super::wire::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub clean: Option<bool>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}
