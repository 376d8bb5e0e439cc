//! The regions registry: provincial-level regions (GB/T 2260 codes), their
//! cities with codes of their own, what each region's code is called (and
//! was called), and which apps could apply for it or only show it.
//!
//! The data is `data/regions.toml` (its header says where it came from),
//! embedded at build time and checked by [`Registry::parse`]: a deployment
//! decides what a channel may do from it ([`Registry::capability`]), and the
//! guide page renders it.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The registry shipped with the platform.
pub const REGISTRY_TOML: &str = include_str!("../data/regions.toml");

/// The code of the nationwide entry (the national platform).
pub const NATIONWIDE: &str = "00";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("the regions file is not valid TOML: {0}")]
    Toml(String),
    #[error("region {region}: {why}")]
    Region { region: String, why: String },
}

/// The partner apps of the support matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum App {
    Alipay,
    Wechat,
    Unionpay,
}

impl App {
    pub const ALL: [App; 3] = [App::Alipay, App::Wechat, App::Unionpay];

    pub const fn as_str(self) -> &'static str {
        match self {
            App::Alipay => "alipay",
            App::Wechat => "wechat",
            App::Unionpay => "unionpay",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            App::Alipay => "支付宝",
            App::Wechat => "微信",
            App::Unionpay => "云闪付",
        }
    }

    pub const fn name_en(self) -> &'static str {
        match self {
            App::Alipay => "Alipay",
            App::Wechat => "WeChat",
            App::Unionpay => "UnionPay",
        }
    }

    pub fn parse(s: &str) -> Option<App> {
        App::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far an app supports a region's code (one cell of the matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    /// Apply and show.
    Full,
    /// Show a code applied for elsewhere, never apply.
    ShowOnly,
    /// See the region's note for this app.
    Conditional,
    /// Not offered.
    None,
}

impl Support {
    pub const fn as_str(self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::ShowOnly => "show-only",
            Support::Conditional => "conditional",
            Support::None => "none",
        }
    }

    pub const fn label_zh(self) -> &'static str {
        match self {
            Support::Full => "支持",
            Support::ShowOnly => "仅展示",
            Support::Conditional => "有条件的支持（见备注）",
            Support::None => "不支持",
        }
    }

    pub const fn label_en(self) -> &'static str {
        match self {
            Support::Full => "Full support",
            Support::ShowOnly => "Show only",
            Support::Conditional => "Conditional (see notes)",
            Support::None => "Not supported",
        }
    }
}

/// The three apps' support for one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    pub alipay: Support,
    pub wechat: Support,
    pub unionpay: Support,
}

impl Channels {
    pub const fn get(&self, app: App) -> Support {
        match app {
            App::Alipay => self.alipay,
            App::Wechat => self.wechat,
            App::Unionpay => self.unionpay,
        }
    }
}

/// A city with a code of its own (苏城码, 西安一码通, 杭州健康码).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct City {
    /// GB/T 2260 prefecture code (4 digits, starting with the region's).
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub code_name: String,
}

/// A footnote of the matrix, about one app in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub channel: App,
    /// For a conditional cell: the only cities whose code the app supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_cities: Vec<String>,
    pub zh: String,
    pub en: String,
}

/// One provincial-level region (or the nationwide entry, code `00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// GB/T 2260 province code (2 digits); `00` is nationwide.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The code's name in the support table; empty where the table has none.
    pub code_name: String,
    /// Other and historical names of the code.
    pub aliases: Vec<String>,
    /// Other apps that offered the code.
    pub other_apps: Vec<String>,
    /// Web pages where the code was offered (historical; never linked).
    pub web: Vec<String>,
    pub channels: Channels,
    #[serde(default, rename = "city")]
    pub cities: Vec<City>,
    #[serde(default, rename = "note")]
    pub notes: Vec<Note>,
}

impl Region {
    pub fn is_nationwide(&self) -> bool {
        self.code == NATIONWIDE
    }

    pub fn note(&self, app: App) -> Option<&Note> {
        self.notes.iter().find(|n| n.channel == app)
    }

    pub fn city(&self, code: &str) -> Option<&City> {
        self.cities.iter().find(|c| c.code == code)
    }

    /// Matches the region's code, either name, the code's name, an alias or
    /// a city (code, name or code name), case-insensitively for Latin text.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return true;
        }
        let hit = |s: &str| !s.is_empty() && s.to_lowercase().contains(&q);
        self.code == q
            || hit(&self.name_zh)
            || hit(&self.name_en)
            || hit(&self.code_name)
            || self.aliases.iter().any(|a| hit(a))
            || self
                .cities
                .iter()
                .any(|c| c.code == q || hit(&c.name_zh) || hit(&c.name_en) || hit(&c.code_name))
    }
}

/// What a channel may do with codes of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    None,
    ShowOnly,
    Apply,
}

impl Capability {
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::None => "none",
            Capability::ShowOnly => "show_only",
            Capability::Apply => "apply",
        }
    }

    pub const fn may_show(self) -> bool {
        matches!(self, Capability::ShowOnly | Capability::Apply)
    }

    pub const fn may_apply(self) -> bool {
        matches!(self, Capability::Apply)
    }
}

