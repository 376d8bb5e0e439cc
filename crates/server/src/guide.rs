//! The public guide "在哪里、如何申领健康码 / Where and how do I get my
//! code": the regions registry's support matrix with its footnotes,
//! filterable by region and by app (query parameters, no script needed),
//! and the same as JSON at `/api/v1/regions`.
//!
//! It is a historical record (seed 000, 2020–2022) of where the real codes
//! were obtained; their web addresses are printed as text, never linked,
//! and nothing here looks like those services.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use healthcode_core::regions::{App, ChannelKind, Region, Support};
use healthcode_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::i18n::{ui, Lang, Text};
use crate::pages::esc;
use crate::state::AppState;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/guide", get(guide_page::<S>))
        .route("/api/v1/regions", get(regions_api::<S>))
}

/// Where the table comes from.
pub fn provenance() -> Text {
    Text::new(
        "资料来源：2020–2022 年各省电子健康证明申领支持情况表（按 GB/T 2260 省级区划代码排序）及 2020 年 3 月各地健康码官方名称。这是历史记录：本平台不是这些服务，也不链接到它们。",
        "Source: the 2020–2022 table of where each province's digital health certificate could be applied for (in GB/T 2260 province-code order) and the official code names as of March 2020. A historical record: this platform is none of those services and does not link into them.",
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GuideQuery {
    /// A region's code (`34`), name (安徽, Anhui), code name or alias, or a city.
    #[serde(default)]
    pub region: Option<String>,
    /// `alipay`, `wechat` or `unionpay`: only regions whose code it supports at all.
    #[serde(default)]
    pub app: Option<String>,
}

struct Filter {
    region: Option<String>,
    app: Option<App>,
}

fn filter_of(region: Option<&str>, app: Option<&str>) -> Result<Filter, ApiError> {
    let region = region.map(str::trim).filter(|r| !r.is_empty());
    if region.is_some_and(|r| r.chars().count() > 64) {
        return Err(ApiError::invalid(
            "region",
            "地区查询最多 64 个字。",
            "The region query is at most 64 characters.",
        ));
    }
    let app = match app.map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(App::parse(a).ok_or_else(|| {
            ApiError::invalid(
                "app",
                format!("未知应用 {a:?}：应为 alipay、wechat 或 unionpay。"),
                format!("Unknown app {a:?}: expected alipay, wechat or unionpay."),
            )
        })?),
    };
    Ok(Filter {
        region: region.map(str::to_owned),
        app,
    })
}

// ----------------------------------------------------------------------------
// JSON

#[derive(Debug, Serialize, ToSchema)]
pub struct CityView {
    pub code: String,
    pub name: Text,
    pub code_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteView {
    /// The app the footnote is about.
    pub app: String,
    pub text: Text,
    /// For conditional support: the only cities whose code the app supports.
    pub only_cities: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupportView {
    /// `full`, `show-only`, `conditional` or `none`.
    pub alipay: String,
    pub wechat: String,
    pub unionpay: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionView {
    /// GB/T 2260 province code; `00` is nationwide.
    pub code: String,
    pub name: Text,
    /// The code's name in the support table (empty where it has none).
    pub code_name: String,
    /// Other and historical names.
    pub aliases: Vec<String>,
    pub other_apps: Vec<String>,
    /// Web addresses where the code was offered (historical).
    pub web: Vec<String>,
    pub support: SupportView,
    pub cities: Vec<CityView>,
    pub notes: Vec<NoteView>,
}

impl From<&Region> for RegionView {
    fn from(r: &Region) -> Self {
        RegionView {
            code: r.code.clone(),
            name: Text::new(r.name_zh.clone(), r.name_en.clone()),
            code_name: r.code_name.clone(),
            aliases: r.aliases.clone(),
            other_apps: r.other_apps.clone(),
            web: r.web.clone(),
            support: SupportView {
                alipay: r.channels.alipay.as_str().to_owned(),
                wechat: r.channels.wechat.as_str().to_owned(),
                unionpay: r.channels.unionpay.as_str().to_owned(),
            },
            cities: r
                .cities
                .iter()
                .map(|c| CityView {
                    code: c.code.clone(),
                    name: Text::new(c.name_zh.clone(), c.name_en.clone()),
                    code_name: c.code_name.clone(),
                })
                .collect(),
            notes: r
                .notes
                .iter()
                .map(|n| NoteView {
                    app: n.channel.as_str().to_owned(),
                    text: Text::new(n.zh.clone(), n.en.clone()),
                    only_cities: n.only_cities.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilityView {
    /// `alipay`, `wechat`, `unionpay`, `government` or `web`.
    pub kind: String,
    /// `apply`, `show_only` or `none`.
    pub capability: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub region_id: String,
    /// The registry code this deployment issues for, if it is in the registry.
    pub registry_region: Option<String>,
    pub city: Option<String>,
    /// `region` or `national`.
    pub authority: String,
    /// What each kind of channel may do here.
    pub channels: Vec<CapabilityView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionsView {
    pub source: Text,
    /// The regions matching the filter, in GB/T 2260 order.
    pub regions: Vec<RegionView>,
    pub this_deployment: DeploymentView,
}

fn deployment<S: Store>(state: &AppState<S>) -> DeploymentView {
    DeploymentView {
        region_id: state.settings.region_id.clone(),
        registry_region: state.settings.registry_region(),
        city: state.settings.city.clone(),
        authority: state.settings.authority.as_str().to_owned(),
        channels: ChannelKind::ALL
            .iter()
            .map(|k| CapabilityView {
                kind: k.as_str().to_owned(),
                capability: state.channel_capability(*k).as_str().to_owned(),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/regions", params(GuideQuery),
    responses((status = 200, body = RegionsView), (status = 422, body = ErrorBody)))]
pub(crate) async fn regions_api<S: Store>(
    State(state): State<AppState<S>>,
    ApiQuery(q): ApiQuery<GuideQuery>,
) -> Result<Json<RegionsView>, ApiError> {
    let f = filter_of(q.region.as_deref(), q.app.as_deref())?;
    Ok(Json(RegionsView {
        source: provenance(),
        regions: state
            .registry
            .filter(f.region.as_deref(), f.app)
            .map(RegionView::from)
            .collect(),
        this_deployment: deployment(&state),
    }))
}

// ----------------------------------------------------------------------------
// Page

mod t {
    use super::ui;
    ui! {
        TITLE => "在哪里、如何申领健康码", "Where and how do I get my code";
        INTRO => "各省级地区的健康码名称，以及哪些应用可以申领（支持）或只能出示（仅展示）。带编号的格子见表下备注。", "Each provincial-level region's code, and which apps could apply for it (full support) or only show it (show only). Numbered cells have a note below the table.";
        REGION => "地区", "Region";
        CODE_NAME => "健康码名称", "Code name";
        ALIASES => "其他名称", "Other names";
        CITIES => "城市自有的码", "City codes";
        OTHER_APPS => "其他应用", "Other apps";
        WEB => "网页（历史地址，不提供链接）", "Web (historical address, not linked)";
        NOTES => "备注", "Notes";
        ANY_REGION => "所有地区", "All regions";
        ANY_APP => "所有应用", "All apps";
        APP => "应用", "App";
        FILTER => "筛选", "Filter";
        NO_MATCH => "没有符合条件的地区。", "No region matches.";
        NO_NAME => "（无数据）", "(no data)";
        HERE => "本部署", "This deployment";
        HERE_INTRO => "各类渠道在本部署能做什么：", "What each kind of channel may do here:";
        APPLY => "申领并展示", "apply and show";
        SHOW_ONLY => "仅展示", "show only";
        NOTHING => "不提供", "nothing";
        NATIONAL => "全国平台（签发外籍人员版）", "national platform (issues the traveller version)";
        TRAVELLERS => "持护照或通行证的人员请到全国平台申领外籍人员版：", "With a passport or permit, apply for the traveller version on the national platform:";
        CAPABILITY_NOTE => "渠道权限依上表：表中“仅展示”的应用在该地区只能出示健康码，不能申领。", "Channel permissions follow the table: an app marked show-only in a region can only show that region's code, not apply for it.";
    }
}

fn support_label(s: Support, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => s.label_en(),
    }
}

fn app_name(a: App, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => a.name_zh(),
        Lang::En => a.name_en(),
    }
}

fn capability_label(c: healthcode_core::regions::Capability, lang: Lang) -> &'static str {
    use healthcode_core::regions::Capability as C;
    match c {
        C::Apply => t::APPLY.get(lang),
        C::ShowOnly => t::SHOW_ONLY.get(lang),
        C::None => t::NOTHING.get(lang),
    }
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| esc(s)).collect::<Vec<_>>().join("、")
}

async fn guide_page<S: Store>(
    State(state): State<AppState<S>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::negotiate(q.get("lang").map(String::as_str), &headers);
    let f = match filter_of(
        q.get("region").map(String::as_str),
        q.get("app").map(String::as_str),
    ) {
        Ok(f) => f,
        Err(e) => return crate::pages::error_page(&state, lang, &e),
    };
    // The filter form: plain GET, works without script.
    let mut region_options = format!("<option value=\"\">{}</option>", t::ANY_REGION.get(lang));
    for r in &state.registry.regions {
        let selected = if f.region.as_deref() == Some(r.code.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            region_options,
            "<option value=\"{code}\"{selected}>{code} {name}</option>",
            code = esc(&r.code),
            name = esc(if lang == Lang::Zh {
                &r.name_zh
            } else {
                &r.name_en
            }),
        );
    }
    if let Some(free) = f
        .region
        .as_deref()
        .filter(|q| state.registry.region(q).is_none())
    {
        let _ = write!(
            region_options,
            "<option value=\"{v}\" selected>{v}</option>",
            v = esc(free)
        );
    }
    let mut app_options = format!("<option value=\"\">{}</option>", t::ANY_APP.get(lang));
    for a in App::ALL {
        let _ = write!(
            app_options,
            "<option value=\"{}\"{}>{}</option>",
            a.as_str(),
            if f.app == Some(a) { " selected" } else { "" },
            app_name(a, lang)
        );
    }
    let form = format!(
        r#"<form method="get" action="/guide" class="filters"><input type="hidden" name="lang" value="{lang}">
<label>{rl} <select name="region">{region_options}</select></label>
<label>{al} <select name="app">{app_options}</select></label>
<button type="submit">{fl}</button></form>"#,
        lang = lang.code(),
        rl = t::REGION.get(lang),
        al = t::APP.get(lang),
        fl = t::FILTER.get(lang),
    );

    // The table and its footnotes.
    let mut rows = String::new();
    let mut notes = String::new();
    let mut n = 0;
    for r in state.registry.filter(f.region.as_deref(), f.app) {
        let mut cells = String::new();
        for a in App::ALL {
            let support = r.channels.get(a);
            let mark = match r.note(a) {
                Some(note) => {
                    n += 1;
                    let _ = write!(
                        notes,
                        "<li id=\"note-{n}\" data-region=\"{code}\" data-app=\"{app}\"><b>{name}</b> · {app_name}：{text}</li>",
                        code = esc(&r.code),
                        app = a.as_str(),
                        name = esc(if lang == Lang::Zh { &r.name_zh } else { &r.name_en }),
                        app_name = app_name(a, lang),
                        text = esc(if lang == Lang::Zh { &note.zh } else { &note.en }),
                    );
                    format!(" <a href=\"#note-{n}\"><sup>[{n}]</sup></a>")
                }
                None => String::new(),
            };
            let _ = write!(
                cells,
                "<td class=\"support {cls}\" data-app=\"{app}\" data-support=\"{s}\">{label}{mark}</td>",
                cls = support.as_str(),
                app = a.as_str(),
                s = support.as_str(),
                label = support_label(support, lang),
            );
        }
        let cities: Vec<String> = r
            .cities
            .iter()
            .map(|c| {
                format!(
                    "{} {}：{}",
                    c.code,
                    if lang == Lang::Zh {
                        &c.name_zh
                    } else {
                        &c.name_en
                    },
                    c.code_name
                )
            })
            .collect();
        let code_name = if r.code_name.is_empty() {
            t::NO_NAME.get(lang).to_owned()
        } else {
            esc(&r.code_name)
        };
        let _ = write!(
            rows,
            r#"<tr data-region="{code}"><td>{code} {zh} / {en}</td><td>{code_name}</td><td>{aliases}</td>{cells}<td>{cities}</td><td>{apps}</td><td>{web}</td></tr>"#,
            code = esc(&r.code),
            zh = esc(&r.name_zh),
            en = esc(&r.name_en),
            aliases = list(&r.aliases),
            cities = list(&cities),
            apps = list(&r.other_apps),
            web = r
                .web
                .iter()
                .map(|w| format!("<code>{}</code>", esc(w)))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let table = if rows.is_empty() {
        format!("<p>{}</p>", t::NO_MATCH.get(lang))
    } else {
        let heads: String = App::ALL
            .iter()
            .map(|a| format!("<th>{}</th>", app_name(*a, lang)))
            .collect();
        format!(
            r#"<div class="table"><table><thead><tr><th>{r}</th><th>{c}</th><th>{al}</th>{heads}<th>{ci}</th><th>{o}</th><th>{w}</th></tr></thead><tbody>{rows}</tbody></table></div>{notes}"#,
            r = t::REGION.get(lang),
            c = t::CODE_NAME.get(lang),
            al = t::ALIASES.get(lang),
            ci = t::CITIES.get(lang),
            o = t::OTHER_APPS.get(lang),
            w = t::WEB.get(lang),
            notes = if notes.is_empty() {
                String::new()
            } else {
                format!(
                    "<h2>{}</h2><ol class=\"notes\">{notes}</ol>",
                    t::NOTES.get(lang)
                )
            },
        )
    };

    // What channels may do in this deployment.
    let here = deployment(&state);
    let mut caps = String::new();
    for k in ChannelKind::ALL {
        let _ = write!(
            caps,
            "<li data-kind=\"{}\">{}: {}</li>",
            k.as_str(),
            match lang {
                Lang::Zh => k.name_zh(),
                Lang::En => k.name_en(),
            },
            capability_label(state.channel_capability(k), lang)
        );
    }
    let national = match (&state.settings.national_platform, state.settings.authority) {
        (_, crate::config::Authority::National) => format!("<p>{}</p>", t::NATIONAL.get(lang)),
        (Some(url), _) => format!(
            "<p>{} <code>{}</code></p>",
            t::TRAVELLERS.get(lang),
            esc(url)
        ),
        _ => String::new(),
    };
    let body = format!(
        r#"<h1>{title}</h1><p>{intro}</p><p class="note">{source}</p>{form}{table}
<section class="card"><h2>{here_l}: {region}</h2>{national}<p>{here_intro}</p><ul>{caps}</ul><p class="note">{cap_note}</p></section>"#,
        title = t::TITLE.get(lang),
        intro = t::INTRO.get(lang),
        source = esc(provenance().get(lang)),
        here_l = t::HERE.get(lang),
        region = esc(&here.region_id),
        here_intro = t::HERE_INTRO.get(lang),
        cap_note = t::CAPABILITY_NOTE.get(lang),
    );
    crate::pages::page(&state, lang, "/guide", t::TITLE.get(lang), &body).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ui_string_has_both_languages() {
        for ui in super::t::ALL {
            assert!(!ui.zh.trim().is_empty() && !ui.en.trim().is_empty());
            assert_ne!(ui.zh, ui.en, "{} is not translated", ui.en);
        }
    }
}
