//! Interoperability tests of the official Bitrix24 SDKs against `b24-emulator`.
//!
//! The crate holds no code of its own: the SDK scripts live in `js/` and `py/`, and
//! `tests/interop.rs` starts the emulator over HTTPS and runs them. See `README.md`.
