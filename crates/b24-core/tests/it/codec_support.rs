//! Helpers shared by the codec tests.

use b24_core::bytes::Bytes;
use b24_core::http::{self, HeaderMap, HeaderValue, StatusCode};
use b24_core::types::AccessToken;
use b24_core::Portal;
use serde_json::Value;

/// A secret distinctive enough that any leak is found by a substring search.
pub const SECRET: &str = "Zq9xLeakCanary7w";
/// A distinctive access token.
pub const TOKEN: &str = "tok3nLeakCanary42xyz";

pub fn webhook() -> Portal {
    Portal::webhook(&format!("https://example.bitrix24.com/rest/1/{SECRET}/")).unwrap()
}

pub fn oauth() -> Portal {
    Portal::oauth("https://example.bitrix24.com").unwrap()
}

pub fn token() -> AccessToken {
    AccessToken::new(TOKEN)
}

pub fn response(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

pub fn replayed_response(status: u16, body: &str) -> http::Response<Bytes> {
    let mut r = response(status, body);
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

pub fn body_json(req: &http::Request<Bytes>) -> Value {
    serde_json::from_slice(req.body()).unwrap()
}

pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

pub fn no_headers() -> HeaderMap {
    HeaderMap::new()
}

pub fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}