/// The whole table, in GB/T 2260 order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    pub regions: Vec<Region>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    region: Vec<Region>,
}

impl Registry {
    /// The registry shipped in `data/regions.toml`.
    pub fn shipped() -> Result<Registry, RegistryError> {
        Registry::parse(REGISTRY_TOML)
    }

    /// Parses and checks a registry file.
    pub fn parse(text: &str) -> Result<Registry, RegistryError> {
        let file: RegistryFile =
            toml::from_str(text).map_err(|e| RegistryError::Toml(e.to_string()))?;
        let registry = Registry {
            regions: file.region,
        };
        registry.validate()?;
        Ok(registry)
    }

    fn validate(&self) -> Result<(), RegistryError> {
        let mut last: Option<&str> = None;
        let mut cities = BTreeSet::new();
        for r in &self.regions {
            let fail = |why: String| RegistryError::Region {
                region: r.code.clone(),
                why,
            };
            if r.code.len() != 2 || !r.code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail("the code is not two digits (GB/T 2260)".into()));
            }
            if last.is_some_and(|l| l >= r.code.as_str()) {
                return Err(fail(
                    "regions must be in ascending code order, each once".into(),
                ));
            }
            last = Some(&r.code);
            if r.name_zh.trim().is_empty() || r.name_en.trim().is_empty() {
                return Err(fail("needs a Chinese and an English name".into()));
            }
            if r.aliases
                .iter()
                .chain(&r.other_apps)
                .any(|s| s.trim().is_empty())
            {
                return Err(fail("an alias or app name is empty".into()));
            }
            if let Some(w) = r
                .web
                .iter()
                .find(|w| !(w.starts_with("https://") || w.starts_with("http://")))
            {
                return Err(fail(format!("web address {w:?} is not http(s)")));
            }
            for city in &r.cities {
                if city.code.len() != 4
                    || !city.code.starts_with(&r.code)
                    || !city.code.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(fail(format!(
                        "city code {:?} is not four digits starting with {}",
                        city.code, r.code
                    )));
                }
                if !cities.insert(city.code.clone()) {
                    return Err(fail(format!("city {} appears twice", city.code)));
                }
                if [&city.name_zh, &city.name_en, &city.code_name]
                    .iter()
                    .any(|s| s.trim().is_empty())
                {
                    return Err(fail(format!(
                        "city {} needs names and a code name",
                        city.code
                    )));
                }
            }
            for app in App::ALL {
                let support = r.channels.get(app);
                let notes = r.notes.iter().filter(|n| n.channel == app).count();
                let needs_note = matches!(support, Support::ShowOnly | Support::Conditional);
                if needs_note && notes != 1 {
                    return Err(fail(format!(
                        "{app} is {} and needs exactly one note",
                        support.as_str()
                    )));
                }
                if !needs_note && notes != 0 {
                    return Err(fail(format!(
                        "{app} is {}; notes explain only show-only and conditional support",
                        support.as_str()
                    )));
                }
            }
            for note in &r.notes {
                if note.zh.trim().is_empty() || note.en.trim().is_empty() {
                    return Err(fail(format!(
                        "the {} note needs both languages",
                        note.channel
                    )));
                }
                if let Some(c) = note.only_cities.iter().find(|c| r.city(c).is_none()) {
                    return Err(fail(format!(
                        "the {} note names unknown city {c}",
                        note.channel
                    )));
                }
                if !note.only_cities.is_empty()
                    && r.channels.get(note.channel) != Support::Conditional
                {
                    return Err(fail(format!(
                        "only_cities belongs to a conditional cell, {} is not",
                        note.channel
                    )));
                }
            }
        }
        if self.regions.is_empty() {
            return Err(RegistryError::Toml("no regions".into()));
        }
        Ok(())
    }

    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }

    /// What a partner app may do with the code of `region` (and, for a
    /// city deployment, `city`): from the matrix, a conditional cell by its
    /// note's cities (a conditional cell without cities grants nothing).
    pub fn capability(&self, region: &str, city: Option<&str>, app: App) -> Capability {
        let Some(r) = self.region(region) else {
            return Capability::None;
        };
        match r.channels.get(app) {
            Support::Full => Capability::Apply,
            Support::ShowOnly => Capability::ShowOnly,
            Support::None => Capability::None,
            Support::Conditional => match (r.note(app), city) {
                (Some(note), Some(city)) if note.only_cities.iter().any(|c| c == city) => {
                    Capability::Apply
                }
                _ => Capability::None,
            },
        }
    }

    /// The regions matching a free-text query and supporting `app` at all
    /// (any support but none), in order.
    pub fn filter<'a>(
        &'a self,
        query: Option<&'a str>,
        app: Option<App>,
    ) -> impl Iterator<Item = &'a Region> + 'a {
        self.regions.iter().filter(move |r| {
            query.is_none_or(|q| r.matches(q))
                && app.is_none_or(|a| r.channels.get(a) != Support::None)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shipped_registry_holds_the_seed_table() {
        let reg = Registry::shipped().unwrap();
        // 34 provincial-level regions and the nationwide entry.
        assert_eq!(reg.regions.len(), 35);
        let anhui = reg.region("34").unwrap();
        assert_eq!(anhui.code_name, "安康码");
        assert_eq!(anhui.channels.unionpay, Support::ShowOnly);
        assert_eq!(
            reg.capability("34", None, App::Unionpay),
            Capability::ShowOnly
        );
        assert_eq!(reg.capability("34", None, App::Alipay), Capability::Apply);
        assert_eq!(reg.capability("34", None, App::Wechat), Capability::None);
        // Shaanxi: UnionPay only for the Xi'an code.
        assert_eq!(reg.capability("61", None, App::Unionpay), Capability::None);
        assert_eq!(
            reg.capability("61", Some("6101"), App::Unionpay),
            Capability::Apply
        );
        assert_eq!(
            reg.capability("61", Some("6102"), App::Unionpay),
            Capability::None
        );
        assert_eq!(
            reg.region("32").unwrap().city("3205").unwrap().code_name,
            "苏城码"
        );
        assert!(reg
            .region("33")
            .unwrap()
            .aliases
            .contains(&"健康码".to_owned()));
        assert_eq!(reg.capability("99", None, App::Alipay), Capability::None);
        let names: Vec<_> = reg
            .filter(Some("西安"), None)
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(names, ["61"]);
        let by_alias: Vec<_> = reg
            .filter(Some("北京健康宝"), None)
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(by_alias, ["11"]);
        assert!(reg
            .filter(None, Some(App::Alipay))
            .all(|r| r.channels.alipay != Support::None));
    }

    #[test]
    fn bad_registries_are_refused_with_the_region_named() {
        let base = "[[region]]\ncode = \"34\"\nname_zh = \"安徽\"\nname_en = \"Anhui\"\ncode_name = \"安康码\"\naliases = []\nother_apps = []\nweb = []\n";
        let err = Registry::parse(&format!(
            "{base}channels = {{ alipay = \"full\", wechat = \"none\", unionpay = \"show-only\" }}\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("unionpay is show-only and needs exactly one note"),
            "{err}"
        );
        let err = Registry::parse(&format!(
            "{base}channels = {{ alipay = \"full\", wechat = \"none\", unionpay = \"maybe\" }}\n"
        ))
        .unwrap_err();
        assert!(matches!(err, RegistryError::Toml(_)), "{err}");
        let ok = format!(
            "{base}channels = {{ alipay = \"full\", wechat = \"none\", unionpay = \"none\" }}\n"
        );
        Registry::parse(&ok).unwrap();
        let err = Registry::parse(&format!("{ok}{}", ok.replace("\"34\"", "\"33\""))).unwrap_err();
        assert!(err.to_string().contains("ascending"), "{err}");
        let err = Registry::parse(&format!(
            "{ok}[[region.city]]\ncode = \"3501\"\nname_zh = \"福州\"\nname_en = \"Fuzhou\"\ncode_name = \"x\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("3501"), "{err}");
    }
}

/// What kind of client a channel is: a mini-program in one of the matrix's
/// apps, a government app of the deployment's own authority, or a web site
/// run by the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Alipay,
    Wechat,
    Unionpay,
    Government,
    Web,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Alipay,
        ChannelKind::Wechat,
        ChannelKind::Unionpay,
        ChannelKind::Government,
        ChannelKind::Web,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Alipay => "alipay",
            ChannelKind::Wechat => "wechat",
            ChannelKind::Unionpay => "unionpay",
            ChannelKind::Government => "government",
            ChannelKind::Web => "web",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            ChannelKind::Alipay => "支付宝小程序",
            ChannelKind::Wechat => "微信小程序",
            ChannelKind::Unionpay => "云闪付小程序",
            ChannelKind::Government => "政务服务应用",
            ChannelKind::Web => "网页",
        }
    }

    pub const fn name_en(self) -> &'static str {
        match self {
            ChannelKind::Alipay => "Alipay mini-program",
            ChannelKind::Wechat => "WeChat mini-program",
            ChannelKind::Unionpay => "UnionPay mini-program",
            ChannelKind::Government => "government app",
            ChannelKind::Web => "web",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
    }

    /// The matrix column, for the partner apps.
    pub const fn app(self) -> Option<App> {
        match self {
            ChannelKind::Alipay => Some(App::Alipay),
            ChannelKind::Wechat => Some(App::Wechat),
            ChannelKind::Unionpay => Some(App::Unionpay),
            ChannelKind::Government | ChannelKind::Web => None,
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Registry {
    /// What a channel of `kind` may do in a deployment for `region` (and
    /// `city`): partner apps follow the matrix; the deployment's own web and
    /// government apps may apply wherever the region is known.
    pub fn channel_capability(
        &self,
        region: &str,
        city: Option<&str>,
        kind: ChannelKind,
    ) -> Capability {
        match kind.app() {
            Some(app) => self.capability(region, city, app),
            None if self.region(region).is_some() => Capability::Apply,
            None => Capability::None,
        }
    }
}
