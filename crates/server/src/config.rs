//! Server settings: a value built at start-up (file, then environment, with
//! `*_FILE` variants for secrets) and handed to the app state.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::i18n::Text;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid settings: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("setting {name}: {why}")]
    Invalid { name: &'static str, why: String },
}

/// A secret: never printed.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "(unset)"
        } else {
            "(redacted)"
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// This deployment's region (issuing authority) id, e.g. `cn-22`.
    pub region_id: String,
    pub region_name: Text,
    /// What the region's code is called, e.g. 演示健康码 / DEMO Health Code.
    pub code_name: Text,
    /// `national`, `jilin`, or the path of a rule-set file.
    pub rule_set: String,
    /// The issuer's signing key file (from `healthcode keys generate`).
    pub issuer_key_file: Option<PathBuf>,
    /// The key that signs the published trust list; the issuer key if unset.
    pub publisher_key_file: Option<PathBuf>,
    /// Seconds a code shown on a phone stays valid; the page refreshes it first.
    pub code_ttl_seconds: i64,
    pub otp_ttl_seconds: i64,
    pub otp_max_attempts: u32,
    pub citizen_session_hours: i64,
    pub official_session_hours: i64,
    /// Key for hashing phone numbers at rest (`HEALTHCODE_PHONE_HASH_SECRET`
    /// or `..._FILE`). Changing it orphans every stored phone hash.
    pub phone_hash_secret: Secret,
    /// A demonstration deployment: DEMO marks everywhere, outbox page shown.
    pub demo: bool,
    /// The itinerary card (`[itinerary]`: window_days, lag_hours, card_ttl_seconds, rule_set).
    pub itinerary: crate::itinerary::ItinerarySettings,
    /// A region's authority or the national platform (see docs/federation.md).
    pub authority: Authority,
    /// The region's GB/T 2260 code in the registry (`22`; `00` for the
    /// national platform); by default the digits ending `region_id`.
    pub registry_region: Option<String>,
    /// A city deployment's GB/T 2260 code (`6101` for the Xi'an code).
    pub city: Option<String>,
    /// The national platform's address: a regional deployment that names it
    /// refuses passports and permits, pointing travellers there.
    pub national_platform: Option<String>,
    /// Public key files published in the trust list beside the issuing key
    /// (key rotation): the next key before it signs, the previous one until
    /// its last code has expired. See docs/federation.md.
    pub published_key_files: Vec<PathBuf>,
    /// Hours until the published trust list's next update (re-signed sooner).
    pub trust_list_hours: i64,
    /// Seconds between refreshes of trust lists imported by URL.
    pub trust_refresh_seconds: u64,
}

/// What kind of issuing authority a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Authority {
    /// A provincial-level region (or a city within one).
    #[default]
    Region,
    /// The national platform: issues the traveller version to people
    /// without a mainland ID.
    National,
}

impl Authority {
    pub const fn as_str(self) -> &'static str {
        match self {
            Authority::Region => "region",
            Authority::National => "national",
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region_id: "DEMO-22".into(),
            region_name: Text::new("演示地区", "Demo region"),
            code_name: Text::new("演示健康码", "DEMO Health Code"),
            rule_set: "jilin".into(),
            issuer_key_file: None,
            publisher_key_file: None,
            code_ttl_seconds: 120,
            otp_ttl_seconds: 300,
            otp_max_attempts: 5,
            citizen_session_hours: 24 * 7,
            official_session_hours: 12,
            phone_hash_secret: Secret::default(),
            demo: false,
            authority: Authority::Region,
            registry_region: None,
            city: None,
            national_platform: None,
            published_key_files: Vec::new(),
            trust_list_hours: 24,
            trust_refresh_seconds: 3600,
            itinerary: crate::itinerary::ItinerarySettings::default(),
        }
    }
}

