//! The CA operations a directory server (DIR) needs: a root for its domain,
//! identity certificates issued from CSRs, and CRLs. Also intermediates, so
//! that chains longer than one can be tested.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, RevokedCertParams,
    SanType, SerialNumber, SubjectPublicKeyInfo,
};
use sixchat_proto::irp::CertUsage;
use sixchat_proto::{UserId, identity::is_dns_name};
use time::OffsetDateTime;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer as _;

use crate::cert::{self, CertError, RcgenSigner};
use crate::keys::{ALLOWED_KEY_BITS, IdentityKey};
use crate::x509;

/// Why a CA operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    #[error("{0:?} is not a domain name (lowercase ASCII, A-label form)")]
    BadDomain(String),
    #[error("not a readable certificate signing request")]
    BadCsr,
    #[error("the certificate signing request's signature does not verify")]
    CsrSignature,
    #[error("the request must name exactly one UserID and one common name: {0}")]
    CsrNames(String),
    #[error("the request is for {user_id}, but this CA issues only for {domain}")]
    WrongDomain { user_id: String, domain: String },
    #[error("the requested key is not acceptable: {0}")]
    BadKey(String),
    #[error("the time {0} is outside the range certificates can express")]
    BadTime(i64),
    #[error("the validity ends before it starts")]
    EmptyValidity,
    #[error("the CA certificate does not match its key")]
    KeyMismatch,
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("could not sign: {0}")]
    Sign(String),
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(sign_error)`
fn sign_error(e: rcgen::Error) -> CaError {
    CaError::Sign(e.to_string())
}

/// A validity window in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before_unix: i64,
    pub not_after_unix: i64,
}

impl Validity {
    /// From an hour ago until `valid_days` from now.
    pub fn days_from_now(valid_days: u32) -> Result<Self, CaError> {
        let (not_before, not_after) = cert::validity_from(OffsetDateTime::now_utc(), valid_days)?;
        Ok(Self {
            not_before_unix: not_before.unix_timestamp(),
            not_after_unix: not_after.unix_timestamp(),
        })
    }

    fn to_times(self) -> Result<(OffsetDateTime, OffsetDateTime), CaError> {
        if self.not_after_unix <= self.not_before_unix {
            return Err(CaError::EmptyValidity);
        }
        Ok((
            time_of(self.not_before_unix)?,
            time_of(self.not_after_unix)?,
        ))
    }
}

fn time_of(unix: i64) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|_| CaError::BadTime(unix))
}

/// What an identity certificate is issued for.
#[derive(Debug, Clone, Copy)]
pub enum LeafRequest<'a> {
    /// A PKCS#10 request (DER); its self-signature is checked.
    Csr(&'a [u8]),
    /// A public key (DER SubjectPublicKeyInfo) and the names to certify.
    Key {
        spki_der: &'a [u8],
        user_id: &'a UserId,
        name: &'a str,
    },
}

/// A certificate authority for one domain: its key and certificate.
pub struct CertificateAuthority {
    domain: String,
    key: IdentityKey,
    cert_der: Vec<u8>,
    /// The parameters the certificate was made from; `None` when reloaded
    /// with [`CertificateAuthority::from_parts`] (the issuer is then read
    /// back from the certificate).
    params: Option<CertificateParams>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("domain", &self.domain)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A self-signed root for `domain`: CN "SixChat root for `domain`",
    /// CA:true, keyCertSign and cRLSign.
    pub fn new_root(domain: &str, key: IdentityKey, valid_days: u32) -> Result<Self, CaError> {
        let name = format!("SixChat root for {domain}");
        Self::build(
            domain,
            key,
            &name,
            Validity::days_from_now(valid_days)?,
            None,
        )
    }

    /// An intermediate CA for the parent's domain, signed by `parent`.
    pub fn new_intermediate(
        parent: &Self,
        key: IdentityKey,
        name: &str,
        valid_days: u32,
    ) -> Result<Self, CaError> {
        Self::build(
            &parent.domain,
            key,
            name,
            Validity::days_from_now(valid_days)?,
            Some(parent),
        )
    }

    /// Reloads a CA from its key and certificate (as a DIR would at start).
    pub fn from_parts(domain: &str, key: IdentityKey, cert_der: &[u8]) -> Result<Self, CaError> {
        check_domain(domain)?;
        let cert =
            x509::parse_certificate(cert_der).ok_or(CaError::Cert(CertError::Unparseable))?;
        if cert.public_key().raw != key.public_key_spki_der() {
            return Err(CaError::KeyMismatch);
        }
        let ca = Self {
            domain: domain.to_owned(),
            key,
            cert_der: cert_der.to_vec(),
            params: None,
        };
        ca.issuer()?;
        Ok(ca)
    }

    fn build(
        domain: &str,
        key: IdentityKey,
        name: &str,
        validity: Validity,
        parent: Option<&Self>,
    ) -> Result<Self, CaError> {
        check_domain(domain)?;
        let (not_before, not_after) = validity.to_times()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = cert::common_name(name)?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, "SixChat");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(cert::random_serial());
        params.key_identifier_method = KeyIdMethod::Sha256;
        let signer = RcgenSigner(&key);
        let cert_der = match parent {
            None => params
                .self_signed(&signer)
                .map_err(sign_error)?
                .der()
                .to_vec(),
            Some(parent) => {
                params.use_authority_key_identifier_extension = true;
                params
                    .signed_by(&signer, &parent.issuer()?)
                    .map_err(sign_error)?
                    .der()
                    .to_vec()
            }
        };
        Ok(Self {
            domain: domain.to_owned(),
            key,
            cert_der,
            params: Some(params),
        })
    }

    fn issuer(&self) -> Result<Issuer<'_, RcgenSigner<'_>>, CaError> {
        let signer = RcgenSigner(&self.key);
        match &self.params {
            Some(params) => Ok(Issuer::from_params(params, signer)),
            None => {
                Issuer::from_ca_cert_der(&self.cert_der.clone().into(), signer).map_err(sign_error)
            }
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The CA's certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Issues an identity certificate valid from an hour ago for `valid_days`.
    pub fn issue_leaf(
        &self,
        request: LeafRequest<'_>,
        valid_days: u32,
        serial: u64,
    ) -> Result<Vec<u8>, CaError> {
        self.issue_leaf_with_validity(request, Validity::days_from_now(valid_days)?, serial)
    }

    /// Issues an identity certificate for an explicit validity window. The
    /// UserID's domain must be the CA's; the key must be RSA 2048/3072/4096.
    pub fn issue_leaf_with_validity(
        &self,
        request: LeafRequest<'_>,
        validity: Validity,
        serial: u64,
    ) -> Result<Vec<u8>, CaError> {
        self.issue_end_entity(request, validity, serial, CertUsage::Identity)
    }

    /// Issues a mail encryption certificate (keyEncipherment,
    /// emailProtection; mail.md) valid from an hour ago for `valid_days`.
    pub fn issue_encryption(
        &self,
        request: LeafRequest<'_>,
        valid_days: u32,
        serial: u64,
    ) -> Result<Vec<u8>, CaError> {
        self.issue_end_entity(
            request,
            Validity::days_from_now(valid_days)?,
            serial,
            CertUsage::Encryption,
        )
    }

    fn issue_end_entity(
        &self,
        request: LeafRequest<'_>,
        validity: Validity,
        serial: u64,
        usage: CertUsage,
    ) -> Result<Vec<u8>, CaError> {
        let (spki_der, user_id, name) = match request {
            LeafRequest::Csr(csr_der) => read_csr(csr_der)?,
            LeafRequest::Key {
                spki_der,
                user_id,
                name,
            } => (spki_der.to_vec(), user_id.clone(), name.to_owned()),
        };
        if user_id.domain() != self.domain {
            return Err(CaError::WrongDomain {
                user_id: user_id.to_string(),
                domain: self.domain.clone(),
            });
        }
        match x509::rsa_bits_of_spki_der(&spki_der) {
            Some(bits) if ALLOWED_KEY_BITS.contains(&bits) => {}
            Some(bits) => return Err(CaError::BadKey(format!("an RSA key of {bits} bits"))),
            None => return Err(CaError::BadKey("not an RSA key".to_owned())),
        }
        let public_key = SubjectPublicKeyInfo::from_der(&spki_der)
            .map_err(|_| CaError::BadKey("unreadable".to_owned()))?;
        let (not_before, not_after) = validity.to_times()?;
        let make = match usage {
            CertUsage::Identity => cert::identity_params,
            CertUsage::Encryption => cert::encryption_params,
        };
        let mut params = make(
            &user_id,
            &name,
            &spki_der,
            not_before,
            not_after,
            SerialNumber::from(serial),
        )?;
        params.use_authority_key_identifier_extension = true;
        Ok(params
            .signed_by(&public_key, &self.issuer()?)
            .map_err(sign_error)?
            .der()
            .to_vec())
    }

    /// Issues a TLS server certificate for `host` (a DNS name or an IP
    /// address): CN and subjectAltName `host`, serverAuth, valid from an
    /// hour ago for `valid_days`.
    pub fn issue_server(
        &self,
        host: &str,
        spki_der: &[u8],
        valid_days: u32,
        serial: u64,
    ) -> Result<Vec<u8>, CaError> {
        let san = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) if is_dns_name(host) => SanType::DnsName(
                host.try_into()
                    .map_err(|_| CaError::BadDomain(host.chars().take(80).collect()))?,
            ),
            Err(_) => return Err(CaError::BadDomain(host.chars().take(80).collect())),
        };
        let public_key = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|_| CaError::BadKey("unreadable".to_owned()))?;
        let (not_before, not_after) = Validity::days_from_now(valid_days)?.to_times()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = cert::common_name(host)?;
        params.subject_alt_names = vec![san];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // No basicConstraints: see `cert::identity_params`.
        params.is_ca = IsCa::NoCa;
        params.custom_extensions = vec![cert::subject_key_identifier(spki_der)?];
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from(serial));
        params.use_authority_key_identifier_extension = true;
        Ok(params
            .signed_by(&public_key, &self.issuer()?)
            .map_err(sign_error)?
            .der()
            .to_vec())
    }

    /// Issues a CRL listing `revoked_serials`, dated `this_update_unix`, next
    /// due at `next_update_unix`.
    pub fn issue_crl(
        &self,
        revoked_serials: &[u64],
        this_update_unix: i64,
        next_update_unix: i64,
    ) -> Result<Vec<u8>, CaError> {
        let this_update = time_of(this_update_unix)?;
        let next_update = time_of(next_update_unix)?;
        if next_update <= this_update {
            return Err(CaError::EmptyValidity);
        }
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(u64::try_from(this_update_unix).unwrap_or(0)),
            issuing_distribution_point: None,
            revoked_certs: revoked_serials
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: this_update,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params
            .signed_by(&self.issuer()?)
            .map_err(sign_error)?
            .der()
            .to_vec())
    }
}

fn check_domain(domain: &str) -> Result<(), CaError> {
    if is_dns_name(domain) {
        Ok(())
    } else {
        Err(CaError::BadDomain(domain.chars().take(80).collect()))
    }
}

/// What a certificate signing request asks for, read once its
/// self-signature (proof of possession) has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The requested key, a DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    pub user_id: UserId,
    /// The common name (display name).
    pub name: String,
    /// The RSA modulus size, if the key is RSA.
    pub key_bits: Option<usize>,
}

/// Reads a PKCS#10 request: checks its self-signature and takes its key, its
/// single rfc822Name and its single CN.
pub fn read_csr_info(csr_der: &[u8]) -> Result<CsrInfo, CaError> {
    let (spki_der, user_id, name) = read_csr(csr_der)?;
    let key_bits = x509::rsa_bits_of_spki_der(&spki_der);
    Ok(CsrInfo {
        spki_der,
        user_id,
        name,
        key_bits,
    })
}

/// Reads a CSR: checks its self-signature, takes its key, single rfc822Name and CN.
fn read_csr(csr_der: &[u8]) -> Result<(Vec<u8>, UserId, String), CaError> {
    let Ok(([], csr)) = X509CertificationRequest::from_der(csr_der) else {
        return Err(CaError::BadCsr);
    };
    let info = &csr.certification_request_info;
    x509::verify_signature(
        &info.subject_pki,
        &csr.signature_algorithm,
        &csr.signature_value.data,
        info.raw,
    )
    .map_err(|_| CaError::CsrSignature)?;
    let mut emails = Vec::new();
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    if let x509_parser::extensions::GeneralName::RFC822Name(email) = name {
                        emails.push((*email).to_owned());
                    }
                }
            }
        }
    }
    let [email] = emails.as_slice() else {
        return Err(CaError::CsrNames(format!(
            "it names {} UserIDs",
            emails.len()
        )));
    };
    let user_id = UserId::parse(email).map_err(|e| CaError::CsrNames(e.to_string()))?;
    let names: Vec<_> = info
        .subject
        .iter_common_name()
        .map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    let name = match names.as_slice() {
        [Some(one)] => one.clone(),
        other => {
            return Err(CaError::CsrNames(format!(
                "it has {} readable common names",
                other.len()
            )));
        }
    };
    Ok((info.subject_pki.raw.to_vec(), user_id, name))
}
