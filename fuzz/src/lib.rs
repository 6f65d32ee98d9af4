//! Helpers shared by the fuzz targets in `fuzz_targets/`.
#![forbid(unsafe_code)]

use b24_core::bytes::Bytes;
use b24_core::{Api, Error, RawValue};
use b24_core::{Method, Repeat, Reply};
use b24_types::Time;

/// A cursor over the fuzz input: a few leading bytes choose what to do, the rest
/// is the payload.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte, or 0 when the input is used up.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) << 8 | u16::from(self.byte())
    }

    /// The next `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// A chunk prefixed by its length (one byte).
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// HTTP statuses a portal or a proxy in front of it answers with; a selector byte
/// past the table is taken as a raw status from 100 to 999.
pub fn status(selector: u8, extra: u8) -> http::StatusCode {
    const TABLE: [u16; 16] = [
        200, 200, 200, 201, 204, 400, 401, 403, 404, 405, 429, 500, 502, 503, 504, 302,
    ];
    let code = match TABLE.get(usize::from(selector)) {
        Some(code) => *code,
        None => 100 + (u16::from(selector) << 8 | u16::from(extra)) % 900,
    };
    http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK)
}

/// A response with `status`, an `Idempotent-Replayed` header chosen by `replayed`
/// (absent, `true`, `false`, or an odd value) and `body`.
pub fn response(status: http::StatusCode, replayed: u8, body: &[u8]) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::copy_from_slice(body));
    *response.status_mut() = status;
    let value = match replayed % 4 {
        0 => None,
        1 => Some("true"),
        2 => Some("false"),
        _ => Some("TRUE "),
    };
    if let Some(value) = value {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            response.headers_mut().insert("idempotent-replayed", value);
        }
    }
    response
}

/// A method with its one-pass decode turned off: [`b24_core::parse_response`] then
/// always takes the general path, to compare with the fast one.
#[derive(Debug)]
pub struct GeneralPath<'a, M>(pub &'a M);

impl<M: Method> Method for GeneralPath<'_, M> {
    type Output = M::Output;
    fn name(&self) -> &str {
        self.0.name()
    }
    fn api(&self) -> Api {
        self.0.api()
    }
    fn repeat(&self) -> Repeat {
        self.0.repeat()
    }
    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        self.0.params()
    }
    fn decode(&self, result: &RawValue) -> Result<Self::Output, Error> {
        self.0.decode(result)
    }
    fn body(&self) -> Result<serde_json::Value, Error> {
        self.0.body()
    }
    fn body_json(&self) -> Result<Vec<u8>, Error> {
        self.0.body_json()
    }
    fn accepts_bare_result(&self) -> bool {
        self.0.accepts_bare_result()
    }
    fn honours_idempotency_key(&self) -> bool {
        self.0.honours_idempotency_key()
    }
    fn budget_methods(&self) -> Vec<&str> {
        self.0.budget_methods()
    }
    fn command_times(&self, output: &Self::Output) -> Vec<(String, Time)> {
        self.0.command_times(output)
    }
}

/// Reads every accessor of an error (they must not panic) and checks the rules a
/// body snippet keeps: at most [`b24_core::SNIPPET_CHARS`] characters plus the `…`
/// that marks a cut, no URL, no token-like run of 16 or more letters and digits.
pub fn exercise_error(error: &Error) {
    let _ = error.to_string();
    let _ = format!("{error:?}");
    let _ = error.status();
    let _ = error.code();
    let _ = error.class();
    let _ = error.api_error();
    let _ = error.last_attempt();
    if let Error::UnexpectedBody { snippet, .. } = error {
        let count = snippet.chars().count();
        assert!(
            count <= b24_core::SNIPPET_CHARS
                || (count == b24_core::SNIPPET_CHARS + 1 && snippet.ends_with('…')),
            "a snippet longer than SNIPPET_CHARS"
        );
        assert!(!snippet.contains("://"), "a snippet shows a URL: {snippet}");
        let token_like = snippet
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|run| {
                run.len() >= 16
                    && run.bytes().any(|b| b.is_ascii_digit())
                    && run.bytes().any(|b| b.is_ascii_alphabetic())
            });
        assert!(!token_like, "a snippet shows a token-like word: {snippet}");
    }
}

/// Parses `response` for `method` both ways (with and without its one-pass
/// decode) and checks that they agree: the fast path must accept only bodies the
/// general path reads the same way.
pub fn parse_both<M>(
    method: &M,
    response: &http::Response<Bytes>,
) -> Result<Reply<M::Output>, Error>
where
    M: Method,
    M::Output: PartialEq + std::fmt::Debug,
{
    let fast = b24_core::parse_response(method, response);
    let general = b24_core::parse_response(&GeneralPath(method), response);
    match (&fast, &general) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the one-pass decode and the general path differ"),
        (Err(a), Err(b)) => {
            exercise_error(a);
            assert_eq!(
                a.to_string(),
                b.to_string(),
                "the one-pass decode and the general path fail differently"
            );
        }
        (Ok(a), Err(b)) => panic!("only the one-pass decode accepts the body: {a:?} / {b}"),
        (Err(a), Ok(b)) => panic!("only the general path accepts the body: {a} / {b:?}"),
    }
    fast
}
