//! Failures: the exit code of each class of error, and the one-line message with a
//! hint that goes to stderr.

use std::error::Error as StdError;
use std::process::ExitCode;

use b24_core::engine::SentState as CoreSent;
use b24_hyper::{SentState, TransportError};
use b24_types::{ApiError, ErrorClass};

/// The class of a failure; each has its own exit code (`b24 --help` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 0: stdout's reader went away (`b24 ... | head -1`): nothing more to say.
    PipeClosed,
    /// 1: anything else (an unreadable answer, a local I/O error).
    Other,
    /// 2: bad input or usage, found before any request was sent.
    Usage,
    /// 3: the portal answered with an API error.
    Api,
    /// 4: a rate or operating-time limit is exhausted.
    Limit,
    /// 5: connect, TLS or timeout failure.
    Transport,
    /// 6: a write may or may not have been applied.
    WriteUnknown,
    /// 7: the credential was refused.
    Auth,
}

impl Class {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Class::PipeClosed => 0,
            Class::Other => 1,
            Class::Usage => 2,
            Class::Api => 3,
            Class::Limit => 4,
            Class::Transport => 5,
            Class::WriteUnknown => 6,
            Class::Auth => 7,
        }
    }

    /// As an [`ExitCode`].
    pub(crate) fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}

/// A failed command: its class, a one-line message, and hints for the operator.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The class (and so the exit code).
    pub class: Class,
    /// What happened, on one line.
    pub message: String,
    /// What to do about it, each on its own line.
    pub hints: Vec<String>,
}

impl Failure {
    /// A failure of `class` with `message` and no hint.
    pub(crate) fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            message: one_line(&message.into()),
            hints: Vec::new(),
        }
    }

    /// A usage error (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Class::Usage, message)
    }

    /// Adds a hint.
    #[must_use]
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// A failed call, classified; `what` tells what the call was, for the hints.
    pub(crate) fn from_call(err: &b24_hyper::Error, what: &CallKind) -> Self {
        if needed_refresh(err) {
            return Failure::new(
                Class::Auth,
                "the portal refused the access token (expired, revoked or wrong); b24 does not refresh tokens",
            )
            .hint("pass a fresh token with --access-token or B24_ACCESS_TOKEN");
        }
        let class = classify(err, what.writes());
        let mut message = chain(err);
        if let Some(code) = err.code() {
            if !message.contains(code.as_str()) {
                message = format!("{message} [{code}]");
            }
        }
        let mut failure = Failure::new(class, message);
        for hint in hints(err, class, what) {
            failure = failure.hint(hint);
        }
        failure
    }
}

/// What a call was, for classifying a failure (a write that may have run) and for
/// saying what to check.
#[derive(Debug, Clone)]
pub(crate) enum CallKind {
    /// A read: repeating it is harmless.
    Read,
    /// A raw call by name (taken to write: the CLI cannot know).
    Raw,
    /// Creating a result of a task (the task when known).
    AddResult(Option<u64>),
    /// Changing or deleting a result.
    ChangeResult(u64),
    /// Posting a message to a task's chat.
    PostMessage(u64),
}

impl CallKind {
    fn writes(&self) -> bool {
        !matches!(self, CallKind::Read)
    }

    /// What to check before repeating a write that may have run.
    fn what_to_check(&self) -> String {
        match self {
            CallKind::Read => "repeating it is harmless".to_owned(),
            CallKind::Raw => {
                "check on the portal whether it took effect before repeating it".to_owned()
            }
            CallKind::AddResult(Some(task)) => format!(
                "check whether the result exists (`b24 result list --task {task}`) before repeating it"
            ),
            CallKind::AddResult(None) => {
                "check whether the result exists (`b24 result list --task <task id>`) before repeating it"
                    .to_owned()
            }
            CallKind::ChangeResult(id) => format!(
                "check result {id} (`b24 result list --task <its task id>`) before repeating it"
            ),
            CallKind::PostMessage(task) => format!(
                "check the chat of task {task} for the message before sending it again"
            ),
        }
    }
}

/// The portal refused an OAuth access token and the engine wanted to refresh it: the
/// CLI configures no OAuth application, so the refresh is refused before it is sent.
fn needed_refresh(err: &b24_hyper::Error) -> bool {
    matches!(
        err,
        b24_hyper::Error::Core(b24_core::Error::InvalidInput(b24_core::InputError::Param { field, .. }))
            if field == "oauth_app"
    )
}

/// The exit class of a call's error. `writes`: the call may change the portal, so a
/// failure after the request may have been sent leaves its outcome unknown.
pub(crate) fn classify(err: &b24_hyper::Error, writes: bool) -> Class {
    match err {
        b24_hyper::Error::Core(e) => classify_core(e, writes),
        b24_hyper::Error::Transport(e) => classify_transport(e, writes),
        b24_hyper::Error::Paging { .. } | b24_hyper::Error::MissingInReply { .. } => Class::Other,
        // A variant added later: b24_hyper::Error is non-exhaustive.
        _ => Class::Other,
    }
}

