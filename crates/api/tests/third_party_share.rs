//! A third party (an insurer) fetching a tenancy's share through the API: its OAuth client,
//! registered by the landlord's admin for one recipient, gets a `share` token that fetches a
//! tenancy's home data only under a consent the tenants gave that recipient for that purpose,
//! in force now; it reads nothing else, never another landlord's tenancy, never personal data;
//! every fetch, refused or not, is audited.

mod common;

use std::io::Read as _;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{Duration, NaiveDate, Utc};
use common::people::People;
use common::{raw, request, send, Reply};
use dampwatch_accounts::Role;
use dampwatch_api::routes::{Access, Verb, ENDPOINTS};
use dampwatch_privacy::consent::{self, NewConsent};
use dampwatch_privacy::{add_tenancy, MasterKeyFile, NewTenancy, Personal};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

const NAME: &str = "Ada Quinlan-Okafor";
const RECIPIENT: &str = "Acme Insurance";

/// A tenancy of `landlord`'s home `home` from 3 January 2026 (to 7 January when `ended`), its
/// tenants' personal data sealed.
async fn tenancy(p: &People, master: &MasterKeyFile, landlord: &str, home: &str, ended: bool) -> i64 {
    let mut db = dampwatch_store::connect(&p.f.db_url).await.expect("connect");
    let tx = db.transaction().await.unwrap();
    let personal = Personal {
        names: vec![NAME.into()],
        phones: vec!["+44 7700 900123".into()],
        emails: vec!["ada@example.org".into()],
        notes: vec!["asthma".into()],
    };
    let new = NewTenancy {
        landlord_id: landlord,
        dwelling_reference: home,
        starts_on: NaiveDate::from_ymd_opt(2026, 1, 3).unwrap(),
        ends_on: ended.then(|| NaiveDate::from_ymd_opt(2026, 1, 7).unwrap()),
        personal: &personal,
    };
    let id = add_tenancy(&tx, master, &new).await.expect("tenancy");
    tx.commit().await.unwrap();
    id
}

async fn token(p: &People, client_id: &str, secret: &str, scope: Option<&str>) -> Reply {
    let form = match scope {
        Some(s) => format!("grant_type=client_credentials&scope={s}"),
        None => "grant_type=client_credentials".to_owned(),
    };
    let basic = STANDARD.encode(format!("{client_id}:{secret}"));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(form))
        .unwrap();
    send(&p.app, req).await
}

fn share_uri(tenancy: i64, purpose: &str) -> String {
    format!("/v1/tenancies/{tenancy}/share?purpose={}", purpose.replace(' ', "%20"))
}

/// The archive's files by name.
fn files(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .expect("a tar archive")
        .map(|e| {
            let mut e = e.expect("entry");
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut text = String::new();
            e.read_to_string(&mut text).expect("text");
            (name, text)
        })
        .collect()
}

/// The `tenancy.share` audit entries, oldest first: outcome and details.
async fn audited(p: &People) -> Vec<(String, Value)> {
    let rows =
        p.f.db
            .query(
                "SELECT outcome, details::text FROM audit_log WHERE action = 'tenancy.share' ORDER BY seq",
                &[],
            )
            .await
            .unwrap();
    rows.iter().map(|r| (r.get(0), serde_json::from_str(r.get::<_, &str>(1)).unwrap())).collect()
}

