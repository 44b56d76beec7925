//! The OWASP ASVS 5.0 V6–V8 requirements `docs/security/asvs.md` maps to tests here: password
//! change and reset, exact and long passwords, recovery codes, setup tokens, no default
//! accounts, no forced rotation, sessions ending when an account changes, secret columns out
//! of the tenant role's reach, and every role refused every endpoint its permissions do not
//! cover. Time is the state's injectable wall clock, moved forward instead of waited for.

mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::people::{People, Signed, PASSWORD};
use common::{fixture, send};
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users;
use dampwatch_accounts::{totp, Role};
use dampwatch_api::routes::Access;
use dampwatch_api::{Verb, ENDPOINTS};
use serde_json::json;

const NEW_PASSWORD: &str = "granite lanterns hum at dusk";

/// ASVS 6.2.2, 6.2.3, 7.4.3: a person changes their own password, only with the current one,
/// and every session of theirs ends.
#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_every_session() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let here = p.sign_in("officer@north.example").await;
    let elsewhere = p.sign_in("officer@north.example").await;

    let wrong = json!({"current_password": "not my password at all", "new_password": NEW_PASSWORD});
    let reply = p.call(Method::POST, "/v1/me/password", Some(&here), true, Some(wrong)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert!(p.alive(&here).await && p.alive(&elsewhere).await, "a refused change ends nothing");

    let missing = json!({"new_password": NEW_PASSWORD});
    let reply = p.call(Method::POST, "/v1/me/password", Some(&here), true, Some(missing)).await;
    assert!(reply.status.is_client_error(), "the current password is required: {}", reply.text);

    let weak = json!({"current_password": PASSWORD, "new_password": "officer12345"});
    let reply = p.call(Method::POST, "/v1/me/password", Some(&here), true, Some(weak)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "the policy applies to changes too");

    let right = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let reply = p.call(Method::POST, "/v1/me/password", Some(&here), true, Some(right)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert!(!p.alive(&here).await, "this session ended");
    assert!(!p.alive(&elsewhere).await, "the other session ended too");

    let old = p.sign_in_with("officer@north.example", PASSWORD, json!({}), None).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = p.sign_in_with("officer@north.example", NEW_PASSWORD, json!({}), None).await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text);
}

