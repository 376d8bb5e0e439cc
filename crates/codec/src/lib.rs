//! The health-code wire format and its offline verifier.
//!
//! ```text
//! claims (CBOR) → COSE_Sign1 (EdDSA | ES256, kid) → zlib → Base45 → "HCP1:" → QR
//! ```
//! The same stack decodes and verifies EU Digital COVID Certificates
//! (`HC1:`), which lets public test vectors check every layer.
#![forbid(unsafe_code)]

pub mod base45;
pub mod cbor;
pub mod checkpoint;
pub mod claims;
pub mod compress;
pub mod cose;
pub mod dcc;
pub mod deletion;
pub mod document;
pub mod issue;
pub mod keyfile;
pub mod keys;
pub mod qr;
pub mod report;
pub mod sample;
pub mod sealed;
pub mod trust;
pub mod verify;

pub use claims::Claims;
pub use issue::{CodeIssuer, CodeRequest, IssuedCode};
pub use keyfile::IssuerKey;
pub use keys::{Algorithm, PublicKey, SigningKey};
pub use trust::{TrustList, TrustStore};
pub use verify::{Authentic, Format, Reason, Rejection, Verifier, VerifyOptions, PREFIX};
