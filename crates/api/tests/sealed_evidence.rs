//! What officers write on a case is stored only sealed under the landlord's case text key: the
//! case log keeps a reference and a salted digest (so its chain still verifies), the API shows
//! the words to the landlord's people, a key rotation re-seals them, and erasing the landlord's
//! keys makes them unreadable without touching another landlord's.

mod common;

use axum::http::StatusCode;
use common::{fixture, get, post};
use dampwatch_api::{router, ApiConfig, ApiState};
use serde_json::{json, Value};

const NOTE: &str = "tenant's toddler has asthma; mould behind the cot";

async fn stored_evidence(db: &tokio_postgres::Client, case_id: i64) -> Vec<String> {
    db.query("SELECT evidence::text FROM case_events WHERE case_id = $1 ORDER BY seq", &[&case_id])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn broken_links(db: &tokio_postgres::Client) -> i64 {
    db.query_one("SELECT count(*) FROM case_events_broken_links", &[]).await.unwrap().get(0)
}

fn last_evidence(reply: &common::Reply) -> Value {
    reply.json["events"].as_array().unwrap().last().unwrap()["evidence"].clone()
}

#[tokio::test]
async fn an_officers_note_is_stored_sealed_shown_opened_resealed_on_rotation_and_erased_with_the_keys() {
    let f = fixture().await;
    let north_uri = format!("/v1/cases/{}/events", f.north.case_id);
    let recorded = post(
        &f.app,
        &north_uri,
        &f.north.key,
        &json!({"type": "triage_decided", "category": "emergency", "actor": "Ann Officer",
                "evidence": {"note": NOTE, "photos": 3}}),
    )
    .await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text);
    assert_eq!(last_evidence(&recorded), json!({"note": NOTE, "photos": 3}));

    // In the database: neither the case log nor the sealed text holds the words.
    let stored = stored_evidence(&f.db, f.north.case_id).await;
    let last: Value = serde_json::from_str(stored.last().unwrap()).unwrap();
    assert!(!stored.iter().any(|e| e.contains("asthma")), "{stored:?}");
    let reference = &last["sealed_text"];
    assert_eq!(reference["sha256"].as_str().unwrap().len(), 64, "{last}");
    let text_id = reference["id"].as_i64().unwrap();
    let row =
        f.db.query_one(
            "SELECT sealed, key_generation, landlord_id, case_id FROM case_event_texts WHERE id = $1",
            &[&text_id],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(!sealed.windows(6).any(|w| w == b"asthma"));
    assert_eq!(row.get::<_, i32>(1), 1);
    assert_eq!(row.get::<_, String>(2), f.north.id);
    assert_eq!(row.get::<_, i64>(3), f.north.case_id);
    assert_eq!(broken_links(&f.db).await, 0);

    // Another landlord's note, to show its erasure leaves this one alone.
    let south_uri = format!("/v1/cases/{}/events", f.south.case_id);
    let south_note = json!({"type": "access_attempt", "outcome": "refused", "actor": "Bo",
                            "evidence": {"note": "no answer at the door"}});
    let south = post(&f.app, &south_uri, &f.south.key, &south_note).await;
    assert_eq!(south.status, StatusCode::CREATED, "{}", south.text);

    // Rotating north's text key re-seals the note under the new generation; it still opens.
    let mut owner = dampwatch_store::connect(&f.db_url).await.unwrap();
    let tx = owner.transaction().await.unwrap();
    let rotation = dampwatch_privacy::case_texts::rotate(&tx, &f.secrets_key, &f.north.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((rotation.from, rotation.to, rotation.resealed), (Some(1), Some(2), 1));
    let generation: i32 =
        f.db.query_one("SELECT key_generation FROM case_event_texts WHERE id = $1", &[&text_id])
            .await
            .unwrap()
            .get(0);
    assert_eq!(generation, 2);
    let case = get(&f.app, &format!("/v1/cases/{}", f.north.case_id), &f.north.key).await;
    assert_eq!(last_evidence(&case)["note"], NOTE, "{}", case.text);

    // Erasing north's keys: its note no longer opens and the API says why; the chain, which
    // holds only the salted digest, still verifies; south's note still opens.
    let tx = owner.transaction().await.unwrap();
    let erasure = dampwatch_privacy::erase_landlord(&tx, &f.north.id).await.unwrap();
    tx.commit().await.unwrap();
    // Both generations of its text key are recorded destroyed, the retired one too.
    assert_eq!((erasure.text_keys_destroyed, erasure.case_texts), (2, 1));
    let case = get(&f.app, &format!("/v1/cases/{}", f.north.case_id), &f.north.key).await;
    assert_eq!(case.status, StatusCode::OK, "{}", case.text);
    assert!(!case.text.contains("asthma"), "{}", case.text);
    let evidence = last_evidence(&case);
    assert!(evidence["sealed_text"]["unavailable"].as_str().unwrap().contains("erased"), "{evidence}");
    assert_eq!(broken_links(&f.db).await, 0);
    let south = get(&f.app, &format!("/v1/cases/{}", f.south.case_id), &f.south.key).await;
    assert_eq!(last_evidence(&south)["note"], "no answer at the door", "{}", south.text);

    // An erased landlord's officers cannot add personal data it could never open again.
    let refused = post(
        &f.app,
        &north_uri,
        &f.north.key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "evidence": {"note": "x"}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
}

#[tokio::test]
async fn without_a_secrets_key_evidence_with_words_is_refused_and_none_is_stored_in_clear() {
    let f = fixture().await;
    let clock = common::clock();
    let state = ApiState::connect(&f.api_url, clock, ApiConfig::default()).unwrap();
    let app = router(state);
    let uri = format!("/v1/cases/{}/events", f.north.case_id);
    let before = stored_evidence(&f.db, f.north.case_id).await;
    let refused = post(
        &app,
        &uri,
        &f.north.key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "evidence": {"note": NOTE}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.text);
    assert!(refused.json["detail"].as_str().unwrap().contains("secrets key"), "{}", refused.text);
    assert_eq!(stored_evidence(&f.db, f.north.case_id).await, before);
    // Without words to seal, the event is recorded.
    let plain = post(
        &app,
        &uri,
        &f.north.key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann"}),
    )
    .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.text);
}

#[tokio::test]
async fn evidence_may_not_pose_as_a_sealed_texts_reference() {
    let f = fixture().await;
    let uri = format!("/v1/cases/{}/events", f.north.case_id);
    let reply = post(
        &f.app,
        &uri,
        &f.north.key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann",
                "evidence": {"sealed_text": {"id": 1, "sha256": "00"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
}

#[tokio::test]
async fn the_tenant_role_reaches_only_its_own_landlords_keys_and_texts() {
    let f = fixture().await;
    for (landlord, case_id) in [(&f.north, f.north.case_id), (&f.south, f.south.case_id)] {
        let reply = post(
            &f.app,
            &format!("/v1/cases/{case_id}/events"),
            &landlord.key,
            &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "evidence": {"note": landlord.id}}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    let mut db = dampwatch_store::connect(&f.db_url).await.unwrap();
    let tx = db.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL ROLE dampwatch_api_tenant").await.unwrap();
    tx.execute("SELECT set_config('dampwatch.landlord', $1, true)", &[&f.south.id]).await.unwrap();
    let column = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect::<Vec<String>>();
    let texts = column(tx.query("SELECT landlord_id FROM case_event_texts", &[]).await.unwrap());
    assert_eq!(texts, vec![f.south.id.clone()], "only south's texts");
    // Its own text key, sealed; never a key of the master key's tree.
    let current = tx.query("SELECT generation FROM tenant_current_text_key()", &[]).await.unwrap();
    assert_eq!(current.len(), 1);
    let keys = column(tx.query("SELECT landlord_id FROM landlord_text_keys", &[]).await.unwrap());
    assert_eq!(keys, vec![f.south.id.clone()], "only south's text keys");
    let south_wrapped: Vec<u8> =
        tx.query_one("SELECT wrapped_key FROM landlord_text_keys", &[]).await.unwrap().get(0);
    // A text may not be slipped under another landlord.
    let err = tx
        .execute(
            "INSERT INTO case_event_texts (case_id, landlord_id, key_generation, sealed) VALUES ($1, $2, 1, '\\x00')",
            &[&f.north.case_id, &f.north.id],
        )
        .await
        .expect_err("another landlord's row");
    let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("row-level security"), "{err:?}");
    tx.rollback().await.unwrap();
    let tx = db.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL ROLE dampwatch_api_tenant").await.unwrap();
    let data_keys = tx.query("SELECT 1 FROM landlord_data_keys", &[]).await.expect_err("no data key");
    assert_eq!(data_keys.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE));
    tx.rollback().await.unwrap();
    // With no landlord set: no key, and no first key made.
    let tx = db.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL ROLE dampwatch_api_tenant").await.unwrap();
    assert!(tx.query("SELECT 1 FROM tenant_current_text_key()", &[]).await.unwrap().is_empty());
    let made: bool = tx.query_one("SELECT tenant_first_text_key('\\x00', 'x')", &[]).await.unwrap().get(0);
    assert!(!made);
    tx.rollback().await.unwrap();
    let north_wrapped: Vec<u8> =
        f.db.query_one("SELECT wrapped_key FROM landlord_text_keys WHERE landlord_id = $1", &[&f.north.id])
            .await
            .unwrap()
            .get(0);
    assert_ne!(south_wrapped, north_wrapped);
}

#[tokio::test]
async fn a_case_of_another_landlord_or_none_is_not_found_before_any_key_is_touched() {
    let f = fixture().await;
    let note =
        json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "evidence": {"note": "x"}});
    for case_id in [f.south.case_id, 999_999] {
        let reply = post(&f.app, &format!("/v1/cases/{case_id}/events"), &f.north.key, &note).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    }
    let texts: i64 = f.db.query_one("SELECT count(*) FROM case_event_texts", &[]).await.unwrap().get(0);
    assert_eq!(texts, 0);
}
