//! Two languages everywhere: every user-facing text is a [`Text`] with both.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub const fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub const fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub const fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// From `?lang=`, then the `hc_lang` cookie, then Accept-Language
    /// (Chinese first for Chinese browsers, and by default).
    pub fn negotiate(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(lang) = query.and_then(Lang::parse) {
            return lang;
        }
        let cookies = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix("hc_lang="));
        if let Some(lang) = cookies.filter_map(Lang::parse).next() {
            return lang;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The first listed language wins; anything not English gets Chinese.
        match accept
            .split(',')
            .next()
            .map(|l| l.trim().to_ascii_lowercase())
        {
            Some(l) if l.starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
}

/// A text in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// A fixed UI string in both languages.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub zh: &'static str,
    pub en: &'static str,
}

impl Ui {
    pub const fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }
}

/// Declares UI strings; having both languages in one literal keeps them in
/// step (a missing translation does not compile).
macro_rules! ui {
    ($($name:ident => $zh:literal, $en:literal;)*) => {
        $(pub const $name: $crate::i18n::Ui = $crate::i18n::Ui { zh: $zh, en: $en };)*
        #[cfg(test)]
        pub const ALL: &[$crate::i18n::Ui] = &[$($name),*];
    };
}
pub(crate) use ui;
