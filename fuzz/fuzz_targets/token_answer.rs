//! The OAuth server's answer to a refresh or a code exchange
//! (`b24_core::engine::parse_token_answer`), then the token set built from it.
//!
//! Checks: an answer that is not an error answer never puts anything of the body
//! into the error; the `Debug` of a token answer and of a token set does not depend
//! on the token values (they are redacted).
#![no_main]
#![forbid(unsafe_code)]

use b24_core::engine::{parse_token_answer, RefreshFailure, Timestamp, TokenSet};
use b24_core::types::{AccessToken, RefreshToken};
use b24_core::Error;
use b24_fuzz::{exercise_error, response, status, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let status = status(input.byte(), input.byte());
    let received = u64::from(input.u16()) << 24 | u64::from(input.u16());
    let response = response(status, 0, input.rest());
    match parse_token_answer(&response) {
        Ok(answer) => {
            let mut other = answer.clone();
            other.access_token = AccessToken::new("a-different-access-token");
            other.refresh_token = RefreshToken::new("a-different-refresh-token");
            assert_eq!(
                format!("{answer:?}"),
                format!("{other:?}"),
                "a token answer's Debug shows a token"
            );
            let _ = answer.expires_at(i64::MAX);
            let _ = answer.expires_at(i64::MIN);
            let now = Timestamp::from_unix_secs(received);
            let set = TokenSet::from_response(answer, now);
            let other = TokenSet::from_response(other, now);
            assert_eq!(
                format!("{set:?}"),
                format!("{other:?}"),
                "a token set's Debug shows a token"
            );
            let _ = set.expires_at();
        }
        Err(error) => {
            exercise_error(&error);
            let Error::TokenRefresh(refresh) = &error else {
                panic!("a token answer failed with another error: {error}");
            };
            let _ = refresh.needs_reauthorization();
            if refresh.failure == RefreshFailure::UnexpectedAnswer {
                assert!(
                    refresh.code.is_none() && refresh.description.is_none(),
                    "an unexpected answer's error carries text from the body"
                );
            }
            assert!(
                error
                    .to_string()
                    .contains(&format!("HTTP {}", status.as_u16())),
                "a refresh error without the answer's status: {error}"
            );
        }
    }
});