impl Settings {
    /// Reads a TOML file (if given), then applies `HEALTHCODE_*` variables
    /// from `env` (a `*_FILE` variable names a file holding the value).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => Settings::default(),
        };
        let read = |name: &str| -> Result<Option<String>, ConfigError> {
            if let Some(v) = env(name) {
                return Ok(Some(v));
            }
            match env(&format!("{name}_FILE")) {
                Some(path) => std::fs::read_to_string(&path)
                    .map(|v| Some(v.trim_end_matches(['\n', '\r']).to_owned()))
                    .map_err(|source| ConfigError::Read {
                        path: path.into(),
                        source,
                    }),
                None => Ok(None),
            }
        };
        if let Some(v) = read("HEALTHCODE_REGION_ID")? {
            s.region_id = v;
        }
        if let Some(v) = read("HEALTHCODE_RULE_SET")? {
            s.rule_set = v;
        }
        if let Some(v) = read("HEALTHCODE_ISSUER_KEY_FILE")? {
            s.issuer_key_file = Some(v.into());
        }
        if let Some(v) = read("HEALTHCODE_PUBLISHER_KEY_FILE")? {
            s.publisher_key_file = Some(v.into());
        }
        if let Some(v) = read("HEALTHCODE_AUTHORITY")? {
            s.authority = match v.trim() {
                "region" => Authority::Region,
                "national" => Authority::National,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "HEALTHCODE_AUTHORITY",
                        why: format!("{v:?} is neither region nor national"),
                    })
                }
            };
        }
        if let Some(v) = read("HEALTHCODE_NATIONAL_PLATFORM")? {
            s.national_platform = Some(v);
        }
        if let Some(v) = read("HEALTHCODE_PHONE_HASH_SECRET")? {
            s.phone_hash_secret = Secret::new(v);
        }
        if let Some(v) = read("HEALTHCODE_CODE_TTL_SECONDS")? {
            s.code_ttl_seconds = v.parse().map_err(|_| ConfigError::Invalid {
                name: "HEALTHCODE_CODE_TTL_SECONDS",
                why: format!("{v:?} is not a number of seconds"),
            })?;
        }
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(30..=31 * 86_400).contains(&self.code_ttl_seconds) {
            return Err(ConfigError::Invalid {
                name: "code_ttl_seconds",
                why: "must be between 30 seconds and 31 days".into(),
            });
        }
        if self.phone_hash_secret.expose().len() < 16 {
            return Err(ConfigError::Invalid {
                name: "phone_hash_secret",
                why:
                    "must be set (HEALTHCODE_PHONE_HASH_SECRET or ..._FILE), at least 16 characters"
                        .into(),
            });
        }
        if self.region_id.trim().is_empty() {
            return Err(ConfigError::Invalid {
                name: "region_id",
                why: "must not be empty".into(),
            });
        }
        let registry =
            healthcode_core::regions::Registry::shipped().map_err(|e| ConfigError::Invalid {
                name: "registry_region",
                why: e.to_string(),
            })?;
        match (self.registry_region.clone(), self.authority) {
            (Some(code), Authority::National) if code != healthcode_core::regions::NATIONWIDE => {
                return Err(ConfigError::Invalid {
                    name: "registry_region",
                    why: format!("the national platform is region 00, not {code}"),
                })
            }
            (Some(code), _) if registry.region(&code).is_none() => {
                return Err(ConfigError::Invalid {
                    name: "registry_region",
                    why: format!("{code} is not a region of the registry (GB/T 2260)"),
                })
            }
            _ => {}
        }
        if let Some(city) = &self.city {
            let known = self
                .registry_region()
                .and_then(|r| registry.region(&r).and_then(|r| r.city(city)).map(|_| ()));
            if known.is_none() {
                return Err(ConfigError::Invalid {
                    name: "city",
                    why: format!("{city} is not a city of this region in the registry"),
                });
            }
        }
        if let Some(url) = &self.national_platform {
            if self.authority == Authority::National {
                return Err(ConfigError::Invalid {
                    name: "national_platform",
                    why: "the national platform does not point travellers elsewhere".into(),
                });
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "national_platform",
                    why: format!("{url:?} is not an http(s) address"),
                });
            }
        }
        if !(1..=24 * 31).contains(&self.trust_list_hours) {
            return Err(ConfigError::Invalid {
                name: "trust_list_hours",
                why: "must be between 1 hour and 31 days".into(),
            });
        }
        if !(10..=7 * 86_400).contains(&self.trust_refresh_seconds) {
            return Err(ConfigError::Invalid {
                name: "trust_refresh_seconds",
                why: "must be between 10 seconds and 7 days".into(),
            });
        }
        Ok(())
    }

    /// The region's code in the registry: `registry_region`, or the digits
    /// ending `region_id` (`cn-22`, `DEMO-22` → `22`); none if neither.
    pub fn registry_region(&self) -> Option<String> {
        if let Some(code) = &self.registry_region {
            return Some(code.trim().to_owned());
        }
        if self.authority == Authority::National {
            return Some(healthcode_core::regions::NATIONWIDE.to_owned());
        }
        let digits: String = self
            .region_id
            .rsplit(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_owned();
        (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn file_then_environment_then_secret_files() {
        let dir = std::env::temp_dir().join(format!("hc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("healthcode.toml");
        std::fs::write(
            &file,
            "region_id = \"cn-22\"\nrule_set = \"national\"\ncode_ttl_seconds = 90\n",
        )
        .unwrap();
        let secret = dir.join("secret");
        std::fs::write(&secret, "a-secret-of-sufficient-length\n").unwrap();
        let env: HashMap<&str, String> = [
            ("HEALTHCODE_RULE_SET", "jilin".to_owned()),
            (
                "HEALTHCODE_PHONE_HASH_SECRET_FILE",
                secret.to_string_lossy().into_owned(),
            ),
        ]
        .into();
        let s = Settings::load(Some(&file), |k| env.get(k).cloned()).unwrap();
        assert_eq!(s.region_id, "cn-22");
        assert_eq!(s.rule_set, "jilin", "the environment overrides the file");
        assert_eq!(s.code_ttl_seconds, 90);
        assert_eq!(
            s.phone_hash_secret.expose(),
            "a-secret-of-sufficient-length"
        );
        assert_eq!(format!("{:?}", s.phone_hash_secret), "(redacted)");
        assert!(
            !format!("{s:?}").contains("sufficient"),
            "Debug must not print secrets"
        );

        // No secret at all, an unknown key, a bad number: clear errors.
        let err = Settings::load(Some(&file), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("phone_hash_secret"), "{err}");
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        let err = Settings::load(Some(&file), |k| env.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let bad: HashMap<&str, String> = [
            (
                "HEALTHCODE_PHONE_HASH_SECRET",
                "a-secret-of-sufficient-length".to_owned(),
            ),
            ("HEALTHCODE_CODE_TTL_SECONDS", "soon".to_owned()),
        ]
        .into();
        let err = Settings::load(None, |k| bad.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(err.contains("HEALTHCODE_CODE_TTL_SECONDS"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
