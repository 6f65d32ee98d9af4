//! Passwords and TLS.

use std::time::Duration;

use b24_core::engine::{BucketConfig, HostStore, StoreErrorKind};
use b24_redis::testing::{RedisServer, TlsFiles};
use b24_redis::{RedisBackend, RedisConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::support::{fails, host, ok, wall};

const PASSWORD: &str = "correct-horse-battery-9";
const WRONG: &str = "wrong-password-7";

#[tokio::test]
async fn the_right_password_works_and_a_wrong_one_is_unavailable_without_leaking() {
    let Some(server) = RedisServer::builder().password(PASSWORD).start() else {
        return;
    };
    let port = server.port();
    let good = RedisBackend::new(RedisConfig::new(format!(
        "redis://:{PASSWORD}@127.0.0.1:{port}/"
    )))
    .unwrap();
    good.ping().await.unwrap();
    let now = wall();
    let h = host();
    assert_eq!(
        ok(good.host(&h, BucketConfig::standard()).reserve(now))
            .await
            .at,
        now
    );

    for url in [
        format!("redis://:{WRONG}@127.0.0.1:{port}/"),
        format!("redis://default:{WRONG}@127.0.0.1:{port}/"),
        format!("redis://127.0.0.1:{port}/"),
    ] {
        let bad = RedisBackend::new(RedisConfig::new(url).op_timeout(Duration::from_millis(500)))
            .unwrap();
        let e = fails(bad.host(&h, BucketConfig::standard()).reserve(now)).await;
        assert_eq!(e.kind, StoreErrorKind::Unavailable, "{e}");
        let text = format!("{e} {e:?} {bad:?}");
        assert!(!text.contains(WRONG) && !text.contains(PASSWORD), "{text}");
    }
    let text = format!("{good:?}");
    assert!(!text.contains(PASSWORD), "{text}");
}

/// A CA and a server certificate for `localhost` and 127.0.0.1, as PEM files in `dir`.
fn certificates(dir: &std::path::Path) -> (TlsFiles, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "b24-redis test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let files = TlsFiles {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        ca: dir.join("ca.crt"),
    };
    std::fs::write(&files.cert, leaf_cert.pem()).unwrap();
    std::fs::write(&files.key, leaf_key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    (files, ca_cert.pem())
}

#[tokio::test]
async fn rediss_with_a_private_ca_and_a_password() {
    if !b24_redis::testing::redis_server_available() {
        // Let the harness print the notice (or fail in CI).
        let _ = RedisServer::start_default();
        return;
    }
    let dir = std::env::temp_dir().join(format!("b24-redis-tls-{}", std::process::id()));
    let (files, ca_pem) = certificates(&dir);
    let server = RedisServer::builder()
        .password(PASSWORD)
        .tls(files)
        .start()
        .unwrap();
    let tls_port = server.tls_port().unwrap();
    let url = format!("rediss://:{PASSWORD}@localhost:{tls_port}/");
    let backend =
        RedisBackend::new(RedisConfig::new(url.as_str()).tls_root_ca(ca_pem.as_bytes())).unwrap();
    assert_eq!(
        backend.target(),
        format!("rediss://***@localhost:{tls_port}/0")
    );
    backend.ping().await.unwrap();
    let now = wall();
    assert_eq!(
        ok(backend.host(&host(), BucketConfig::standard()).reserve(now))
            .await
            .at,
        now
    );

    // Without the private CA the server's certificate is not trusted.
    let untrusting = RedisBackend::new(RedisConfig::new(url.as_str())).unwrap();
    let e = untrusting.ping().await.unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Unavailable, "{e}");
    assert!(!format!("{e}").contains(PASSWORD));
    // Plain text to the TLS port gets nowhere either.
    let plain = RedisBackend::new(
        RedisConfig::new(format!("redis://:{PASSWORD}@127.0.0.1:{tls_port}/"))
            .op_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let e = plain.ping().await.unwrap_err();
    assert!(
        matches!(
            e.kind,
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{e}"
    );
    assert!(matches!(
        RedisBackend::new(RedisConfig::new(url.as_str()).tls_root_ca("not a certificate")),
        Err(b24_redis::ConfigError::InvalidRootCa)
    ));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
