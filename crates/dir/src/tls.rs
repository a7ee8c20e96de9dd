//! The TLS side: TLS 1.3 only (aws-lc-rs), the server certificate issued by
//! the domain root, and client certificates that are optional but, when
//! presented, must chain to that root (rustls' WebPKI verifier checks the
//! chain, the validity period and clientAuth). Whether a verified
//! certificate still counts (not revoked) is decided per request from the
//! database.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The server configuration: `chain` is the server certificate then the
/// root, `key_pkcs8` its key, `root_der` the only client trust anchor.
pub fn server_config(
    chain: &[Vec<u8>],
    key_pkcs8: &[u8],
    root_der: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(root_der.to_vec()))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let certs = chain
        .iter()
        .map(|der| CertificateDer::from(der.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = Vec::new();
    // No resumption tickets: every connection shows its certificate again,
    // so a revoked one is seen at once.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}