/// ASVS 6.2.8, 6.2.9, 6.2.5: a 128-character passphrase with spaces, punctuation and non-ASCII
/// letters is accepted, and only exactly that password signs in (no truncation, no case
/// folding, no trimming).
#[tokio::test]
async fn a_128_character_password_is_accepted_and_checked_exactly_as_typed() {
    let p = People::new().await;
    let id = p.bare_user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let long: String = "Wet plaster, black spores; the fan hums — ça sent le moisi! "
        .chars()
        .cycle()
        .take(password_max())
        .collect();
    assert_eq!(long.chars().count(), 128);

    let too_long = format!("{long}x");
    let token = reset::issue(&p.f.db, id, p.at(), RESET_TOKEN_LIFETIME).await.unwrap();
    let reply = p
        .call(
            Method::POST,
            "/v1/password-reset",
            None,
            false,
            Some(json!({"token": token, "new_password": too_long})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "129 characters: {}", reply.text);

    let reply = p
        .call(
            Method::POST,
            "/v1/password-reset",
            None,
            false,
            Some(json!({"token": token, "new_password": long})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);

    let truncated: String = long.chars().take(72).collect();
    // Four variants: a fifth failure would lock the account (five in a row).
    let variants = [long.to_uppercase(), format!("{long} "), truncated, long.chars().take(127).collect()];
    for variant in &variants {
        let reply = p.sign_in_with("officer@north.example", variant, json!({}), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "a variant signed in: {variant:?}");
    }
    let reply = p.sign_in_with("officer@north.example", &long, json!({}), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

fn password_max() -> usize {
    dampwatch_accounts::password::MAX_CHARS
}

/// ASVS 6.5.1: a recovery code signs in once, in place of a TOTP code, never again.
#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let p = People::new().await;
    p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (_, _, codes) = p.sign_in_enrolled("admin@north.example").await;
    assert_eq!(codes.len(), 10);
    let code = &codes[3];
    let first = p.sign_in_with("admin@north.example", PASSWORD, json!({"recovery_code": code}), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let signed = Signed::from(&first);
    let me = p.call(Method::GET, "/v1/me", Some(&signed), false, None).await;
    assert_eq!(me.json["recovery_codes_left"], 9, "{}", me.text);
    let again = p.sign_in_with("admin@north.example", PASSWORD, json!({"recovery_code": code}), None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a used recovery code is refused");
    let typed = code.to_lowercase().replace('-', " ");
    let again = p.sign_in_with("admin@north.example", PASSWORD, json!({"recovery_code": typed}), None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "however it is typed");
}

/// ASVS 6.4.3: setting a new password with a reset token leaves the second factor in force.
#[tokio::test]
async fn a_password_reset_does_not_bypass_the_second_factor() {
    let p = People::new().await;
    let id = p.user(Some("north-homes"), "admin@north.example", Role::LandlordAdmin).await;
    let (session, secret, _) = p.sign_in_enrolled("admin@north.example").await;

    let token = reset::issue(&p.f.db, id, p.at(), RESET_TOKEN_LIFETIME).await.unwrap();
    let body = json!({"token": token, "new_password": NEW_PASSWORD});
    let reply = p.call(Method::POST, "/v1/password-reset", None, false, Some(body)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert!(!p.alive(&session).await, "a reset ends the sessions");

    let needs = p.sign_in_with("admin@north.example", NEW_PASSWORD, json!({}), None).await;
    assert_eq!(needs.status, StatusCode::UNAUTHORIZED);
    assert_eq!(needs.json["type"], "urn:dampwatch:problem:second-factor-needed", "{}", needs.text);
    p.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, p.at().timestamp());
    let reply = p.sign_in_with("admin@north.example", NEW_PASSWORD, json!({"totp_code": code}), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// ASVS 6.4.1: the password-setup token a new user gets is single-use, expires after an hour,
/// is void once a newer one is issued, and is never itself a password.
#[tokio::test]
async fn a_password_setup_token_works_once_and_expires_within_the_hour() {
    let p = People::new().await;
    let id = p.bare_user(Some("north-homes"), "new@north.example", Role::HousingOfficer).await;
    let redeem = |token: &str| json!({"token": token, "new_password": PASSWORD});

    let expired = reset::issue(&p.f.db, id, p.at(), RESET_TOKEN_LIFETIME).await.unwrap();
    p.advance(Duration::minutes(61));
    let reply = p.call(Method::POST, "/v1/password-reset", None, false, Some(redeem(&expired))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "expired after an hour: {}", reply.text);
    let no_password = p.sign_in_with("new@north.example", &expired, json!({}), None).await;
    assert_eq!(no_password.status, StatusCode::UNAUTHORIZED, "the token is not a password");

    let superseded = reset::issue(&p.f.db, id, p.at(), RESET_TOKEN_LIFETIME).await.unwrap();
    let token = reset::issue(&p.f.db, id, p.at(), RESET_TOKEN_LIFETIME).await.unwrap();
    let reply = p.call(Method::POST, "/v1/password-reset", None, false, Some(redeem(&superseded))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "a newer token voids the older one");
    let reply = p.call(Method::POST, "/v1/password-reset", None, false, Some(redeem(&token))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let reply = p.call(Method::POST, "/v1/password-reset", None, false, Some(redeem(&token))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "used once only");
    p.sign_in("new@north.example").await;
}

/// ASVS 6.3.2: a new installation has no user account at all (no "admin", no "root"): the
/// operator's CLI makes the first one, with a password only the person sets.
#[tokio::test]
async fn a_new_installation_has_no_user_accounts() {
    let f = fixture().await;
    let n: i64 = f.db.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
    for name in ["admin", "root", "sa", "operator", "admin@dampwatch.local"] {
        let reply = send(
            &f.app,
            common::request(
                Method::POST,
                "/v1/session",
                None,
                Some(&json!({"email": name, "password": name})),
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
    }
}

/// ASVS 6.2.10: a password does not expire: years after it was set it still signs in.
#[tokio::test]
async fn a_password_never_has_to_be_rotated() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    p.advance(Duration::days(3 * 366));
    let s = p.sign_in("officer@north.example").await;
    assert!(p.alive(&s).await);
}

/// ASVS 7.4.2 (and a role change): disabling ends sessions (tested in people.rs); so do a role
/// change and deleting the user.
#[tokio::test]
async fn a_role_change_or_deletion_ends_the_persons_sessions() {
    let p = People::new().await;
    let id = p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;
    users::set_role(&p.f.db, id, Role::Auditor).await.unwrap();
    assert!(!p.alive(&s).await, "a role change ends the session");
    let s = p.sign_in("officer@north.example").await;
    p.f.db.execute("DELETE FROM users WHERE id = $1", &[&id]).await.unwrap();
    assert!(!p.alive(&s).await, "deleting the user ends the session");
    let left: i64 = p.f.db.query_one("SELECT count(*) FROM sessions", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
}

/// ASVS 8.2.3: the database role a landlord's requests run as reads and writes only the
/// profile columns of its people, never a secret column, a session, a recovery code or a
/// reset token.
#[tokio::test]
async fn the_tenant_role_reaches_no_secret_column_session_or_token() {
    let f = fixture().await;
    let privilege = |table: &str, column: &str, what: &str| {
        format!("SELECT has_column_privilege('dampwatch_api_tenant', '{table}', '{column}', '{what}')")
    };
    for column in [
        "password_hash",
        "totp_secret",
        "totp_pending",
        "totp_sealed",
        "totp_pending_sealed",
        "totp_last_step",
        "failed_attempts",
        "lockouts",
        "second_factor_failures",
    ] {
        for what in ["SELECT", "UPDATE", "INSERT"] {
            let granted: bool = f.db.query_one(&privilege("users", column, what), &[]).await.unwrap().get(0);
            assert!(!granted, "{what} on users.{column}");
        }
    }
    for column in ["email", "landlord_id", "password_changed_at", "locked_until"] {
        let granted: bool = f.db.query_one(&privilege("users", column, "UPDATE"), &[]).await.unwrap().get(0);
        assert!(!granted, "UPDATE on users.{column}");
    }
    for table in ["sessions", "recovery_codes", "password_resets"] {
        let granted: bool = f
            .db
            .query_one(
                &format!(
                    "SELECT has_table_privilege('dampwatch_api_tenant', '{table}', 'SELECT, INSERT, UPDATE, DELETE')"
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(!granted, "{table}");
    }
}

/// ASVS 8.2.1: for every role, every endpoint whose permission the role lacks answers 403
/// before its handler runs, and the ones it has are not refused for lack of permission.
#[tokio::test]
async fn every_role_is_refused_every_endpoint_its_permissions_do_not_cover() {
    let p = People::new().await;
    let mut signed = Vec::new();
    for (role, email) in [
        (Role::HousingOfficer, "officer@north.example"),
        (Role::Contractor, "fixer@north.example"),
        (Role::Auditor, "auditor@north.example"),
    ] {
        p.user(Some("north-homes"), email, role).await;
        signed.push((role, p.sign_in(email).await));
    }
    for (role, email, landlord) in [
        (Role::LandlordAdmin, "admin@north.example", Some("north-homes")),
        (Role::Operator, "operator@platform.example", None),
    ] {
        p.user(landlord, email, role).await;
        let (s, _, _) = p.sign_in_enrolled(email).await;
        signed.push((role, s));
    }
    let case = p.f.north.case_id;
    for endpoint in ENDPOINTS {
        let Access::Permission(permission) = endpoint.access else { continue };
        let path = endpoint.path.replace("{id}", &case.to_string());
        let method = match endpoint.verb {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Delete => Method::DELETE,
        };
        for (role, s) in &signed {
            let body = matches!(endpoint.verb, Verb::Post | Verb::Put).then(|| json!({}));
            let reply = p.call(method.clone(), &path, Some(s), true, body).await;
            let refused = reply.status == StatusCode::FORBIDDEN
                && reply.json["detail"].as_str().unwrap_or("").contains("may not");
            assert_eq!(
                refused,
                !role.allows(permission),
                "{role} {} {}: {} {}",
                endpoint.verb.as_str(),
                endpoint.path,
                reply.status,
                reply.text
            );
        }
    }
}