fn classify_core(err: &b24_core::Error, writes: bool) -> Class {
    use b24_core::Error as E;
    match err {
        E::Api(api) => classify_api(api, writes),
        E::InvalidInput(b24_core::InputError::Param { field, .. }) if field == "oauth_app" => {
            Class::Auth
        }
        E::InvalidInput(_) => Class::Usage,
        E::Decode { status, .. } | E::UnexpectedBody { status, .. } => {
            if *status == 401 {
                Class::Auth
            } else {
                Class::Other
            }
        }
        E::OperatingLimit { .. } => Class::Limit,
        E::RetriesExhausted { last, .. } => classify_core(last, writes),
        E::Transport { sent, source, .. } => {
            if let Some(adapter) = source
                .as_deref()
                .and_then(|s| s.downcast_ref::<TransportError>())
            {
                return classify_transport(adapter, writes);
            }
            if writes && *sent == CoreSent::MaybeSent {
                Class::WriteUnknown
            } else {
                Class::Transport
            }
        }
        E::TokenRefresh(_) | E::TokenRejected { .. } => Class::Auth,
        E::DeadlineExceeded { last, .. } => match last.as_deref() {
            Some(last) => classify_core(last, writes),
            None => Class::Transport,
        },
        E::WriteOutcomeUnknown { .. } => Class::WriteUnknown,
        E::ExchangeMisuse(_) | E::Store(_) => Class::Other,
        // A variant added later: b24_core::Error is non-exhaustive.
        _ => Class::Other,
    }
}

fn classify_api(api: &ApiError, writes: bool) -> Class {
    if api.status == 401 {
        return Class::Auth;
    }
    match api.class() {
        ErrorClass::Auth | ErrorClass::TokenExpired => Class::Auth,
        ErrorClass::RateLimited | ErrorClass::OperatingLimit | ErrorClass::Overloaded => {
            Class::Limit
        }
        // The portal failed inside: a write may have run before it did.
        ErrorClass::Server if writes => Class::WriteUnknown,
        ErrorClass::Server
        | ErrorClass::Permission
        | ErrorClass::Scope
        | ErrorClass::Validation
        | ErrorClass::NotFound
        | ErrorClass::Idempotency
        | ErrorClass::Batch
        | ErrorClass::Unknown => Class::Api,
        // A class added later: ErrorClass is non-exhaustive.
        _ => Class::Api,
    }
}

fn classify_transport(err: &TransportError, writes: bool) -> Class {
    match err {
        TransportError::InsecureScheme | TransportError::InvalidAddress { .. } => Class::Usage,
        TransportError::Connect { .. }
        | TransportError::Tls { .. }
        | TransportError::Timeout { .. }
        | TransportError::BodyTooLarge { .. }
        | TransportError::Http { .. }
        | TransportError::Body { .. } => maybe_sent(err, writes),
        // A variant added later: TransportError is non-exhaustive.
        _ => maybe_sent(err, writes),
    }
}

fn maybe_sent(err: &TransportError, writes: bool) -> Class {
    if writes && err.sent_state() == SentState::MaybeSent {
        Class::WriteUnknown
    } else {
        Class::Transport
    }
}

/// The hints for a failed call.
fn hints(err: &b24_hyper::Error, class: Class, what: &CallKind) -> Vec<String> {
    let mut out = Vec::new();
    match class {
        Class::WriteUnknown => out.push(format!("the write may have run: {}", what.what_to_check())),
        Class::Auth => out.push(
            "the portal refused the credential: check the webhook URL (B24_WEBHOOK_URL / --webhook) \
             or the access token; it may be wrong, revoked or expired"
                .to_owned(),
        ),
        Class::Limit => out.push(limit_hint(err)),
        Class::Transport => {
            if let Some(hint) = err.transport().map(transport_hint) {
                out.push(hint);
            } else if err.is_timeout() {
                out.push("the call ran out of time: try again, or raise --timeout".to_owned());
            }
        }
        Class::Api => {
            if let Some(hint) = err.class().and_then(api_hint) {
                out.push(hint.to_owned());
            }
        }
        Class::Usage => {
            if let Some(TransportError::InsecureScheme) = err.transport() {
                out.push(
                    "plain http:// is allowed only to a loopback host, with --allow-plain-http"
                        .to_owned(),
                );
            }
        }
        Class::Other => {
            if let b24_hyper::Error::MissingInReply { field: "chat.id", .. } = err {
                out.push("the task has no chat that the webhook's user can see".to_owned());
            }
        }
        Class::PipeClosed => {}
    }
    out
}

fn limit_hint(err: &b24_hyper::Error) -> String {
    if let b24_hyper::Error::Core(b24_core::Error::OperatingLimit {
        method, reset_at, ..
    }) = err
    {
        let now = b24_core::engine::Timestamp::from_system_time(std::time::SystemTime::now());
        let wait = reset_at.saturating_duration_since(now).as_secs().max(1);
        return format!(
            "the operating-time budget of {method} is spent; it resets in about {wait} s"
        );
    }
    match err.class() {
        Some(ErrorClass::Overloaded) => {
            "the portal is blocked by Bitrix24 support (OVERLOAD_LIMIT); waiting does not help"
                .to_owned()
        }
        _ => "the portal's request limit is exhausted: try again in a minute".to_owned(),
    }
}

