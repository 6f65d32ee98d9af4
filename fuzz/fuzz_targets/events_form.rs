//! Event deliveries: PHP-style form bodies (`events::parse_form`), the typed
//! delivery (`events::decode_delivery`), the application-token check
//! (`events::Verifier`), duplicate keys, and the same payload types from JSON
//! (`decode_payload`, `decode_offline`).
//!
//! Checks: the application token (a marker appended to the body) never shows in
//! an error or in a delivery's `Debug`; a delivery matches the stored token exactly
//! when it carries it for the stored portal.
#![no_main]
#![forbid(unsafe_code)]

use b24_core::events::{
    decode_delivery, decode_offline, decode_payload, parse_form, DedupKey, FormLimits,
    InstallPolicy, MemoryApplicationTokens, TaskChatMessage, Verified, Verifier,
};
use b24_core::types::events::{MemberId, OfflineEvent};
use b24_core::types::ApplicationToken;
use b24_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const MEMBER: &str = "a223c6b3710f85df22e9377d6c4f7553";
const TOKEN: &str = "Tk51856fef9a0c3d7e2b4a6f8c1d3e5a7b";

fn content_type(selector: u8) -> Option<&'static str> {
    match selector % 6 {
        0 => None,
        1 => Some("application/x-www-form-urlencoded"),
        2 => Some("application/x-www-form-urlencoded; charset=UTF-8"),
        3 => Some("APPLICATION/X-WWW-FORM-URLENCODED ;charset=utf-8"),
        4 => Some("application/json"),
        _ => Some("multipart/form-data; boundary=x"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.byte();
    let limits = FormLimits::new(
        usize::from(input.u16()) * 4,
        usize::from(input.byte()) * 4,
        usize::from(input.byte() % 32),
    );
    let body = input.rest();

    match mode % 4 {
        // The raw body, with the limits from the input and the defaults.
        0 => {
            for limits in [limits, FormLimits::DEFAULT] {
                if let Ok(tree) = parse_form(body, &limits) {
                    assert!(tree.len() <= limits.max_fields, "more fields than allowed");
                }
                if let Ok(delivery) = decode_delivery(content_type(mode >> 2), body, &limits) {
                    let _ = DedupKey::for_payload(&delivery.payload);
                    let _ = TaskChatMessage::from_payload(&delivery.payload);
                    let _ = delivery.task_comment_add();
                    let _ = format!("{delivery:?}");
                }
            }
        }
        // The body plus the stored portal's member id and application token (or a
        // wrong one): the verifier's answer must follow the token.
        1 => {
            let right = mode & 0x10 == 0;
            let token = if right {
                TOKEN
            } else {
                "Tk0wrong0token0value0000000000"
            };
            let mut full = body.to_vec();
            full.extend_from_slice(
                format!("&auth%5Bmember_id%5D={MEMBER}&auth%5Bapplication_token%5D={token}")
                    .as_bytes(),
            );
            // Only when the fuzz body itself does not hold the token or auth keys.
            let plain = String::from_utf8_lossy(body).to_ascii_lowercase();
            let clean = !plain.contains("tk") && !plain.contains("auth") && !plain.contains('%');
            let shown = match decode_delivery(content_type(mode >> 5), &full, &FormLimits::DEFAULT)
            {
                Ok(delivery) => {
                    let verifier = Verifier::new(MemoryApplicationTokens::with(
                        MemberId::new(MEMBER),
                        ApplicationToken::new(TOKEN),
                    ))
                    .install_policy(if mode & 0x20 == 0 {
                        InstallPolicy::Refuse
                    } else {
                        InstallPolicy::TrustFirstInstall
                    });
                    let verdict = verifier.verify(&delivery);
                    if clean {
                        assert_eq!(
                            verdict.is_ok(),
                            right,
                            "the verifier's answer does not follow the token: {verdict:?}"
                        );
                        if let Ok(v) = verdict {
                            assert!(matches!(v, Verified::Matched | Verified::Uninstalled));
                        }
                    }
                    match &verdict {
                        Ok(v) => format!("{delivery:?} {v:?}"),
                        Err(e) => format!("{delivery:?} {e} {e:?}"),
                    }
                }
                Err(e) => format!("{e} {e:?}"),
            };
            if clean {
                assert!(
                    !shown.contains(token),
                    "the application token shows: {shown}"
                );
            }
        }
        // An unknown portal: refused unless it is an install under trust-first-use.
        2 => {
            if let Ok(delivery) = decode_delivery(None, body, &FormLimits::DEFAULT) {
                let verifier = Verifier::new(MemoryApplicationTokens::new())
                    .install_policy(InstallPolicy::TrustFirstInstall);
                match verifier.verify(&delivery) {
                    Ok(Verified::Installed) => {
                        // Stored now: the same delivery matches.
                        assert_eq!(verifier.verify(&delivery).ok(), Some(Verified::Matched));
                    }
                    Ok(other) => panic!("an unknown portal verified as {other:?}"),
                    Err(e) => {
                        let _ = format!("{e} {e:?}");
                    }
                }
            }
        }
        // JSON data of an event (an offline row's EVENT_DATA), and a whole row.
        _ => {
            const EVENTS: [&str; 8] = [
                "ONTASKCOMMENTADD",
                "ONTASKCOMMENTUPDATE",
                "ONTASKADD",
                "ONTASKUPDATE",
                "ONAPPINSTALL",
                "ONAPPUNINSTALL",
                "ONIMBOTMESSAGEADD",
                "ONCRMDEALADD",
            ];
            let event = EVENTS[usize::from(mode >> 2) % EVENTS.len()];
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
                if let Ok(payload) = decode_payload(event, value) {
                    let _ = DedupKey::for_payload(&payload);
                    let _ = TaskChatMessage::from_payload(&payload);
                    let _ = format!("{payload:?}");
                }
            }
            if let Ok(row) = serde_json::from_slice::<OfflineEvent>(body) {
                if let Ok(payload) = decode_offline(&row) {
                    let _ = DedupKey::for_payload(&payload);
                    let _ = format!("{payload:?}");
                }
            }
        }
    }
});
