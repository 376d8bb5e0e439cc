use serde_json::{json, Value};

use crate::support::TestServer;

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r
        .json()
        .await
        .unwrap_or_else(|e| panic!("error body is not JSON ({status}): {e}"));
    (status, body)
}

#[tokio::test]
async fn malformed_requests_get_4xx_json_naming_the_field() {
    let s = TestServer::start().await;
    let c = s.client();
    let cases: Vec<(reqwest::RequestBuilder, u16, Option<&str>)> = vec![
        (
            c.post(s.url("/api/v1/otp")).json(&json!({"phone": "12"})),
            422,
            Some("phone"),
        ),
        (
            c.post(s.url("/api/v1/otp")).json(&json!({"phone": 5})),
            422,
            Some("phone"),
        ),
        (c.post(s.url("/api/v1/otp")).json(&json!({})), 422, None),
        (
            c.post(s.url("/api/v1/otp"))
                .json(&json!({"phone": "13800138000", "extra": 1})),
            422,
            None,
        ),
        (
            c.post(s.url("/api/v1/otp"))
                .body("{not json")
                .header("content-type", "application/json"),
            400,
            None,
        ),
        (c.post(s.url("/api/v1/otp")).body("phone=1"), 415, None),
        (c.get(s.url("/api/v1/me")), 401, None),
        (c.get(s.url("/api/v1/no/such/thing")), 404, None),
        (
            c.post(s.url("/api/v1/officials/sign-in"))
                .json(&json!({"username": "alice", "password": "nope"})),
            401,
            None,
        ),
    ];
    for (request, status, field) in cases {
        let (got, body) = error_of(request.send().await.unwrap()).await;
        assert_eq!(got, status, "{body}");
        let error = &body["error"];
        assert!(error["code"].is_string(), "{body}");
        assert!(
            error["message"]["zh"].is_string() && error["message"]["en"].is_string(),
            "{body}"
        );
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{body}");
        }
    }
}

#[tokio::test]
async fn application_errors_name_the_field() {
    let s = TestServer::start().await;
    let client = s.signed_in("13800138010").await;
    let apply = |body: Value| {
        client
            .post(s.url("/api/v1/applications"))
            .json(&body)
            .send()
    };
    let cases = [
        (
            json!({"name": "", "identity": {"kind": "resident_id", "number": "220102199003071235"}, "declaration": {}}),
            "name",
        ),
        (
            json!({"name": "张三", "identity": {"kind": "resident_id", "number": "220102199003071234"}, "declaration": {}}),
            "identity.number",
        ),
        (
            json!({"name": "张三", "identity": {"kind": "visa", "number": "1"}, "declaration": {}}),
            "identity.kind",
        ),
        (
            json!({"name": "张三", "identity": {"kind": "passport", "number": "123456789"}, "declaration": {}}),
            "identity.country",
        ),
        (
            json!({"name": "张三", "identity": {"kind": "resident_id", "number": "220102199003071235"}, "declaration": {"temperature": 50}}),
            "declaration.temperature",
        ),
        (
            json!({"name": "张三", "identity": {"kind": "resident_id", "number": "220102199003071235"}, "declaration": {}, "channel": "bad channel!"}),
            "channel",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = error_of(apply(body.clone()).await.unwrap()).await;
        assert_eq!(status, 422, "{body} → {err}");
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
    }
    // Nothing was stored by the failed attempts; a good one then works once.
    s.apply(&client, "张三", "220102199003071235").await;
    let (status, _) = error_of(
        client
            .post(s.url("/api/v1/applications"))
            .json(&json!({"name": "张三", "identity": {"kind": "resident_id", "number": "220102199003071235"}, "declaration": {}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn openapi_health_and_headers() {
    let s = TestServer::start().await;
    let r = reqwest::get(s.url("/openapi.json")).await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    for path in [
        "/api/v1/otp",
        "/api/v1/applications",
        "/api/v1/me/code",
        "/api/v1/people/{id}/events",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let r = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let health: Value = r.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "sqlite");
    let docs = reqwest::get(s.url("/docs/")).await.unwrap();
    assert_eq!(
        docs.status(),
        200,
        "Swagger UI is served from vendored assets"
    );
}

#[tokio::test]
async fn a_page_posted_without_a_form_gets_an_error_page() {
    let s = TestServer::start().await;
    let r = s
        .client()
        .post(s.url("/apply?lang=en"))
        .json(&json!({"phone": "13800138000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("The form could not be read") && page.contains("<html"),
        "{page}"
    );
}
