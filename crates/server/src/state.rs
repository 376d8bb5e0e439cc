//! The application state shared by every handler: store, settings, clock,
//! issuer, rules, SMS sender, limits. Built once at start-up.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use healthcode_codec::{CodeIssuer, IssuerKey, SigningKey};
use healthcode_core::regions::Registry;
use healthcode_core::{RuleSet, ShippedRuleSet};
use healthcode_store::Store;
use ring::rand::SystemRandom;

use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::ratelimit::RateLimiter;
use crate::security::PhoneHasher;
use crate::sms::SmsSender;

pub struct Inner<S> {
    pub store: S,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub rng: SystemRandom,
    pub phones: PhoneHasher,
    pub issuer: Mutex<CodeIssuer>,
    pub issuer_id: String,
    pub demo_issuer: bool,
    pub rules: RuleSet,
    pub sms: Arc<dyn SmsSender>,
    pub limiter: RateLimiter,
    /// This deployment's signed trust list, as published at start-up
    /// (`trusted_lists()` has the current one: it is re-signed).
    pub trust_list: String,
    pub publisher_fingerprint: String,
    /// The publisher key: signs the trust list and deletion statements.
    pub publisher: IssuerKey,
    /// Which services are offline (see `lifecycle`).
    pub offline: crate::lifecycle::OfflineBoard,
    /// Checkpoint verification: trust snapshot, revocation list, policies.
    pub checkpoint: crate::checkpoint::Checkpoint,
    /// The regions registry (`healthcode_core::regions`).
    pub registry: Registry,
    /// Publishing and importing trust lists (`crate::federation`).
    pub federation: crate::federation::Federation,
    /// The itinerary card's window, rules and QR lifetime.
    pub itinerary: crate::itinerary::ItineraryState,
}

/// Cheap to clone: one `Arc`.
pub struct AppState<S>(Arc<Inner<S>>);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState(self.0.clone())
    }
}

impl<S> Deref for AppState<S> {
    type Target = Inner<S>;
    fn deref(&self) -> &Inner<S> {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("rule set {name:?}: {why}")]
    Rules { name: String, why: String },
    #[error("trust list: {0}")]
    Trust(String),
}

impl<S: Store> AppState<S> {
    /// Builds the state. `publisher` signs the trust list published at
    /// `/.well-known/healthcode/trust-list.json`; it lists the issuer key.
    pub fn new(
        store: S,
        settings: Settings,
        issuer_key: IssuerKey,
        publisher: &IssuerKey,
        clock: Arc<dyn Clock>,
        sms: Arc<dyn SmsSender>,
    ) -> Result<AppState<S>, StartError> {
        settings.validate()?;
        let rules = load_rules(&settings.rule_set)?;
        let registry = Registry::shipped().map_err(|e| StartError::Trust(e.to_string()))?;
        let itinerary = crate::itinerary::ItineraryState::new(&settings.itinerary)?;
        let rng = SystemRandom::new();
        let now = clock.now();
        let federation =
            crate::federation::Federation::new(&settings, &issuer_key, publisher, now, &rng)
                .map_err(StartError::Trust)?;
        let trust_list = federation.published();
        let publisher_fingerprint = publisher.signing_key.public_key().fingerprint();
        let publisher_copy = IssuerKey {
            issuer: publisher.issuer.clone(),
            signing_key: SigningKey::from_pkcs8(
                publisher.signing_key.algorithm(),
                publisher.signing_key.pkcs8_der(),
                &rng,
            )
            .map_err(|e| StartError::Trust(e.to_string()))?,
            valid_from: publisher.valid_from,
            valid_to: publisher.valid_to,
            demo: publisher.demo,
        };
        let offline = crate::lifecycle::OfflineBoard::new(clock.clone());
        let issuer_id = issuer_key.issuer.clone();
        let demo_issuer = issuer_key.demo;
        let checkpoint = crate::checkpoint::Checkpoint::new(
            std::slice::from_ref(&trust_list),
            publisher,
            settings.demo || demo_issuer,
            now,
            &rng,
        )
        .map_err(StartError::Trust)?;
        Ok(AppState(Arc::new(Inner {
            phones: PhoneHasher::new(settings.phone_hash_secret.expose().as_bytes()),
            store,
            settings,
            clock,
            rng,
            issuer: Mutex::new(CodeIssuer::new(issuer_key)),
            issuer_id,
            demo_issuer,
            rules,
            sms,
            limiter: RateLimiter::default(),
            trust_list,
            publisher_fingerprint,
            publisher: publisher_copy,
            offline,
            registry,
            federation,
            itinerary,
            checkpoint,
        })))
    }

    /// The signed trust-list JSON texts this deployment's verifier and
    /// checkpoints trust: its own (as currently published) and every list
    /// imported from other deployments.
    pub fn trusted_lists(&self) -> Vec<String> {
        let mut lists = vec![self.federation.published()];
        lists.extend(self.federation.imported());
        lists
    }
}

fn load_rules(name: &str) -> Result<RuleSet, StartError> {
    let fail = |why: String| StartError::Rules {
        name: name.to_owned(),
        why,
    };
    if let Some(shipped) = ShippedRuleSet::from_name(name) {
        return shipped.load().map_err(|e| fail(e.to_string()));
    }
    let text = std::fs::read_to_string(name).map_err(|e| fail(e.to_string()))?;
    RuleSet::from_json_str(&text).map_err(|e| fail(e.to_string()))
}
