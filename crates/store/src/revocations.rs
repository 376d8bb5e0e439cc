//! Revoked codes: an official revokes a code id with a reason; the server
//! publishes the ids in a signed revocation list that checkpoints load.

use std::future::Future;

use time::OffsetDateTime;

use crate::Result;

/// Length of a code id (the code's pseudonymous `cti`).
pub const CODE_ID_LEN: usize = 16;

/// One revoked code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub code_id: [u8; CODE_ID_LEN],
    /// Why, as the official wrote it (shown to officials, never published).
    pub reason: String,
    /// The official's username.
    pub revoked_by: String,
    pub revoked_at: OffsetDateTime,
}

/// Persistence of revocations. A code id is revoked at most once
/// (`Conflict` on a second revocation).
pub trait RevocationStore: Send + Sync {
    fn revoke_code(&self, revocation: &Revocation) -> impl Future<Output = Result<()>> + Send;
    /// Every revocation, oldest first (then by code id).
    fn revocations(&self) -> impl Future<Output = Result<Vec<Revocation>>> + Send;
}
