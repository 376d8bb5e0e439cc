//! EU DCC document signer certificates (DSC): the X.509 certificates whose
//! keys sign `HC1:` codes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use thiserror::Error;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::keys::{KeyError, PublicKey, KID_LEN};

/// Extended key usage OIDs that restrict what a DSC may sign. Both the
/// registered arc and the erroneous `.0.1847` arc seen in the wild count.
const OIDS_TEST: [&str; 2] = ["1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1"];
const OIDS_VACCINATION: [&str; 2] = ["1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2"];
const OIDS_RECOVERY: [&str; 2] = ["1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3"];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertificateError {
    #[error("certificate is neither DER, PEM nor base64 DER")]
    Encoding,
    #[error("certificate is not valid X.509: {0}")]
    X509(String),
    #[error("certificate key: {0}")]
    Key(#[from] KeyError),
}

/// The three kinds of EU DCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DccType {
    Test,
    Vaccination,
    Recovery,
}

impl DccType {
    pub const fn as_str(self) -> &'static str {
        match self {
            DccType::Test => "test",
            DccType::Vaccination => "vaccination",
            DccType::Recovery => "recovery",
        }
    }
}

/// Which DCC types a certificate may sign. A certificate without any DCC
/// usage OID may sign all three.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DccUsage {
    pub restricted: bool,
    pub test: bool,
    pub vaccination: bool,
    pub recovery: bool,
}

impl DccUsage {
    pub fn allows(&self, kind: DccType) -> bool {
        !self.restricted
            || match kind {
                DccType::Test => self.test,
                DccType::Vaccination => self.vaccination,
                DccType::Recovery => self.recovery,
            }
    }

    fn from_oids<'a>(oids: impl Iterator<Item = &'a str>) -> DccUsage {
        let mut usage = DccUsage::default();
        for oid in oids {
            if OIDS_TEST.contains(&oid) {
                usage.test = true;
            } else if OIDS_VACCINATION.contains(&oid) {
                usage.vaccination = true;
            } else if OIDS_RECOVERY.contains(&oid) {
                usage.recovery = true;
            }
        }
        usage.restricted = usage.test || usage.vaccination || usage.recovery;
        usage
    }
}

#[derive(Debug, Clone)]
pub struct DscCertificate {
    pub der: Vec<u8>,
    /// First 8 bytes of the SHA-256 of the DER certificate.
    pub kid: [u8; KID_LEN],
    pub public_key: PublicKey,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub usage: DccUsage,
    pub subject: String,
}

impl DscCertificate {
    /// Reads a certificate given as DER, PEM, or bare base64 of the DER.
    pub fn parse(input: &[u8]) -> Result<DscCertificate, CertificateError> {
        let der = decode_certificate_encoding(input)?;
        Self::from_der(der)
    }

    pub fn from_der(der: Vec<u8>) -> Result<DscCertificate, CertificateError> {
        let (rest, cert) =
            X509Certificate::from_der(&der).map_err(|e| CertificateError::X509(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertificateError::X509(format!(
                "{} bytes after the certificate",
                rest.len()
            )));
        }
        let public_key = PublicKey::from_parsed_spki(cert.public_key())?;
        let validity = cert.validity();
        let eku_oids: Vec<String> = match cert.extended_key_usage() {
            Ok(Some(eku)) => eku.value.other.iter().map(|o| o.to_id_string()).collect(),
            Ok(None) => Vec::new(),
            Err(e) => return Err(CertificateError::X509(e.to_string())),
        };
        let usage = DccUsage::from_oids(eku_oids.iter().map(String::as_str));
        let subject = cert.subject().to_string();
        let not_before = validity.not_before.timestamp();
        let not_after = validity.not_after.timestamp();
        let digest = Sha256::digest(&der);
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&digest[..KID_LEN]);
        Ok(DscCertificate {
            der,
            kid,
            public_key,
            not_before,
            not_after,
            usage,
            subject,
        })
    }
}

fn decode_certificate_encoding(input: &[u8]) -> Result<Vec<u8>, CertificateError> {
    // DER starts with a SEQUENCE tag; anything else is treated as text.
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(input).map_err(|_| CertificateError::Encoding)?;
    let body: String = if text.contains("-----BEGIN") {
        text.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect()
    } else {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    };
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if body.is_empty() {
        return Err(CertificateError::Encoding);
    }
    B64.decode(body.as_bytes())
        .map_err(|_| CertificateError::Encoding)
}