fn transport_hint(err: &TransportError) -> String {
    match err {
        TransportError::Tls { .. } => {
            "the portal's certificate is not trusted: for the emulator or a private CA pass \
             --ca-cert FILE (PEM)"
                .to_owned()
        }
        TransportError::Connect { .. } => {
            "could not reach the portal: check the host and port of the webhook URL, and that \
             the server (the emulator?) is running"
                .to_owned()
        }
        TransportError::Timeout { .. } => {
            "the portal did not answer in time: try again, or raise --timeout".to_owned()
        }
        _ => "the connection to the portal failed: try again".to_owned(),
    }
}

fn api_hint(class: ErrorClass) -> Option<&'static str> {
    Some(match class {
        ErrorClass::Permission => {
            "the webhook's user lacks the rights for this (or the plan lacks REST access)"
        }
        ErrorClass::Scope => "the webhook or app lacks the method's scope: add it in its settings",
        ErrorClass::NotFound => {
            "the method or the object does not exist: check the name, the id, and --api v3|classic"
        }
        ErrorClass::Validation => {
            "the portal refused the parameters: check them against the method's documentation"
        }
        _ => return None,
    })
}

/// The error and its sources on one line, without repeating a source that its parent
/// already printed.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    let mut hops = 0;
    while let Some(e) = next {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        hops += 1;
        if hops > 16 {
            break;
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `s` with line breaks and runs of whitespace turned into single spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use b24_types::{ErrorCode, ErrorShape};

    fn api(status: u16, code: &str) -> b24_hyper::Error {
        let code = ErrorCode::from_wire(code);
        b24_hyper::Error::Core(b24_core::Error::from(ApiError::new(
            status,
            code,
            "message",
            ErrorShape::Classic,
        )))
    }

    #[test]
    fn api_errors_by_class() {
        assert_eq!(classify(&api(403, "ACCESS_DENIED"), false), Class::Api);
        assert_eq!(classify(&api(400, "SOMETHING_ELSE"), true), Class::Api);
        assert_eq!(classify(&api(401, "NO_AUTH_FOUND"), false), Class::Auth);
        assert_eq!(classify(&api(401, "expired_token"), false), Class::Auth);
        assert_eq!(
            classify(&api(503, "QUERY_LIMIT_EXCEEDED"), false),
            Class::Limit
        );
        assert_eq!(
            classify(&api(500, "INTERNAL_SERVER_ERROR"), false),
            Class::Api
        );
        assert_eq!(
            classify(&api(500, "INTERNAL_SERVER_ERROR"), true),
            Class::WriteUnknown
        );
    }

    #[test]
    fn wrapped_errors_follow_the_last_attempt() {
        let exhausted = b24_hyper::Error::Core(b24_core::Error::RetriesExhausted {
            attempts: 4,
            last: Box::new(b24_core::Error::Transport {
                kind: b24_core::engine::TransportErrorKind::Connect,
                sent: CoreSent::NotSent,
                source: None,
            }),
        });
        assert_eq!(classify(&exhausted, true), Class::Transport);
        let maybe = b24_hyper::Error::Core(b24_core::Error::Transport {
            kind: b24_core::engine::TransportErrorKind::Timeout,
            sent: CoreSent::MaybeSent,
            source: None,
        });
        assert_eq!(classify(&maybe, true), Class::WriteUnknown);
        assert_eq!(classify(&maybe, false), Class::Transport);
        let unknown = b24_hyper::Error::Core(b24_core::Error::WriteOutcomeUnknown {
            attempts: 2,
            last: Box::new(b24_core::Error::Transport {
                kind: b24_core::engine::TransportErrorKind::Timeout,
                sent: CoreSent::MaybeSent,
                source: None,
            }),
        });
        assert_eq!(classify(&unknown, true), Class::WriteUnknown);
        let deadline = b24_hyper::Error::Core(b24_core::Error::DeadlineExceeded {
            attempts: 0,
            last: None,
        });
        assert_eq!(classify(&deadline, false), Class::Transport);
        let input = b24_hyper::Error::Core(b24_core::Error::InvalidInput(
            b24_core::InputError::param("x", "bad"),
        ));
        assert_eq!(classify(&input, false), Class::Usage);
        let plain = b24_hyper::Error::Transport(TransportError::InsecureScheme);
        assert_eq!(classify(&plain, true), Class::Usage);
    }

    #[test]
    fn the_message_names_the_code() {
        let failure = Failure::from_call(&api(403, "ACCESS_DENIED"), &CallKind::Read);
        assert!(
            failure.message.contains("ACCESS_DENIED"),
            "{}",
            failure.message
        );
        assert_eq!(failure.class.code(), 3);
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\nb  c\r\n"), "a b c");
    }
}
