//! Checking deliveries against stored application tokens, and the duplicate filter.

use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::Timestamp;
use b24_core::events::{
    decode_delivery, ApplicationTokens, DedupKey, Delivery, DuplicateFilter, FormLimits,
    InstallPolicy, MemoryApplicationTokens, Verified, Verifier, VerifyError,
};
use b24_core::types::events::MemberId;
use b24_core::types::ApplicationToken;
use serde_json::json;

use crate::events_support::{delivery, APP_TOKEN, MEMBER};

fn decode(body: &str) -> Delivery {
    decode_delivery(None, body.as_bytes(), &FormLimits::DEFAULT).unwrap()
}

fn comment() -> Delivery {
    decode(&delivery(
        "ONTASKCOMMENTADD",
        json!({"FIELDS_AFTER": {"ID": "0", "MESSAGE_ID": "9", "TASK_ID": "51"}}),
    ))
}

fn store() -> Arc<MemoryApplicationTokens> {
    Arc::new(MemoryApplicationTokens::with(
        MemberId::new(MEMBER),
        ApplicationToken::new(APP_TOKEN),
    ))
}

fn with_token(body: &str, token: &str) -> Delivery {
    decode(&body.replace(
        &format!("auth%5Bapplication_token%5D={APP_TOKEN}"),
        &format!("auth%5Bapplication_token%5D={token}"),
    ))
}

#[test]
fn a_matching_token_passes_and_any_other_is_refused() {
    let verifier = Verifier::new(store());
    assert_eq!(verifier.verify(&comment()), Ok(Verified::Matched));
    let body = delivery("ONTASKCOMMENTADD", json!({}));
    let member = MemberId::new(MEMBER);
    for forged in [
        "51856fefAppTokenCanary0c8",   // a prefix
        "51856fefAppTokenCanary0c822", // one more character
        "51856fefAppTokenCanary0c83",  // the last character differs
        "x",
    ] {
        assert_eq!(
            verifier.verify(&with_token(&body, forged)),
            Err(VerifyError::Mismatch {
                member_id: member.clone()
            }),
            "{forged}"
        );
    }
    let err = verifier.verify(&with_token(&body, "forged")).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("forged"));
}

#[test]
fn an_unknown_portal_fails_closed() {
    let verifier = Verifier::new(Arc::new(MemoryApplicationTokens::new()));
    assert_eq!(
        verifier.verify(&comment()),
        Err(VerifyError::UnknownPortal {
            member_id: MemberId::new(MEMBER)
        })
    );
    // A stored empty token is no token.
    let empty = Verifier::new(Arc::new(MemoryApplicationTokens::with(
        MemberId::new(MEMBER),
        ApplicationToken::new(""),
    )));
    assert!(matches!(
        empty.verify(&comment()),
        Err(VerifyError::UnknownPortal { .. })
    ));
    // No member id at all.
    let body = delivery("ONTASKCOMMENTADD", json!({}))
        .replace(&format!("auth%5Bmember_id%5D={MEMBER}"), "");
    assert_eq!(
        Verifier::new(store()).verify(&decode(&body)),
        Err(VerifyError::MissingMemberId)
    );
}

#[test]
fn install_is_trusted_only_when_asked_and_uninstall_forgets_the_token() {
    let tokens = Arc::new(MemoryApplicationTokens::new());
    let install = decode(&delivery("ONAPPINSTALL", json!({"VERSION": "1"})));
    let strict = Verifier::new(tokens.clone());
    assert!(matches!(
        strict.verify(&install),
        Err(VerifyError::UnknownPortal { .. })
    ));
    let trusting = Verifier::new(tokens.clone()).install_policy(InstallPolicy::TrustFirstInstall);
    assert_eq!(trusting.verify(&install), Ok(Verified::Installed));
    assert!(tokens.get(&MemberId::new(MEMBER)).is_some());
    assert_eq!(trusting.verify(&comment()), Ok(Verified::Matched));
    // A second install with another token is refused, the first token kept.
    let body = delivery("ONAPPINSTALL", json!({}));
    assert!(matches!(
        trusting.verify(&with_token(&body, "another")),
        Err(VerifyError::Mismatch { .. })
    ));
    // Uninstall: verified, then the portal is forgotten.
    let gone = decode(&delivery("ONAPPUNINSTALL", json!({"CLEAN": "0"})));
    assert_eq!(trusting.verify(&gone), Ok(Verified::Uninstalled));
    assert!(tokens.is_empty());
    assert!(matches!(
        strict.verify(&comment()),
        Err(VerifyError::UnknownPortal { .. })
    ));
    assert_eq!(
        format!("{tokens:?}"),
        "MemoryApplicationTokens { portals: 0 }"
    );
}

#[test]
fn the_duplicate_filter_drops_repeats_within_its_ttl_and_bounds() {
    let mut seen = DuplicateFilter::new(3, Duration::from_secs(60));
    let t0 = Timestamp::from_unix_secs(1_777_530_300);
    let key = DedupKey::for_payload(&comment().payload).unwrap();
    assert!(seen.first_seen(key.clone(), t0));
    assert!(!seen.first_seen(key.clone(), t0.saturating_add(Duration::from_secs(59))));
    assert!(seen.contains(&key, t0));
    // After the TTL it counts as new.
    assert!(seen.first_seen(key.clone(), t0.saturating_add(Duration::from_secs(60))));
    // Memory stays bounded whatever arrives.
    for i in 0..1000u64 {
        seen.first_seen(DedupKey::new("ONTASKCOMMENTADD", i), t0);
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(key.event(), "ONTASKCOMMENTADD");
    assert_eq!(key.id(), "9");
}
