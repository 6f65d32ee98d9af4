//! Receiving events, without IO: decode a delivery, check it came from the portal,
//! drop repeats.
//!
//! A portal announces changes by POSTing a form to each bound handler URL
//! (`event.bind`), or by queueing them for `event.offline.get`. This module turns
//! either into a typed [`EventPayload`](crate::types::events::EventPayload):
//!
//! - [`decode_delivery`]: media type, size and shape checks, PHP nested keys
//!   ([`parse_form`]), then the typed event, as a [`Delivery`]. Anything else is a
//!   [`DeliveryError`] naming the field, never echoing a value.
//! - [`Verifier`]: compares `auth[application_token]` in constant time with the
//!   token stored for `auth[member_id]` in an [`ApplicationTokens`] store, failing
//!   closed when none is stored.
//! - [`DuplicateFilter`]: delivery may repeat; remember what was handled by
//!   [`DedupKey`] (event and message id), in bounded memory, `now` passed in.
//! - [`decode_offline`]: the same payload types from an offline queue row.
//!
//! The transport that receives the POST (a hyper service in `b24-hyper`, or any
//! other) answers 2xx at once and hands the event to a queue: the portal does not
//! retry a failed delivery, and a slow handler is called less often.
//!
//! ```
//! use b24_core::events::{decode_delivery, FormLimits, MemoryApplicationTokens, Verifier, Verified};
//! use b24_core::types::events::{EventPayload, MemberId};
//! use b24_core::types::ApplicationToken;
//!
//! let body = "event=ONTASKCOMMENTADD&event_handler_id=7\
//!     &data%5BFIELDS_BEFORE%5D=undefined\
//!     &data%5BFIELDS_AFTER%5D%5BID%5D=0\
//!     &data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=34239\
//!     &data%5BFIELDS_AFTER%5D%5BTASK_ID%5D=51\
//!     &data%5BIS_ACCESSIBLE_BEFORE%5D=N&data%5BIS_ACCESSIBLE_AFTER%5D=undefined\
//!     &ts=1777530300&auth%5Bmember_id%5D=a223c6b3&auth%5Bapplication_token%5D=51856fef";
//! let delivery = decode_delivery(
//!     Some("application/x-www-form-urlencoded"),
//!     body.as_bytes(),
//!     &FormLimits::DEFAULT,
//! )?;
//! let EventPayload::TaskCommentAdd(comment) = &delivery.payload else { unreachable!() };
//! assert_eq!(comment.message_id().map(|m| m.get()), Some(34239));
//! assert_eq!(comment.task_id().map(|t| t.get()), Some(51));
//!
//! let verifier = Verifier::new(MemoryApplicationTokens::with(
//!     MemberId::new("a223c6b3"),
//!     ApplicationToken::new("51856fef"),
//! ));
//! assert_eq!(verifier.verify(&delivery)?, Verified::Matched);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod dedup;
mod delivery;
mod form;
mod verify;

pub use dedup::{DedupKey, DuplicateFilter};
pub use delivery::{
    check_content_type, decode_delivery, decode_offline, decode_payload, Delivery, DeliveryError,
    TaskChatMessage, FORM_CONTENT_TYPE,
};
pub use form::{parse_form, FormError, FormLimits};
pub use verify::{
    ApplicationTokens, InstallPolicy, MemoryApplicationTokens, Verified, Verifier, VerifyError,
};
