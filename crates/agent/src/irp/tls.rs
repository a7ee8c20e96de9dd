//! TLS 1.3 to a DIR (irp.md, "Transport"): the server is authenticated by a
//! certificate from the domain's DIR root, which the agent either holds
//! already or knows only by the SHA-256 fingerprint an invite carried. In the
//! second case the DIR's chain must include its root; the root is accepted
//! only if its fingerprint matches, and the server certificate must then
//! verify to it. No trust on first use.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme};
use sixchat_pki::keys::IdentityKey;
use sixchat_proto::Fingerprint;

/// The agent's certificate and key, presented as the TLS client certificate.
#[derive(Clone)]
pub struct ClientAuth {
    /// Leaf first.
    pub chain: Vec<Vec<u8>>,
    pub key: Arc<IdentityKey>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// How the DIR's server certificate is checked.
#[derive(Debug, Clone, Copy)]
pub enum DirTrust<'a> {
    /// The DIR root certificate (DER) the profile stored.
    Root(&'a [u8]),
    /// Only the root's SHA-256, from an invite.
    Fingerprint(Fingerprint),
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn verifier_for_root(
    root_der: &[u8],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .map_err(|e| TlsError::General(format!("the DIR root is unusable: {e}")))?;
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::General(e.to_string()))
}

/// Accepts a server chain only if it carries the pinned root and verifies to it.
#[derive(Debug)]
struct PinnedRoot {
    fingerprint: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedRoot {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let root = intermediates
            .iter()
            .find(|cert| Fingerprint::of_der(cert).ct_eq(&self.fingerprint))
            .ok_or(TlsError::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))?;
        verifier_for_root(root, &self.provider)?.verify_server_cert(
            end_entity,
            &[],
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        // The config allows TLS 1.3 only.
        Err(TlsError::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS 1.3 client config for one DIR.
pub(crate) fn client_config(
    trust: DirTrust<'_>,
    auth: Option<&ClientAuth>,
) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder =
        match trust {
            DirTrust::Root(root_der) => {
                builder.with_webpki_verifier(verifier_for_root(root_der, &provider)?)
            }
            DirTrust::Fingerprint(fingerprint) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedRoot {
                    fingerprint,
                    provider: provider.clone(),
                })),
        };
    match auth {
        None => Ok(builder.with_no_client_auth()),
        Some(auth) => {
            let chain = auth
                .chain
                .iter()
                .map(|der| CertificateDer::from(der.clone()))
                .collect();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(auth.key.pkcs8_der().to_vec()));
            builder.with_client_auth_cert(chain, key)
        }
    }
}

/// The TLS server name for the host part of `host:port`.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| TlsError::General(format!("{host:?} is not a host name or IP address")))
}
