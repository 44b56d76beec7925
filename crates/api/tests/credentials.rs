//! Machine access: scoped, expiring API keys made by a landlord admin, and OAuth 2.0 client
//! credentials (RFC 6749 §4.4) with short-lived tokens; each landlord's credentials its own.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{fixture, request, send, Reply};
use dampwatch_api::keys::{create_key, KeySpec, Scopes};
use dampwatch_api::oauth::ClientGrant;
use serde_json::json;

async fn token_request(app: &axum::Router, form: &str, basic: Option<(&str, &str)>) -> Reply {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        builder = builder
            .header(header::AUTHORIZATION, format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))));
    }
    send(app, builder.body(Body::from(form.to_owned())).unwrap()).await
}

#[tokio::test]
async fn a_read_key_reads_but_cannot_change_a_case_and_an_expired_key_is_refused() {
    let f = fixture().await;
    let spec =
        KeySpec { landlord: "north-homes", label: "dashboard", scopes: Scopes::READ, lifetime_days: 30 };
    let read = create_key(&f.db, &spec).await.unwrap();
    let listed = send(&f.app, request(Method::GET, "/v1/cases", Some(&read), None)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let triage = json!({"category": "no_hazard", "actor": "Reader"});
    let path = format!("/v1/alerts/{}/triage", f.north.alert_awaiting_triage);
    let refused = send(&f.app, request(Method::POST, &path, Some(&read), Some(&triage))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    let spec =
        KeySpec { landlord: "north-homes", label: "old", scopes: Scopes::READ_WRITE, lifetime_days: 1 };
    let old = create_key(&f.db, &spec).await.unwrap();
    f.db.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE label = 'old'", &[])
        .await
        .unwrap();
    let expired = send(&f.app, request(Method::GET, "/v1/cases", Some(&old), None)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    let too_long =
        KeySpec { landlord: "north-homes", label: "forever", scopes: Scopes::READ, lifetime_days: 3650 };
    assert!(create_key(&f.db, &too_long).await.is_err(), "keys must expire within a year");
}

#[tokio::test]
async fn an_oauth_client_gets_a_token_within_its_scopes_and_revoking_it_voids_the_token() {
    let f = fixture().await;
    let client = dampwatch_api::oauth::create_client(
        &f.db,
        "north-homes",
        "housing system",
        ClientGrant::System(Scopes::READ),
    )
    .await
    .unwrap();

    let wrong =
        token_request(&f.app, "grant_type=client_credentials", Some((&client.client_id, "dwcs_wrong"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json["error"], "invalid_client");
    let grant =
        token_request(&f.app, "grant_type=password", Some((&client.client_id, &client.client_secret))).await;
    assert_eq!(grant.json["error"], "unsupported_grant_type");
    let wider = token_request(
        &f.app,
        "grant_type=client_credentials&scope=read%20write",
        Some((&client.client_id, &client.client_secret)),
    )
    .await;
    assert_eq!(
        (wider.status, wider.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.client_id, client.client_secret
    );
    let issued = token_request(&f.app, &form, None).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    assert_eq!(issued.header("cache-control"), "no-store");
    assert_eq!(issued.json["token_type"], "Bearer");
    assert_eq!(issued.json["expires_in"], 900);
    assert_eq!(issued.json["scope"], "read");
    let token = issued.json["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dwt_"));

    let cases = send(&f.app, request(Method::GET, "/v1/cases", Some(&token), None)).await;
    assert_eq!(cases.status, StatusCode::OK);
    assert!(!cases.text.contains("south-homes"), "the client's landlord only");
    let stored: i64 = f.db.query_one("SELECT count(*) FROM oauth_tokens", &[]).await.unwrap().get(0);
    assert_eq!(stored, 1);
    let in_clear: i64 =
        f.db.query_one(
            "SELECT count(*) FROM oauth_tokens WHERE position($1::bytea IN token_hash) > 0",
            &[&token.as_bytes()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_clear, 0, "only the hash is stored");

    dampwatch_api::oauth::revoke_client(&f.db, client.id).await.unwrap();
    let left: i64 = f.db.query_one("SELECT count(*) FROM oauth_tokens", &[]).await.unwrap().get(0);
    assert_eq!(left, 0, "revoking the client voids its tokens");
    let again = token_request(&f.app, &form, None).await;
    assert_eq!(again.json["error"], "invalid_client");
    let audited: i64 =
        f.db.query_one("SELECT count(*) FROM audit_log WHERE action = 'oauth.token'", &[])
            .await
            .unwrap()
            .get(0);
    assert!(audited >= 3, "issued and refused tokens are audited");
}
