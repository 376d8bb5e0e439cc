//! Pure domain of the health-code platform.
//!
//! Nothing here performs I/O, reads the clock or draws randomness: time and
//! randomness are parameters, so every function is deterministic and testable.
#![forbid(unsafe_code)]

pub mod audit;
pub mod bilingual;
pub mod certlogic;
pub mod checkpoint;
pub mod colour;
pub mod facts;
pub mod identity;
pub mod itinerary;
pub mod mask;
pub mod regions;
pub mod rules;
pub mod status;
pub mod tracing;
pub mod view;

pub use audit::{AuditEntry, AuditLog, AuditRecord, ChainBreak, ChainVerifier, Digest};
pub use bilingual::Bilingual;
pub use colour::{CodeKind, Colour};
pub use facts::{Event, EventId, Fact, OfficialId, Override, OverrideRequest, Source};
pub use identity::{Identity, IdentityError, Passport, ResidentId, TravelPermit};
pub use rules::{Rule, RuleSet, RuleSetError, ShippedRuleSet};
pub use status::{ColourDecision, DecisionBasis, FiredRule};
pub use view::DataView;