#[tokio::test]
async fn a_third_party_fetches_a_share_only_under_a_consent_in_force_and_reads_nothing_else() {
    let mut p = People::new().await;
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKeyFile::generate(&dir.path().join("master.key")).expect("master key");
    // The home records an occupant with a lung condition, sealed; the stricter rules it
    // selects in clear.
    let tx = p.f.db.transaction().await.expect("begin");
    let home: i64 =
        tx.query_one("SELECT id FROM dwellings WHERE reference = 'D-1'", &[]).await.expect("D-1").get(0);
    let vulnerabilities = ["respiratory_condition".to_owned()].into();
    let rules = ["cold.below_18c_vulnerable".to_owned(), "heat.above_24c_vulnerable".to_owned()].into();
    dampwatch_privacy::occupants::record_occupants(
        &tx,
        Some(&master),
        "north-homes",
        home,
        &vulnerabilities,
        &rules,
    )
    .await
    .expect("record the occupants");
    tx.commit().await.expect("commit");
    let f = &p.f;
    // North's bedroom sensor, a reading a day from 1 to 10 January 2026.
    f.db.batch_execute(
        "INSERT INTO readings
         SELECT 'north-homes-dev-1', 1, s, t, t, false, t, 1850, 7200, 1500, 900, 3000, 0, int8send(s)
         FROM generate_series(0, 9) s, LATERAL (SELECT '2026-01-01 12:00+00'::timestamptz + s * interval '1 day' AS t) x",
    )
    .await
    .expect("readings");
    let north_tenancy = tenancy(&p, &master, "north-homes", "D-1", false).await;
    let south_tenancy = tenancy(&p, &master, "south-homes", "D-2", true).await;
    // What the share must not carry in words: an alert raised under the stricter rule the lung
    // condition selected, and a case event naming an officer and a note about the tenant.
    f.db.execute(
        "INSERT INTO alerts (landlord_id, room_key, room_id, device_id, hazard, status, severity, since, raised_at,
             updated_at, rule_ids, ruleset_version, summary, explanation, triage)
         VALUES ('north-homes', $3, $1, NULL, 'excess_cold', 'open', 'amber', now(), now(),
             now(), ARRAY['cold.below_18c_vulnerable'], 'rules-1+occupants-2026-12:respiratory_condition',
             'Below 18 °C for 6 h', $2, 'awaiting_triage')",
        &[
            &f.north.room_id,
            &json!({"findings": [{"rule": {"id": "cold.below_18c_vulnerable",
                "basis": "Applies because the home records an occupant with a respiratory (lung) condition"}}]}),
            &format!("room:{}", f.north.room_id),
        ],
    )
    .await
    .expect("an occupant-rule alert");
    let triage = json!({"type": "triage_decided", "category": "significant", "actor": "Ann Officer",
                        "evidence": {"note": "inhaler by the bed"}});
    let path = format!("/v1/cases/{}/events", f.north.case_id);
    let triaged = send(&p.app, request(Method::POST, &path, Some(&f.north.key), Some(&triage))).await;
    assert_eq!(triaged.status, StatusCode::CREATED, "{}", triaged.text);

    // North's admin registers the insurer's client; it holds `share` alone.
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (admin, _, _) = p.sign_in_enrolled("admin@north.example").await;
    let widened = json!({"label": "Acme claims", "recipient": RECIPIENT, "scope": "read"});
    let refused = p.call(Method::POST, "/v1/oauth-clients", Some(&admin), true, Some(widened)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    let made = json!({"label": "Acme claims", "recipient": RECIPIENT});
    let client = p.call(Method::POST, "/v1/oauth-clients", Some(&admin), true, Some(made)).await;
    assert_eq!(client.status, StatusCode::CREATED, "{}", client.text);
    assert_eq!(client.json["scopes"], json!(["share"]));
    assert_eq!(client.json["recipient"], RECIPIENT);
    let (client_id, secret) =
        (client.json["client_id"].as_str().unwrap(), client.json["client_secret"].as_str().unwrap());
    let key = json!({"label": "not a key", "recipient": RECIPIENT});
    let no_key = p.call(Method::POST, "/v1/api-keys", Some(&admin), true, Some(key)).await;
    assert_eq!(
        no_key.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an API key names no recipient: {}",
        no_key.text
    );

    let wider = token(&p, client_id, secret, Some("read")).await;
    assert_eq!(wider.json["error"], "invalid_scope", "{}", wider.text);
    let issued = token(&p, client_id, secret, None).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    assert_eq!(issued.json["scope"], "share");
    let share_token = issued.json["access_token"].as_str().unwrap().to_owned();

    // Without a consent: refused, and audited.
    let none =
        send(&p.app, request(Method::GET, &share_uri(north_tenancy, "claim 77"), Some(&share_token), None))
            .await;
    assert_eq!(none.status, StatusCode::FORBIDDEN, "{}", none.text);
    assert!(none.text.contains("no consent in force"), "{}", none.text);

    let consent_id = consent::give(
        &f.db,
        &NewConsent {
            tenancy_id: north_tenancy,
            recipient: RECIPIENT,
            purpose: "claim 77",
            evidence: "signed form, 2 January 2026",
            given_at: Utc::now() - Duration::hours(1),
            expires_at: None,
            recorded_by: "user:officer",
        },
    )
    .await
    .expect("consent");
    // South's tenants consented too: still not north's client's to fetch.
    consent::give(
        &f.db,
        &NewConsent {
            tenancy_id: south_tenancy,
            recipient: RECIPIENT,
            purpose: "claim 77",
            evidence: "signed form",
            given_at: Utc::now() - Duration::hours(1),
            expires_at: None,
            recorded_by: "user:officer",
        },
    )
    .await
    .expect("south's consent");

    // A HEAD would build and audit a share that is never sent: refused.
    let head =
        raw(&p.app, request(Method::HEAD, &share_uri(north_tenancy, "claim 77"), Some(&share_token), None))
            .await;
    assert_eq!(head.status, StatusCode::METHOD_NOT_ALLOWED);

    // Under the consent: the home's data over the tenancy, no personal data, no audit log.
    let fetched = p
        .app
        .clone()
        .oneshot(request(Method::GET, &share_uri(north_tenancy, "claim 77"), Some(&share_token), None))
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()[header::CONTENT_TYPE], "application/x-tar");
    let bytes = fetched.into_body().collect().await.unwrap().to_bytes();
    let files = files(&bytes);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"readings.csv") && names.contains(&"cases.jsonl"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("audit")), "the audit log is not shared: {names:?}");
    let in_tenancy: i64 = f
        .db
        .query_one("SELECT count(*) FROM readings WHERE device_id = 'north-homes-dev-1' AND sampled_at >= '2026-01-03'", &[])
        .await
        .unwrap()
        .get(0);
    let readings = &files.iter().find(|(n, _)| n == "readings.jsonl").unwrap().1;
    assert_eq!(readings.lines().count() as i64, in_tenancy, "only the tenancy's readings: {readings}");
    let text = |name: &str| files.iter().find(|(n, _)| n == name).map_or("", |(_, t)| t.as_str());
    assert!(text("alerts.jsonl").contains("excess_cold"), "the alert is shared: {}", text("alerts.jsonl"));
    assert!(
        text("case_events.jsonl").contains("triage_decided"),
        "the event is shared: {}",
        text("case_events.jsonl")
    );
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for private in [
        NAME,
        "+44 7700 900123",
        "ada@example.org",
        "asthma",
        "1 Mill Lane",
        "respiratory",
        "occupants-2026-12",
        "cold.below_18c_vulnerable",
        "Ann Officer",
        "inhaler",
        "Below 18",
        "\"category\"",
    ] {
        assert!(!all.contains(private), "{private} was shared");
    }

    // Another purpose, another landlord's tenancy, another endpoint: refused.
    let other =
        send(&p.app, request(Method::GET, &share_uri(north_tenancy, "marketing"), Some(&share_token), None))
            .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.text);
    let south =
        send(&p.app, request(Method::GET, &share_uri(south_tenancy, "claim 77"), Some(&share_token), None))
            .await;
    assert_eq!(south.status, StatusCode::NOT_FOUND, "{}", south.text);
    assert!(!south.text.contains("south"), "{}", south.text);
    // Every other endpoint refuses the token.
    for endpoint in ENDPOINTS.iter().filter(|e| !matches!(e.access, Access::Public | Access::ThirdParty)) {
        let path = endpoint
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = match endpoint.verb {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Delete => Method::DELETE,
        };
        let body = (endpoint.verb != Verb::Get).then(|| json!({}));
        let reply = send(&p.app, request(method, &path, Some(&share_token), body.as_ref())).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{} {path}: {}", endpoint.operation_id, reply.text);
    }
    // Nor through the dashboard, which takes only a person's session.
    let page = raw(&p.app, request(Method::GET, "/", Some(&share_token), None)).await;
    assert!(!page.status.is_success(), "{}", page.text);
    // North's own read-and-write key does not fetch shares: that is the operator's command.
    let own =
        send(&p.app, request(Method::GET, &share_uri(north_tenancy, "claim 77"), Some(&f.north.key), None))
            .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.text);

    // Withdrawn: refused from then on.
    consent::withdraw(&f.db, consent_id, "user:officer").await.expect("withdraw");
    // The withdrawal is dated by the database's clock; the state's clock moves past it.
    *p.now.lock().unwrap() = Utc::now() + Duration::seconds(1);
    let withdrawn =
        send(&p.app, request(Method::GET, &share_uri(north_tenancy, "claim 77"), Some(&share_token), None))
            .await;
    assert_eq!(withdrawn.status, StatusCode::FORBIDDEN, "{}", withdrawn.text);

    // Counted for the operator as well.
    let stats = f.state.stats().snapshot();
    assert_eq!(
        (stats.shares_sent, stats.shares_without_consent, stats.shares_of_unknown_tenancies),
        (1, 3, 1)
    );
    assert!(f
        .state
        .render_metrics()
        .contains("dampwatch_api_tenancy_shares_total{outcome=\"no_consent\"} 3"));

    let entries = audited(&p).await;
    let outcomes: Vec<&str> = entries.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outcomes, ["refused", "success", "refused", "refused", "refused"], "{entries:?}");
    let (_, shared) = &entries[1];
    assert_eq!(shared["consent"], consent_id);
    assert_eq!(shared["recipient"], RECIPIENT);
    assert_eq!(shared["purpose"], "claim 77");
    assert_eq!(shared["rows"]["readings"], in_tenancy);
    assert_eq!(shared["bytes"], bytes.len());
    assert_eq!(entries[3].1["reason"], "unknown tenancy", "{entries:?}");
    let south_entries: i64 =
        f.db.query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'tenancy.share' AND landlord_id = 'south-homes'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(south_entries, 0, "north's client probing is north's record, not south's");

    // An API of the previous release looks tokens up with `oauth_token_owner`, which would take
    // a share token for a read token: it does not answer for one.
    let hash = dampwatch_api::keys::hash_key(&share_token);
    let old: i64 =
        f.db.query_one("SELECT count(*) FROM oauth_token_owner($1)", &[&hash.as_slice()])
            .await
            .unwrap()
            .get(0);
    assert_eq!(old, 0, "the previous release's lookup does not see a share token");

    // Revoking the client voids its token.
    let clients = p.call(Method::GET, "/v1/oauth-clients", Some(&admin), false, None).await;
    let id =
        clients.json.as_array().unwrap().iter().find(|c| c["recipient"] == RECIPIENT).unwrap()["id"].clone();
    let revoked = p.call(Method::DELETE, &format!("/v1/oauth-clients/{id}"), Some(&admin), true, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    // The key cache may remember the token for its TTL; the database refuses it at once.
    let owner = dampwatch_api::keys::find_key_owner(&f.db, &share_token).await.unwrap();
    assert!(owner.is_none(), "a revoked client's token has no owner");
}
