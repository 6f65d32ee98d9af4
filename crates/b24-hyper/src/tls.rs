//! The rustls client configuration: crypto provider, trust roots, ALPN.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::BuildError;

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "b24-hyper needs a rustls crypto provider: enable the `ring` or `aws-lc-rs` feature"
);

/// The crypto provider chosen by the cargo features (aws-lc-rs wins when both are on).
fn provider() -> CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        rustls::crypto::aws_lc_rs::default_provider()
    }
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    {
        rustls::crypto::ring::default_provider()
    }
}

/// Parses every certificate in a PEM text.
pub(crate) fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::InvalidPem {
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(BuildError::InvalidPem {
            reason: "no CERTIFICATE block found".to_owned(),
        });
    }
    Ok(certs)
}

/// Builds the TLS configuration: built-in roots (by feature, unless turned off) plus
/// the extra roots, and the ALPN protocols of `versions`.
pub(crate) fn client_config(
    built_in_roots: bool,
    extra_roots: &[CertificateDer<'static>],
    versions: crate::HttpVersions,
) -> Result<Arc<ClientConfig>, BuildError> {
    let mut roots = RootCertStore::empty();
    if built_in_roots {
        add_built_in_roots(&mut roots)?;
    }
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(BuildError::RootCertificate)?;
    }
    if roots.is_empty() {
        return Err(BuildError::NoRoots);
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(BuildError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = match versions {
        crate::HttpVersions::Negotiate => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        crate::HttpVersions::Http1 => vec![b"http/1.1".to_vec()],
        crate::HttpVersions::Http2 => vec![b"h2".to_vec()],
    };
    Ok(Arc::new(config))
}

#[allow(clippy::unnecessary_wraps)]
fn add_built_in_roots(roots: &mut RootCertStore) -> Result<(), BuildError> {
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            if let Some(err) = found.errors.first() {
                return Err(BuildError::NativeRoots {
                    reason: err.to_string(),
                });
            }
        }
        // Some system stores carry certificates rustls cannot use; skip those.
        let _ = roots.add_parsable_certificates(found.certs);
    }
    #[cfg(not(any(feature = "webpki-roots", feature = "native-roots")))]
    let _ = roots;
    Ok(())
}

/// 128 bits from the operating system's random source (the core's
/// [`os_random_seed`](b24_core::engine::os_random_seed)), for seeding each portal's
/// idempotency keys and backoff jitter.
pub(crate) fn random_seed() -> u128 {
    b24_core::engine::os_random_seed()
}
