//! Shared helpers: an emulator on a frozen clock and request shortcuts.

use b24_emulator::{EmulatedPortal, Emulator, ManualClock, PortalConfig};
use bytes::Bytes;
use http::{HeaderMap, Request};
use serde_json::Value;

pub const START: f64 = 1_777_529_700.0;

pub struct Harness {
    pub emu: Emulator,
    pub clock: ManualClock,
    pub portal: EmulatedPortal,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts a REST 3.0 error: status, code and (field, message) validation items.
    #[track_caller]
    pub fn assert_v3_error(&self, status: u16, code: &str, items: &[(Option<&str>, &str)]) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.body["error"]["code"], code, "code of {}", self.body);
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
        assert!(self.body.get("result").is_none());
        if items.is_empty() {
            return;
        }
        let got: Vec<(Option<String>, String)> = self.body["error"]["validation"]
            .as_array()
            .unwrap_or_else(|| panic!("no validation in {}", self.body))
            .iter()
            .map(|v| {
                (
                    v.get("field").and_then(Value::as_str).map(str::to_owned),
                    v["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(Option<String>, String)> = items
            .iter()
            .map(|(f, m)| (f.map(str::to_owned), (*m).to_owned()))
            .collect();
        assert_eq!(got, want, "validation of {}", self.body);
    }

    /// Asserts a REST 3.0 error whose body has no `validation` list and no `time`, as
    /// the server sends ACCESSDENIEDEXCEPTION and UNKNOWNDTOPROPERTYEXCEPTION about
    /// `fields` (`rest/lib/V3/Exception/RestException.php`).
    #[track_caller]
    pub fn assert_v3_bare(&self, status: u16, code: &str) {
        self.assert_v3_error(status, code, &[]);
        assert!(
            self.body["error"].get("validation").is_none(),
            "no validation in {}",
            self.body
        );
        assert!(self.body.get("time").is_none(), "no time in {}", self.body);
    }

    /// Asserts a classic error.
    #[track_caller]
    pub fn assert_classic_error(&self, status: u16, code: &str, description: &str) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.body["error"], code, "{}", self.body);
        assert_eq!(self.body["error_description"], description, "{}", self.body);
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with(PortalConfig::new("localhost"))
    }

    pub fn with(config: PortalConfig) -> Self {
        let clock = ManualClock::new(START);
        let emu = Emulator::builder()
            .portal(config)
            .clock(clock.clone())
            .build();
        let portal = emu.default_portal();
        Self { emu, clock, portal }
    }

    pub fn secret(&self, user: u64) -> String {
        self.portal.webhook_secret(user).unwrap()
    }

    pub async fn send(&self, req: Request<Bytes>) -> Reply {
        let resp = self.emu.handle(req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A REST 3.0 call through user's webhook.
    pub async fn v3(&self, user: u64, method: &str, body: Value) -> Reply {
        self.v3_with(user, method, body, &[]).await
    }

    pub async fn v3_with(
        &self,
        user: u64,
        method: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut b = Request::post(format!("/rest/api/{user}/{}/{method}", self.secret(user)))
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("accept", "application/json");
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        self.send(b.body(Bytes::from(body.to_string())).unwrap())
            .await
    }

    /// A REST 3.0 call with an OAuth token in the body.
    pub async fn v3_oauth(&self, token: &str, method: &str, mut body: Value) -> Reply {
        body["auth"] = Value::from(token);
        let req = Request::post(format!("/rest/api/{method}"))
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// A classic call through user's webhook (JSON body).
    pub async fn classic(&self, user: u64, method: &str, body: Value) -> Reply {
        let req = Request::post(format!("/rest/{user}/{}/{method}", self.secret(user)))
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// A raw request to a path.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: &str) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", content_type)
            .body(Bytes::from(body.to_owned()))
            .unwrap();
        self.send(req).await
    }
}

/// Asserts the documented `time` object: every key, numbers where numbers go.
#[track_caller]
pub fn assert_time(body: &Value) {
    let t = &body["time"];
    for k in ["start", "finish", "duration", "processing", "operating"] {
        assert!(t[k].is_number(), "time.{k} in {body}");
    }
    assert!(
        t["operating_reset_at"].is_i64(),
        "integer operating_reset_at in {body}"
    );
    for k in ["date_start", "date_finish"] {
        let s = t[k].as_str().unwrap();
        b24_types::DateTime::parse(s).unwrap();
    }
}
