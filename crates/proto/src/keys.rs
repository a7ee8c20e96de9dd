//! The key schedule (protocol.md, "Key schedule"): HKDF-SHA256 with the TLS 1.3
//! HkdfLabel shape and the prefix `"sixchat "`.

use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// A 32-byte secret that is wiped when dropped.
pub type Secret = Zeroizing<[u8; 32]>;

type HmacSha256 = Hmac<Sha256>;

/// `Label(S, label, ctx, n)`; `n` is at most 255 * 32 (HKDF's limit), and every
/// caller here asks for at most 32 bytes.
pub fn label(secret: &[u8], label: &str, context: &[u8], n: usize) -> Zeroizing<Vec<u8>> {
    label_with_prefix(secret, "sixchat ", label, context, n)
}

/// `Label` with another prefix, so RFC 8448's `"tls13 "` values can be checked.
pub fn label_with_prefix(
    secret: &[u8],
    prefix: &str,
    label: &str,
    context: &[u8],
    n: usize,
) -> Zeroizing<Vec<u8>> {
    let full_label = [prefix.as_bytes(), label.as_bytes()].concat();
    let mut info = Vec::with_capacity(4 + full_label.len() + context.len());
    info.extend_from_slice(&(n as u16).to_be_bytes());
    info.push(full_label.len() as u8);
    info.extend_from_slice(&full_label);
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let mut out = Zeroizing::new(vec![0u8; n]);
    // A PRK shorter than the hash is refused by HKDF; every secret here is 32 bytes,
    // and n <= 32 is far below HKDF's 255 * 32 output limit.
    let hkdf = Hkdf::<Sha256>::from_prk(secret).expect("secrets in the schedule are 32 bytes");
    hkdf.expand(&info, &mut out)
        .expect("outputs in the schedule are at most 32 bytes");
    out
}

/// `Label(S, label, ctx, 32)` as a fixed-size secret.
pub fn label32(secret: &[u8], name: &str, context: &[u8]) -> Secret {
    let out = label(secret, name, context, 32);
    let mut fixed = Zeroizing::new([0u8; 32]);
    fixed.copy_from_slice(&out);
    fixed
}

/// `HKDF-Extract(salt, ikm)`.
pub fn extract(salt: &[u8], ikm: &[u8]) -> Secret {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&prk);
    out
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    hash.finalize().into()
}

/// Compares two MACs or hashes in constant time.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The secrets after message 4: `HS` and the handshake traffic secrets.
pub struct HandshakeSecrets {
    pub hs: Secret,
    pub i_hs: Secret,
    pub r_hs: Secret,
    pub fk_i: Secret,
    pub fk_r: Secret,
    pub ms: Secret,
    pub fk_fin_i: Secret,
    pub fk_fin_r: Secret,
}

impl HandshakeSecrets {
    pub fn derive(dh: &[u8; 32], th4: &[u8; 32]) -> Self {
        let hs = extract(&[0u8; 32], dh);
        let i_hs = label32(&hs[..], "i hs traffic", th4);
        let r_hs = label32(&hs[..], "r hs traffic", th4);
        let fk_i = label32(&i_hs[..], "finished", b"");
        let fk_r = label32(&r_hs[..], "finished", b"");
        let derived = label32(&hs[..], "derived", b"");
        let ms = extract(&derived[..], &[0u8; 32]);
        let fk_fin_i = label32(&ms[..], "i finished", b"");
        let fk_fin_r = label32(&ms[..], "r finished", b"");
        Self {
            hs,
            i_hs,
            r_hs,
            fk_i,
            fk_r,
            ms,
            fk_fin_i,
            fk_fin_r,
        }
    }

    /// `i_ap`, `r_ap` and `exp` once TH(11) is known.
    pub fn application(&self, th11: &[u8; 32]) -> ApplicationSecrets {
        ApplicationSecrets {
            i_ap: label32(&self.ms[..], "i ap traffic", th11),
            r_ap: label32(&self.ms[..], "r ap traffic", th11),
            exporter: label32(&self.ms[..], "exporter", th11),
        }
    }

    /// The short authentication string's four bytes.
    pub fn sas_bytes(&self, pub_i: &[u8; 32], pub_r: &[u8; 32], s_r: &[u8; 32]) -> [u8; 4] {
        let context = sha256(&[pub_i, pub_r, s_r]);
        let out = label(&self.hs[..], "sas", &context, 4);
        [out[0], out[1], out[2], out[3]]
    }
}

/// The application traffic secrets and the exporter.
pub struct ApplicationSecrets {
    pub i_ap: Secret,
    pub r_ap: Secret,
    pub exporter: Secret,
}

/// The six digits shown to a person: `u32 % 1 000 000` as `012 345`.
pub fn sas_display(sas: [u8; 4]) -> String {
    let code = u32::from_be_bytes(sas) % 1_000_000;
    format!("{:03} {:03}", code / 1000, code % 1000)
}

/// The running transcript hash: `TH(n)` is SHA-256 over `u32(len) ‖ bytes` of
/// messages 1..n.
#[derive(Clone, Default)]
pub struct Transcript {
    hash: Sha256,
}

impl Transcript {
    pub fn add(&mut self, message: &[u8]) {
        self.hash.update((message.len() as u32).to_be_bytes());
        self.hash.update(message);
    }

    pub fn current(&self) -> [u8; 32] {
        self.hash.clone().finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 section 3: with the `"tls13 "` prefix the same Label reproduces
    /// TLS 1.3's Derive-Secret(early, "derived", "").
    #[test]
    fn label_reproduces_rfc8448() {
        let early = extract(&[0u8; 32], &[0u8; 32]);
        assert_eq!(
            early.to_vec(),
            hex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
        );
        let empty_hash = sha256(&[]);
        let derived = label_with_prefix(&early[..], "tls13 ", "derived", &empty_hash, 32);
        assert_eq!(
            derived.to_vec(),
            hex("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
        );
    }

    #[test]
    fn sas_is_six_digits_with_a_space() {
        assert_eq!(sas_display(1_279_916_479u32.to_be_bytes()), "916 479");
        assert_eq!(sas_display(12_345u32.to_be_bytes()), "012 345");
    }
}
