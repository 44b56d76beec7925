//! People signing in: roles, landlord isolation for people, lockout, TOTP, session lifetimes,
//! session ids that change at sign-in and step-up, and CSRF on changes. Time is the state's
//! injectable wall clock, moved forward instead of waited for.

mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::people::{People, Signed, PASSWORD};
use dampwatch_accounts::{totp, Role};
use dampwatch_api::{ApiConfig, ApiState};
use serde_json::json;

#[tokio::test]
async fn a_contractor_sees_only_the_cases_assigned_to_them_and_records_only_works() {
    let p = People::new().await;
    let case = p.f.north.case_id;
    let contractor_id = p.user(Some("north-homes"), "fixer@north.example", Role::Contractor).await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let contractor = p.sign_in("fixer@north.example").await;
    let officer = p.sign_in("officer@north.example").await;

    let cases = p.call(Method::GET, "/v1/cases", Some(&contractor), false, None).await;
    assert_eq!(cases.status, StatusCode::OK);
    assert_eq!(cases.json["items"], json!([]), "nothing assigned yet: {}", cases.text);
    let one = p.call(Method::GET, &format!("/v1/cases/{case}"), Some(&contractor), false, None).await;
    assert_eq!(one.status, StatusCode::NOT_FOUND, "an unassigned case is not the contractor's to see");
    let alerts = p.call(Method::GET, "/v1/alerts", Some(&contractor), false, None).await;
    assert_eq!(alerts.status, StatusCode::FORBIDDEN);

    let assign = json!({"user_id": contractor_id});
    let reply =
        p.call(Method::POST, &format!("/v1/cases/{case}/assign"), Some(&officer), true, Some(assign)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let cases = p.call(Method::GET, "/v1/cases", Some(&contractor), false, None).await;
    let ids: Vec<i64> =
        cases.json["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![case], "exactly the assigned case");
    let one = p.call(Method::GET, &format!("/v1/cases/{case}"), Some(&contractor), false, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    let triage = json!({"type": "triage_decided", "category": "no_hazard", "actor": "Fixer"});
    let reply = p
        .call(Method::POST, &format!("/v1/cases/{case}/events"), Some(&contractor), true, Some(triage))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "a contractor records works, not triage: {}", reply.text);
    let officers_view = p.call(Method::GET, "/v1/cases", Some(&officer), false, None).await;
    assert!(
        officers_view.json["items"].as_array().unwrap().len() > 1,
        "officers see every case of the landlord"
    );
}

#[tokio::test]
async fn an_officer_cannot_manage_users_and_an_admin_manages_only_their_landlords() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    p.user(Some("south-homes"), "admin@south.example", Role::LandlordAdmin).await;
    let officer = p.sign_in("officer@north.example").await;
    let reply = p.call(Method::GET, "/v1/users", Some(&officer), false, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);

    // An admin must enrol a second factor before acting as one.
    let unenrolled = p.sign_in("admin@north.example").await;
    let reply = p.call(Method::GET, "/v1/users", Some(&unenrolled), false, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text.contains("second factor"), "{}", reply.text);

    let (north, _, _) = p.sign_in_enrolled("admin@north.example").await;
    let listed = p.call(Method::GET, "/v1/users", Some(&north), false, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let emails: Vec<&str> =
        listed.json.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, vec!["admin@north.example", "officer@north.example"]);

    let (south, _, _) = p.sign_in_enrolled("admin@south.example").await;
    let listed = p.call(Method::GET, "/v1/users", Some(&south), false, None).await;
    assert!(!listed.text.contains("north"), "{}", listed.text);
    let officer_id: i64 =
        p.f.db
            .query_one("SELECT id FROM users WHERE email = 'officer@north.example'", &[])
            .await
            .unwrap()
            .get(0);
    let reply = p
        .call(
            Method::POST,
            &format!("/v1/users/{officer_id}"),
            Some(&south),
            true,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "another landlord's person does not exist for south");
    for (path, body) in [("/v1/cases", None), ("/v1/alerts", None)] {
        let reply = p.call(Method::GET, path, Some(&south), false, body).await;
        assert!(!reply.text.contains("north-homes"), "{path}: {}", reply.text);
    }

    let created = p
        .call(
            Method::POST,
            "/v1/users",
            Some(&north),
            true,
            Some(json!({"email": "Auditor@North.example", "display_name": "Ada Auditor", "role": "auditor"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["user"]["email"], "auditor@north.example");
    let made_operator = p
        .call(
            Method::POST,
            "/v1/users",
            Some(&north),
            true,
            Some(json!({"email": "op@x.example", "display_name": "Op", "role": "operator"})),
        )
        .await;
    assert_eq!(made_operator.status, StatusCode::FORBIDDEN);

    // Disabling ends the officer's session at once.
    let reply = p
        .call(
            Method::POST,
            &format!("/v1/users/{officer_id}"),
            Some(&north),
            true,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let gone = p.call(Method::GET, "/v1/me", Some(&officer), false, None).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn five_failures_lock_the_account_for_a_growing_period_answered_like_any_refusal() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let unknown = p.sign_in_with("nobody@north.example", PASSWORD, json!({}), None).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    for _ in 0..5 {
        let wrong = p.sign_in_with("officer@north.example", "not my password at all", json!({}), None).await;
        assert_eq!(
            (wrong.status, &wrong.json),
            (StatusCode::UNAUTHORIZED, &unknown.json),
            "same answer as unknown"
        );
    }
    let locked = p.sign_in_with("officer@north.example", PASSWORD, json!({}), None).await;
    assert_eq!(
        (locked.status, &locked.json),
        (StatusCode::UNAUTHORIZED, &unknown.json),
        "locked, said the same way"
    );

    p.advance(Duration::seconds(61));
    let signed = p.sign_in("officer@north.example").await;
    let me = p.call(Method::GET, "/v1/me", Some(&signed), false, None).await;
    assert!(me.json["user"]["last_lockout_at"].is_string(), "the person is told of the lockout: {}", me.text);

    // A second lockout lasts twice as long (the count restarts only after... a success, above).
    for _ in 0..5 {
        p.sign_in_with("officer@north.example", "not my password at all", json!({}), None).await;
    }
    p.advance(Duration::seconds(61));
    let still = p.sign_in_with("officer@north.example", PASSWORD, json!({}), None).await;
    assert_eq!(still.status, StatusCode::OK, "after a success the growth restarts: {}", still.text);

    let audited: i64 =
        p.f.db
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = 'session.sign_in' AND outcome = 'failure'
               AND details::jsonb ->> 'reason' IN ('wrong_password', 'locked', 'unknown_user')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(audited, 12, "every refusal is in the audit log with its cause");
    let lockouts = p.audit_entries("account.locked").await;
    assert_eq!(lockouts, 2, "each lockout has its own entry");
}

#[tokio::test]
async fn a_totp_code_is_accepted_once() {
    let p = People::new().await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (_, secret, _) = p.sign_in_enrolled("admin@north.example").await;
    let needs = p.sign_in_with("admin@north.example", PASSWORD, json!({}), None).await;
    assert_eq!(needs.status, StatusCode::UNAUTHORIZED);
    assert_eq!(needs.json["type"], "urn:dampwatch:problem:second-factor-needed");

    p.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, p.at().timestamp());
    let first = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let replay = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "the same code is refused: {}", replay.text);
    p.advance(Duration::seconds(30));
    let next = totp::code_at(&secret, p.at().timestamp());
    let later = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": next}), None).await;
    assert_eq!(later.status, StatusCode::OK, "the next step's code works");
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_after_8_hours() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;
    p.advance(Duration::minutes(29));
    assert_eq!(p.call(Method::GET, "/v1/me", Some(&s), false, None).await.status, StatusCode::OK);
    p.advance(Duration::minutes(31));
    let idle = p.call(Method::GET, "/v1/me", Some(&s), false, None).await;
    assert_eq!(idle.status, StatusCode::UNAUTHORIZED, "31 idle minutes end it");
    assert_eq!(idle.json["type"], "urn:dampwatch:problem:invalid-session");

    let s = p.sign_in("officer@north.example").await;
    let signed_in_at = p.at();
    while p.at() + Duration::minutes(20) < signed_in_at + Duration::hours(8) {
        p.advance(Duration::minutes(20));
        let reply = p.call(Method::GET, "/v1/me", Some(&s), false, None).await;
        assert_eq!(reply.status, StatusCode::OK, "active and within 8 hours");
    }
    *p.now.lock().unwrap() = signed_in_at + Duration::hours(8) + Duration::seconds(1);
    let old = p.call(Method::GET, "/v1/me", Some(&s), false, None).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "8 hours end it however active");
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_sign_out_ends_it() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let planted = p.sign_in("officer@north.example").await;
    let reply = p.sign_in_with("officer@north.example", PASSWORD, json!({}), Some(&planted)).await;
    let fresh = Signed::from(&reply);
    assert_ne!(fresh.cookie, planted.cookie, "signing in issues a new id");
    assert_eq!(
        p.call(Method::GET, "/v1/me", Some(&planted), false, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let other = p.sign_in("officer@north.example").await;
    let list = p.call(Method::GET, "/v1/me/sessions", Some(&fresh), false, None).await;
    assert_eq!(list.json.as_array().unwrap().len(), 2, "{}", list.text);
    let out = p.call(Method::DELETE, "/v1/session", Some(&fresh), true, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(
        p.call(Method::GET, "/v1/me", Some(&fresh), false, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(p.call(Method::GET, "/v1/me", Some(&other), false, None).await.status, StatusCode::OK);
    let everywhere = p.call(Method::DELETE, "/v1/me/sessions", Some(&other), true, None).await;
    assert_eq!(everywhere.status, StatusCode::NO_CONTENT);
    assert_eq!(
        p.call(Method::GET, "/v1/me", Some(&other), false, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_change_without_the_sessions_csrf_token_is_refused() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;
    let path = format!("/v1/cases/{}/assign", p.f.north.case_id);
    let body = json!({"user_id": null});
    let none = p.call(Method::POST, &path, Some(&s), false, Some(body.clone())).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert_eq!(none.json["type"], "urn:dampwatch:problem:csrf");
    let forged = Signed { cookie: s.cookie.clone(), csrf: "guessed".into() };
    let wrong = p.call(Method::POST, &path, Some(&forged), true, Some(body.clone())).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let right = p.call(Method::POST, &path, Some(&s), true, Some(body)).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
}

#[tokio::test]
async fn changing_the_second_factor_needs_the_password_and_current_code_and_ends_other_sessions() {
    let p = People::new().await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (s, secret, _) = p.sign_in_enrolled("admin@north.example").await;
    p.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, p.at().timestamp());
    let other = Signed::from(
        &p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await,
    );

    let session_only = p
        .call(
            Method::POST,
            "/v1/me/mfa/totp",
            Some(&s),
            true,
            Some(json!({"current_password": "wrong password here"})),
        )
        .await;
    assert_eq!(
        session_only.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a session alone cannot replace the factor"
    );
    let no_code = p
        .call(Method::POST, "/v1/me/mfa/totp", Some(&s), true, Some(json!({"current_password": PASSWORD})))
        .await;
    assert_eq!(no_code.status, StatusCode::UNPROCESSABLE_ENTITY, "replacing a factor needs a current code");
    let failures = p.counter("admin@north.example", "failed_attempts").await;
    assert_eq!(failures, 2, "failed re-authentications count towards lockout");

    p.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, p.at().timestamp());
    let started = p
        .call(
            Method::POST,
            "/v1/me/mfa/totp",
            Some(&s),
            true,
            Some(json!({"current_password": PASSWORD, "code": code})),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    let pending = p.f.pending_totp("admin@north.example").await;
    let valid: Vec<String> = (-1..=1).map(|k| totp::code_at(&pending, p.at().timestamp() + 30 * k)).collect();
    let wrong = (0..).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap();
    let refused =
        p.call(Method::POST, "/v1/me/mfa/totp/confirm", Some(&s), true, Some(json!({"code": wrong}))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    let failed_confirmations: i64 =
        p.f.db
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = 'mfa.enrolled' AND outcome = 'failure'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(failed_confirmations, 1, "a failed confirmation is audited");
    let confirm = json!({"code": totp::code_at(&pending, p.at().timestamp())});
    let confirmed = p.call(Method::POST, "/v1/me/mfa/totp/confirm", Some(&s), true, Some(confirm)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(
        p.call(Method::GET, "/v1/me", Some(&other), false, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let codes = confirmed.json["recovery_codes"].as_array().unwrap();
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 29), "120-bit recovery codes: {codes:?}");
}

#[tokio::test]
async fn a_locked_account_with_a_second_factor_still_lets_its_person_in_and_an_admin_can_unlock() {
    let p = People::new().await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    p.user(Some("north-homes"), "second@north.example", Role::LandlordAdmin).await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let (_, secret, _) = p.sign_in_enrolled("admin@north.example").await;
    for _ in 0..5 {
        p.sign_in_with("admin@north.example", "not my password at all", json!({}), None).await;
    }
    p.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, p.at().timestamp());
    let wrong_code =
        p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": "000000"}), None).await;
    let no_code = p.sign_in_with("admin@north.example", PASSWORD, json!({}), None).await;
    let wrong_password =
        p.sign_in_with("admin@north.example", "still not it, sorry", json!({"totp_code": code}), None).await;
    for refused in [&wrong_code, &no_code, &wrong_password] {
        assert_eq!(
            refused.json["type"], "urn:dampwatch:problem:sign-in-refused",
            "the lockout tells nothing: {}",
            refused.text
        );
    }
    let code = totp::code_at(&secret, p.at().timestamp());
    let both = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(
        both.status,
        StatusCode::OK,
        "password and code get the person in despite the lockout: {}",
        both.text
    );

    // An officer without a second factor stays locked until an admin unlocks them.
    for _ in 0..5 {
        p.sign_in_with("officer@north.example", "not my password at all", json!({}), None).await;
    }
    assert_eq!(
        p.sign_in_with("officer@north.example", PASSWORD, json!({}), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (admin, _, _) = p.sign_in_enrolled("second@north.example").await;
    let officer_id: i64 =
        p.f.db
            .query_one("SELECT id FROM users WHERE email = 'officer@north.example'", &[])
            .await
            .unwrap()
            .get(0);
    let unlocked = p
        .call(
            Method::POST,
            &format!("/v1/users/{officer_id}"),
            Some(&admin),
            true,
            Some(json!({"unlock": true})),
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.text);
    let officer = p.sign_in("officer@north.example").await;
    let ended = p
        .call(
            Method::POST,
            &format!("/v1/users/{officer_id}"),
            Some(&admin),
            true,
            Some(json!({"end_sessions": true})),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK);
    assert_eq!(
        p.call(Method::GET, "/v1/me", Some(&officer), false, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_person_ends_one_chosen_session_and_a_wrong_current_password_counts_towards_lockout() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let here = p.sign_in("officer@north.example").await;
    let laptop = p.sign_in("officer@north.example").await;
    let list = p.call(Method::GET, "/v1/me/sessions", Some(&here), false, None).await;
    let other = list.json.as_array().unwrap().iter().find(|s| s["current"] == false).unwrap();
    let handle = other["handle"].as_str().unwrap();
    let ended = p.call(Method::DELETE, &format!("/v1/me/sessions/{handle}"), Some(&here), true, None).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(
        p.call(Method::GET, "/v1/me", Some(&laptop), false, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(p.call(Method::GET, "/v1/me", Some(&here), false, None).await.status, StatusCode::OK);

    for _ in 0..5 {
        let guess = json!({"current_password": "a wrong guess, again", "new_password": "granite lanterns hum at dusk"});
        let reply = p.call(Method::POST, "/v1/me/password", Some(&here), true, Some(guess)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let locked = p.sign_in_with("officer@north.example", PASSWORD, json!({}), None).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "guessing through the password change locks the account too"
    );
    // While locked, the session can guess no further: not even the right password is checked.
    let right = json!({"current_password": PASSWORD, "new_password": "granite lanterns hum at dusk"});
    let refused = p.call(Method::POST, "/v1/me/password", Some(&here), true, Some(right)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert!(refused.text.contains("locked until"), "{}", refused.text);
    let lockouts = p.audit_entries("account.locked").await;
    assert_eq!(lockouts, 1, "the lockout the password change started is audited");
    p.advance(Duration::hours(2));
    assert_eq!(
        p.sign_in_with("officer@north.example", PASSWORD, json!({}), None).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn codes_tried_with_the_password_are_limited_while_the_account_is_locked() {
    let p = People::new().await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (_, secret, _) = p.sign_in_enrolled("admin@north.example").await;
    for _ in 0..5 {
        p.sign_in_with("admin@north.example", "not my password at all", json!({}), None).await;
    }
    // Someone holding the password tries codes while the account is locked: as many are
    // checked as it takes to lock an account.
    p.advance(Duration::seconds(30));
    let valid: Vec<String> = (-1..=1).map(|k| totp::code_at(&secret, p.at().timestamp() + 30 * k)).collect();
    let mut guesses = (0..).map(|n| format!("{n:06}")).filter(|c| !valid.contains(c));
    for _ in 0..5 {
        let guess = json!({"totp_code": guesses.next().unwrap()});
        let refused = p.sign_in_with("admin@north.example", PASSWORD, guess, None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    }
    // Then not even a valid code is checked until the lockout ends, and the refusal is the same.
    let code = totp::code_at(&secret, p.at().timestamp());
    let refused = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a sixth code was checked: {}", refused.text);
    assert_eq!(refused.json["type"], "urn:dampwatch:problem:sign-in-refused", "{}", refused.text);

    // Once it ends, the person's password and code get them in, and the count starts again.
    p.advance(Duration::hours(2));
    let code = totp::code_at(&secret, p.at().timestamp());
    let signed_in = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let failures = p.counter("admin@north.example", "second_factor_failures").await;
    assert_eq!(failures, 0);
}

#[tokio::test]
async fn a_signed_in_officers_triage_is_attributed_to_their_account_and_audited() {
    let p = People::new().await;
    let officer_id = p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;
    let alert = p.f.north.alert_awaiting_triage;
    let body = json!({"category": "no_hazard", "actor": "Someone Else"});
    let reply = p.call(Method::POST, &format!("/v1/alerts/{alert}/triage"), Some(&s), true, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let case_id = reply.json["case_id"].as_i64().unwrap();
    let actor: String =
        p.f.db
            .query_one(
                "SELECT actor FROM case_events WHERE case_id = $1 AND kind = 'triage_decided'",
                &[&case_id],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(actor, format!("user:{officer_id}"), "the session's person, not the name in the body");
    let audited: i64 = p
        .f
        .db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'alert.triage' AND actor = $1 AND landlord_id = 'north-homes'
               AND target = $2",
            &[&format!("user:{officer_id}"), &format!("alert:{alert}")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_person_sets_their_own_email_notifications_and_admins_see_only_their_landlords_email_failures() {
    let p = People::new().await;
    let officer_id = p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let south_officer = p.user(Some("south-homes"), "officer@south.example", Role::HousingOfficer).await;
    p.user(Some("south-homes"), "admin@south.example", Role::LandlordAdmin).await;

    // A housing officer's role gives both until they choose.
    let officer = p.sign_in("officer@north.example").await;
    let mine = p.call(Method::GET, "/v1/me/notifications", Some(&officer), false, None).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(mine.json, json!({"immediate": true, "daily_digest": true, "role_defaults": true}));

    // Opting out of the digest: a change, so it needs the CSRF token; audited.
    let choice = json!({"immediate": true, "daily_digest": false});
    let refused =
        p.call(Method::PUT, "/v1/me/notifications", Some(&officer), false, Some(choice.clone())).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let set = p.call(Method::PUT, "/v1/me/notifications", Some(&officer), true, Some(choice)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.json, json!({"immediate": true, "daily_digest": false, "role_defaults": false}));
    let again = p.call(Method::GET, "/v1/me/notifications", Some(&officer), false, None).await;
    assert_eq!(again.json["daily_digest"], false);
    let audited: i64 =
        p.f.db
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = 'notifications.update' AND target = $1",
                &[&format!("user:{officer_id}")],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(audited, 1);
    let typo = p
        .call(Method::PUT, "/v1/me/notifications", Some(&officer), true, Some(json!({"immediate": true})))
        .await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", typo.text);

    // A failed e-mail of each landlord and a bounce of each: an admin sees their landlord's.
    for (landlord, user, address) in [
        ("north-homes", officer_id, "officer@north.example"),
        ("south-homes", south_officer, "officer@south.example"),
    ] {
        p.f.db
            .execute(
                "INSERT INTO email_outbox (landlord_id, user_id, address, kind, event_type, payload, state, attempts,
                     last_error, failed_at)
                 VALUES ($1, $2, $3, 'event', 'case.updated', '{}', 'failed', 1,
                     'permanent error (550): 5.1.1 mailbox unavailable', now())",
                &[&landlord, &user, &address],
            )
            .await
            .unwrap();
        assert!(dampwatch_alerts::email::admin::record_bounce(&p.f.db, address, "550", "cli:test")
            .await
            .unwrap());
    }
    let forbidden = p.call(Method::GET, "/v1/email/failures", Some(&officer), false, None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "an officer does not manage people");
    let (admin, _, _) = p.sign_in_enrolled("admin@north.example").await;
    let failures = p.call(Method::GET, "/v1/email/failures", Some(&admin), false, None).await;
    assert_eq!(failures.status, StatusCode::OK, "{}", failures.text);
    let listed = failures.json["failures"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", failures.text);
    assert_eq!(listed[0]["address"], "officer@north.example");
    assert_eq!(listed[0]["state"], "failed");
    let bounces = failures.json["bounces"].as_array().unwrap();
    assert_eq!(bounces.len(), 1, "{}", failures.text);
    assert_eq!(bounces[0]["address"], "officer@north.example");
    assert!(!failures.text.contains("south"), "{}", failures.text);
}

#[tokio::test]
async fn a_second_factor_is_stored_sealed_and_a_service_without_its_key_refuses_rather_than_guesses() {
    let p = People::new().await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (_, secret, _) = p.sign_in_enrolled("admin@north.example").await;

    // At rest: sealed only, nothing of it in clear, and still shown as a second factor in use.
    let row =
        p.f.db
            .query_one(
                "SELECT totp_secret, totp_pending, totp_pending_sealed, totp_sealed, mfa_enabled FROM users
             WHERE email = 'admin@north.example'",
                &[],
            )
            .await
            .unwrap();
    for (i, column) in ["totp_secret", "totp_pending", "totp_pending_sealed"].iter().enumerate() {
        assert_eq!(row.get::<_, Option<Vec<u8>>>(i), None, "{column}");
    }
    let sealed: Vec<u8> = row.get(3);
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()), "the secret is not in the row");
    assert!(row.get::<_, bool>(4), "mfa_enabled");

    // A service without the key (or with another) cannot check the code: it says so (503)
    // instead of refusing the person, and counts nothing against the account.
    let other = {
        let dir = tempfile::tempdir().unwrap();
        std::sync::Arc::new(dampwatch_privacy::SecretsKey::open_or_create(&dir.path().join("k")).unwrap())
    };
    for state in [
        ApiState::connect(&p.f.api_url, common::clock(), ApiConfig::default()).unwrap(),
        ApiState::connect(&p.f.api_url, common::clock(), ApiConfig::default())
            .unwrap()
            .with_secrets_key(other),
    ] {
        let app = p.router_for(state);
        p.advance(Duration::seconds(30));
        let code = totp::code_at(&secret, p.at().timestamp());
        let body = json!({"email": "admin@north.example", "password": PASSWORD, "totp_code": code});
        let reply = p.call_on(&app, Method::POST, "/v1/session", None, false, Some(body)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text);
    }
    let failed = p.counter("admin@north.example", "failed_attempts").await;
    assert_eq!(failed, 0);
    // With the key, the same person signs in.
    p.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, p.at().timestamp());
    let signed = p.sign_in_with("admin@north.example", PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
}
