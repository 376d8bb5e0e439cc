//! The itinerary card (行程卡): carriers' stay records in, risk areas
//! published by officials, and the card a citizen queries with their phone,
//! an SMS code and explicit consent. The computation is
//! `healthcode_core::itinerary`; this module is its service, JSON API and
//! pages.

pub mod api;
pub mod pages;
pub mod records;
pub mod service;

use std::path::PathBuf;

use axum::Router;
use healthcode_core::itinerary::{CardRuleSet, CardWindow};
use healthcode_store::Store;
use serde::Deserialize;

use crate::state::{AppState, StartError};

/// `[itinerary]` in the settings file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItinerarySettings {
    /// The card covers this many days: 14 (the default) or 7.
    pub window_days: u32,
    /// Carrier data reaches the card this late (24 h, as on the national
    /// service): stays after `now − lag` are not shown yet.
    pub lag_hours: u32,
    /// Seconds the card's QR code stays valid.
    pub card_ttl_seconds: i64,
    /// A card rule-set file; the shipped `itinerary-card.json` if unset.
    pub rule_set: Option<PathBuf>,
}

impl Default for ItinerarySettings {
    fn default() -> Self {
        ItinerarySettings {
            window_days: 14,
            lag_hours: 24,
            card_ttl_seconds: 300,
            rule_set: None,
        }
    }
}

/// What the itinerary service keeps in the app state.
#[derive(Debug, Clone)]
pub struct ItineraryState {
    pub window: CardWindow,
    pub rules: CardRuleSet,
    pub card_ttl_seconds: i64,
}

impl ItineraryState {
    pub fn new(settings: &ItinerarySettings) -> Result<ItineraryState, StartError> {
        let fail = |name: &str, why: String| StartError::Rules {
            name: name.to_owned(),
            why,
        };
        let window = CardWindow::new(settings.window_days, settings.lag_hours)
            .map_err(|e| fail("itinerary window", e.to_string()))?;
        if !(30..=3600).contains(&settings.card_ttl_seconds) {
            return Err(fail(
                "itinerary card_ttl_seconds",
                "must be 30 to 3600 seconds".into(),
            ));
        }
        let rules = match &settings.rule_set {
            None => CardRuleSet::shipped(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| fail(&path.display().to_string(), e.to_string()))?;
                CardRuleSet::from_json_str(&text)
            }
        }
        .map_err(|e| fail("itinerary card rules", e.to_string()))?;
        Ok(ItineraryState {
            window,
            rules,
            card_ttl_seconds: settings.card_ttl_seconds,
        })
    }
}

/// Every itinerary route: pages and API.
pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .merge(api::routes::<S>())
        .merge(pages::routes::<S>())
}
