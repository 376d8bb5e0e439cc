//! The guide page and `/api/v1/regions` against the data file itself: every
//! row and every footnote of crates/core/data/regions.toml, read here as
//! plain TOML (not through the registry's own parser).

use serde_json::Value;

use crate::support::TestServer;

const DATA: &str = include_str!("../../../core/data/regions.toml");

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn strings(v: &toml::Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(|a| a.as_array())
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn s<'a>(v: &'a toml::Value, key: &str) -> &'a str {
    v.get(key).and_then(|s| s.as_str()).unwrap()
}

fn table(v: &toml::Value, key: &str) -> Vec<toml::Value> {
    v.get(key)
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default()
}

/// The `<tr>` of a region on a page.
fn row<'a>(page: &'a str, code: &str) -> &'a str {
    let start = page
        .find(&format!("<tr data-region=\"{code}\">"))
        .unwrap_or_else(|| panic!("no row for region {code}"));
    let end = page[start..].find("</tr>").unwrap() + start;
    &page[start..end]
}

async fn get(srv: &TestServer, path: &str) -> (u16, String) {
    let r = reqwest::get(srv.url(path)).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn every_row_and_footnote_of_the_data_file_is_on_the_page_and_in_the_api() {
    let srv = TestServer::start().await;
    let data: toml::Value = toml::from_str(DATA).unwrap();
    let regions = data["region"].as_array().unwrap();
    assert_eq!(regions.len(), 35, "34 regions and the nationwide entry");

    let (status, api) = get(&srv, "/api/v1/regions").await;
    assert_eq!(status, 200, "{api}");
    let api: Value = serde_json::from_str(&api).unwrap();
    let api_regions = api["regions"].as_array().unwrap();
    assert_eq!(api_regions.len(), regions.len());
    let (_, zh) = get(&srv, "/guide?lang=zh").await;
    let (_, en) = get(&srv, "/guide?lang=en").await;
    assert!(zh.contains("在哪里、如何申领健康码"));
    assert!(en.contains("Where and how do I get my code"));

    let mut footnotes = 0;
    for (r, a) in regions.iter().zip(api_regions) {
        let code = s(r, "code");
        // The API: every field as in the file.
        assert_eq!(a["code"], code);
        assert_eq!(a["name"]["zh"], s(r, "name_zh"), "{code}");
        assert_eq!(a["name"]["en"], s(r, "name_en"), "{code}");
        assert_eq!(a["code_name"], s(r, "code_name"), "{code}");
        for key in ["aliases", "other_apps", "web"] {
            let listed: Vec<String> = a[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(listed, strings(r, key), "{code} {key}");
        }
        let channels = r.get("channels").unwrap();
        for app in ["alipay", "wechat", "unionpay"] {
            assert_eq!(a["support"][app], s(channels, app), "{code} {app}");
        }
        let cities = table(r, "city");
        assert_eq!(
            a["cities"].as_array().unwrap().len(),
            cities.len(),
            "{code}"
        );
        for (c, ac) in cities.iter().zip(a["cities"].as_array().unwrap()) {
            assert_eq!(ac["code"], s(c, "code"));
            assert_eq!(ac["code_name"], s(c, "code_name"));
            assert_eq!(ac["name"]["zh"], s(c, "name_zh"));
            assert_eq!(ac["name"]["en"], s(c, "name_en"));
        }
        let notes = table(r, "note");
        assert_eq!(a["notes"].as_array().unwrap().len(), notes.len(), "{code}");
        for (n, an) in notes.iter().zip(a["notes"].as_array().unwrap()) {
            assert_eq!(an["app"], s(n, "channel"));
            assert_eq!(an["text"]["zh"], s(n, "zh"));
            assert_eq!(an["text"]["en"], s(n, "en"));
        }

        // The page, in both languages: the row and its footnotes.
        for (page, lang) in [(&zh, "zh"), (&en, "en")] {
            let tr = row(page, code);
            for text in [s(r, "name_zh"), s(r, "name_en"), s(r, "code_name")] {
                assert!(
                    tr.contains(&esc(text)),
                    "{lang} {code}: {text:?} missing in {tr}"
                );
            }
            for key in ["aliases", "other_apps", "web"] {
                for text in strings(r, key) {
                    assert!(tr.contains(&esc(&text)), "{lang} {code}: {key} {text:?}");
                }
            }
            assert!(
                !tr.contains("<a href=\"http"),
                "{lang} {code}: real services are never linked"
            );
            for app in ["alipay", "wechat", "unionpay"] {
                let cell = format!("data-app=\"{app}\" data-support=\"{}\"", s(channels, app));
                assert!(tr.contains(&cell), "{lang} {code}: {cell}");
            }
            for c in &cities {
                assert!(tr.contains(s(c, "code")) && tr.contains(&esc(s(c, "code_name"))));
                let name = if lang == "zh" {
                    s(c, "name_zh")
                } else {
                    s(c, "name_en")
                };
                assert!(tr.contains(&esc(name)), "{lang} {code}: city {name}");
            }
            for n in &notes {
                let marker = format!("data-region=\"{code}\" data-app=\"{}\"", s(n, "channel"));
                let at = page
                    .find(&marker)
                    .unwrap_or_else(|| panic!("{lang} footnote {marker}"));
                let li = &page[at..at + page[at..].find("</li>").unwrap()];
                assert!(li.contains(&esc(s(n, lang))), "{lang} {code}: {li}");
                assert!(
                    tr.contains("<sup>["),
                    "{lang} {code}: the cell points to its note"
                );
            }
        }
        footnotes += notes.len();
    }
    assert_eq!(footnotes, 2, "Anhui and Shaanxi");
    // The page says where the table comes from and that it links nowhere.
    assert!(zh.contains("历史记录") && en.contains("historical record"));
}

#[tokio::test]
async fn filters_by_region_and_app_without_script() {
    let srv = TestServer::start().await;
    // By app: UnionPay at all (full, show-only or conditional).
    let (_, page) = get(&srv, "/guide?lang=en&app=unionpay").await;
    assert!(page.contains("data-region=\"34\""), "Anhui: show only");
    assert!(page.contains("data-region=\"61\""), "Shaanxi: conditional");
    assert!(
        !page.contains("<tr data-region=\"11\">"),
        "Beijing: no UnionPay"
    );
    assert!(page.contains("<option value=\"unionpay\" selected>"));
    let (_, api) = get(&srv, "/api/v1/regions?app=unionpay").await;
    let api: Value = serde_json::from_str(&api).unwrap();
    assert!(api["regions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["support"]["unionpay"] != "none"));

    // By region: code, city, alias, English name.
    for (q, code) in [
        ("34", "34"),
        ("%E8%A5%BF%E5%AE%89", "61"),
        ("Suzhou", "32"),
        ("%E5%8C%97%E4%BA%AC%E5%81%A5%E5%BA%B7%E5%AE%9D", "11"),
    ] {
        let (_, api) = get(&srv, &format!("/api/v1/regions?region={q}")).await;
        let api: Value = serde_json::from_str(&api).unwrap();
        let codes: Vec<&str> = api["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, [code], "{q}");
        let (_, page) = get(&srv, &format!("/guide?lang=zh&region={q}")).await;
        assert_eq!(page.matches("<tr data-region=").count(), 1, "{q}");
    }
    let (_, page) = get(&srv, "/guide?lang=en&region=Atlantis").await;
    assert!(page.contains("No region matches."));

    // Bad input: a clear error naming the parameter.
    let (status, body) = get(&srv, "/api/v1/regions?app=myspace").await;
    assert_eq!(status, 422);
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"]["field"], "app");
    assert!(err["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("未知应用"));
    let (status, page) = get(&srv, "/guide?lang=en&app=myspace").await;
    assert_eq!(status, 422);
    assert!(page.contains("Unknown app"));
    let (status, _) = get(&srv, "/api/v1/regions?colour=red").await;
    assert_eq!(status, 400, "unknown parameters are refused");

    // What channels may do in this deployment (DEMO-22: Jilin).
    let (_, api) = get(&srv, "/api/v1/regions?region=22").await;
    let api: Value = serde_json::from_str(&api).unwrap();
    let caps: Vec<(String, String)> = api["this_deployment"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["capability"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(caps.contains(&("alipay".into(), "apply".into())));
    assert!(caps.contains(&("unionpay".into(), "none".into())));
    assert_eq!(api["this_deployment"]["registry_region"], "22");

    // Listed in the OpenAPI document.
    let (_, doc) = get(&srv, "/openapi.json").await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    for path in [
        "/api/v1/regions",
        "/api/v1/channel/applications",
        "/api/v1/admin/channels",
        "/api/v1/trust-lists",
        "/api/v1/admin/trust-imports",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} in the OpenAPI document"
        );
    }
}
