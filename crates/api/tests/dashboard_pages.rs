//! The dashboard's pages through the router (the browser test is in the collector's tests):
//! who may see them, the board's filters and its CSV, and the password-setup page.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::people::{People, Signed, PASSWORD};
use common::raw;
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::Role;

fn get(uri: &str, session: Option<&Signed>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::GET).uri(uri);
    if let Some(s) = session {
        builder = builder.header(header::COOKIE, format!("__Host-dampwatch_session={}", s.cookie));
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn pages_need_a_session_and_a_role_that_may_see_them() {
    let p = People::new().await;
    let anonymous = raw(&p.app, get("/", None)).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header("location"), "/sign-in");
    let sign_in = raw(&p.app, get("/sign-in", None)).await;
    assert_eq!(sign_in.status, StatusCode::OK);
    assert!(sign_in.text.contains(r#"autocomplete="current-password""#));
    assert!(sign_in.header("content-security-policy").contains("form-action 'self'"));

    p.user(Some("north-homes"), "fixer@north.example", Role::Contractor).await;
    let contractor = p.sign_in("fixer@north.example").await;
    let landing = raw(&p.app, get("/", Some(&contractor))).await;
    assert_eq!(landing.status, StatusCode::OK, "{}", landing.text);
    assert!(landing.text.contains("No open case is assigned to you."), "a contractor has no SLA board");
    let case = raw(&p.app, get(&format!("/cases/{}", p.f.north.case_id), Some(&contractor))).await;
    assert_eq!(case.status, StatusCode::NOT_FOUND, "nor an unassigned case");
    let fixer: i64 =
        p.f.db
            .query_one("SELECT id FROM users WHERE email = 'fixer@north.example'", &[])
            .await
            .unwrap()
            .get(0);
    p.f.db
        .execute("UPDATE cases SET assigned_user_id = $2 WHERE id = $1", &[&p.f.north.case_id, &fixer])
        .await
        .unwrap();
    let landing = raw(&p.app, get("/", Some(&contractor))).await;
    assert!(landing.text.contains(&format!(">Case {}<", p.f.north.case_id)), "{}", landing.text);
    assert!(!landing.text.contains(&format!(">Case {}<", p.f.north.overdue_case_id)), "only theirs");
    let case = raw(&p.app, get(&format!("/cases/{}", p.f.north.case_id), Some(&contractor))).await;
    assert_eq!(case.status, StatusCode::OK, "their case opens: {}", case.text);
}

#[tokio::test]
async fn the_board_filters_by_status_and_downloads_what_it_shows_as_csv() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;
    let board = raw(&p.app, get("/", Some(&s))).await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.text);
    let overdue = p.f.north.overdue_case_id;
    assert!(board.text.contains(&format!("Case {overdue}")), "{}", board.text);
    assert!(!board.text.contains("south"), "only the landlord's cases");

    let csv = raw(&p.app, get("/board.csv?status=overdue&hazard=", Some(&s))).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "case,status,recorded_late,hazard,home,area,officer,next_step,next_due");
    assert!(
        lines.len() > 1 && lines[1..].iter().all(|l| l.split(',').nth(1) == Some("overdue")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with(&format!("{overdue},"))), "{lines:?}");

    let on_track = raw(&p.app, get("/?status=on_track", Some(&s))).await;
    assert!(!on_track.text.contains(&format!(">Case {overdue}<")), "the filter hides the overdue case");
}

#[tokio::test]
async fn the_board_filters_by_officer_and_area_and_picks_out_what_is_due_today() {
    let p = People::new().await;
    let me = p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;
    let (overdue, on_track) = (p.f.north.overdue_case_id, p.f.north.case_id);
    p.f.db.execute("UPDATE cases SET assigned_user_id = $2 WHERE id = $1", &[&overdue, &me]).await.unwrap();
    // The overdue case is in a home of its own in the Riverside area.
    p.f.db
        .execute(
            "WITH d AS (INSERT INTO dwellings (landlord_id, reference, area) VALUES ('north-homes', 'R-1', 'Riverside')
                        RETURNING id),
                  r AS (INSERT INTO rooms (dwelling_id, name) SELECT id, 'kitchen' FROM d RETURNING id)
             UPDATE cases SET room_id = r.id, room_key = 'room:' || r.id FROM r WHERE cases.id = $1",
            &[&overdue],
        )
        .await
        .unwrap();
    let shows = |text: &str, case: i64| text.contains(&format!(">Case {case}<"));

    let mine = raw(&p.app, get("/?officer=me", Some(&s))).await;
    assert!(shows(&mine.text, overdue) && !shows(&mine.text, on_track), "{}", mine.text);
    let by_id = raw(&p.app, get(&format!("/?officer={me}"), Some(&s))).await;
    assert!(shows(&by_id.text, overdue) && !shows(&by_id.text, on_track));
    assert!(by_id.text.contains("Test Person"), "the officer's name is shown");
    let unassigned = raw(&p.app, get("/?officer=unassigned", Some(&s))).await;
    assert!(!shows(&unassigned.text, overdue) && shows(&unassigned.text, on_track));
    let riverside = raw(&p.app, get("/?area=Riverside", Some(&s))).await;
    assert!(riverside.text.contains(r#"<option value="Riverside" selected>"#), "{}", riverside.text);
    assert!(shows(&riverside.text, overdue) && !shows(&riverside.text, on_track));
    let csv = raw(&p.app, get("/board.csv?area=Riverside", Some(&s))).await;
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with(&format!("{overdue},overdue,")), "{lines:?}");
    assert!(lines[1].contains(",Riverside,Test Person,"), "{lines:?}");

    // Move the wall clock to the UK date of the on-track case's next deadline, before it: the
    // board says "due today".
    let row = raw(&p.app, get("/board.csv?officer=unassigned", Some(&s))).await;
    let line =
        row.text.lines().find(|l| l.starts_with(&format!("{on_track},"))).expect("the case").to_owned();
    let due: chrono::DateTime<chrono::Utc> =
        line.rsplit(',').next().unwrap().parse().expect("a next deadline");
    let midnight = due
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(chrono_tz::Europe::London)
        .earliest()
        .unwrap()
        .with_timezone(&chrono::Utc);
    p.advance((midnight + (due - midnight) / 2) - p.at());
    let s = p.sign_in("officer@north.example").await;
    let today = raw(&p.app, get("/?status=due_today", Some(&s))).await;
    assert!(shows(&today.text, on_track) && !shows(&today.text, overdue), "{}", today.text);
    assert!(today.text.contains(r#"<span class="status due-today">Due today</span>"#), "{}", today.text);
}

#[tokio::test]
async fn a_new_person_sets_their_first_password_on_the_page_once() {
    let p = People::new().await;
    let id = p.bare_user(Some("north-homes"), "new@north.example", Role::Auditor).await;
    let token = reset::issue(&p.f.db, id, p.at(), RESET_TOKEN_LIFETIME).await.unwrap();
    let page = raw(&p.app, get(&format!("/set-password?token={token}"), None)).await;
    assert!(page.text.contains(&token), "the form carries the token");
    let post = |password: &str, confirm: &str| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &token)
            .append_pair("password", password)
            .append_pair("confirm", confirm)
            .finish();
        Request::builder()
            .method(Method::POST)
            .uri("/set-password")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let differ = raw(&p.app, post(PASSWORD, "something else entirely")).await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    let weak = raw(&p.app, post("password1234", "password1234")).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text.contains("too easy to guess"), "{}", weak.text);
    let set = raw(&p.app, post(PASSWORD, PASSWORD)).await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.text);
    p.sign_in("new@north.example").await;
    let again = raw(&p.app, post(PASSWORD, PASSWORD)).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "the token works once");
}

#[tokio::test]
async fn an_officer_triages_an_alert_from_its_page_and_lands_on_the_new_case() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    // The page's forms carry the CSRF token from the dashboard's own cookie.
    let reply = raw(
        &p.app,
        Request::builder()
            .method(Method::POST)
            .uri("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "email=officer%40north.example&password={}&code=",
                PASSWORD.replace(' ', "+")
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let cookies: Vec<String> = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 2, "the session and its CSRF token: {cookies:?}");
    let cookie_header = cookies.join("; ");
    let csrf = cookies[1].split_once('=').unwrap().1.to_owned();

    let alert = p.f.north.alert_awaiting_triage;
    let page = raw(
        &p.app,
        Request::builder().uri("/alerts").header(header::COOKIE, &cookie_header).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&format!("Record the triage of alert {alert}")), "{}", page.text);

    let triage = |origin: Option<&str>, token: &str| {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(format!("/alerts/{alert}/triage"))
            .header(header::HOST, "dashboard.example")
            .header(header::COOKIE, &cookie_header)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            builder = builder.header(header::ORIGIN, o);
        }
        builder.body(Body::from(format!("csrf_token={token}&category=significant"))).unwrap()
    };
    let forged = raw(&p.app, triage(Some("https://evil.example"), &csrf)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a form posted from another site");
    let tokenless = raw(&p.app, triage(Some("https://dashboard.example"), "guessed")).await;
    assert_eq!(tokenless.status, StatusCode::FORBIDDEN, "a form without the session's token");
    let done = raw(&p.app, triage(Some("https://dashboard.example"), &csrf)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert!(done.header("location").starts_with("/cases/"), "{}", done.header("location"));
    let again = raw(&p.app, triage(None, &csrf)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "an alert is triaged once: {}", again.text);
}

/// A browser's side of the pages: its cookies, kept from each answer's `Set-Cookie`, and the
/// CSRF token read from them.
struct Browser<'a> {
    p: &'a People,
    cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(p: &'a People) -> Self {
        Browser { p, cookies: Default::default() }
    }

    fn csrf(&self) -> String {
        self.cookies.get("__Host-dampwatch_csrf").cloned().unwrap_or_default()
    }

    async fn send(&mut self, method: Method, uri: &str, form: &[(&str, &str)]) -> common::Reply {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut builder = Request::builder().method(method).uri(uri).header(header::COOKIE, cookie);
        let body = if form.is_empty() {
            Body::empty()
        } else {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish())
        };
        let reply = raw(&self.p.app, builder.body(body).unwrap()).await;
        for set in reply.headers.get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    async fn sign_in(&mut self, email: &str, code: &str) -> common::Reply {
        self.send(Method::POST, "/sign-in", &[("email", email), ("password", PASSWORD), ("code", code)]).await
    }
}

#[tokio::test]
async fn an_administrator_sets_up_an_authenticator_app_on_the_account_page_before_anything_else() {
    let p = People::new().await;
    let email = "admin@north.example";
    p.user(Some("north-homes"), email, Role::LandlordAdmin).await;
    let mut b = Browser::new(&p);
    assert_eq!(b.sign_in(email, "").await.status, StatusCode::SEE_OTHER);
    let board = b.send(Method::GET, "/", &[]).await;
    assert_eq!(board.status, StatusCode::SEE_OTHER, "no board without a second factor");
    assert_eq!(board.header("location"), "/account");
    let account = b.send(Method::GET, "/account", &[]).await;
    assert!(account.text.contains("must sign in with a second factor"), "{}", account.text);

    let csrf = b.csrf();
    let wrong = b
        .send(
            Method::POST,
            "/account/totp",
            &[("csrf_token", &csrf), ("current_password", "not my password")],
        )
        .await;
    assert!(wrong.text.contains(r#"class="error" role="alert""#), "the page says why: {}", wrong.text);
    let start =
        b.send(Method::POST, "/account/totp", &[("csrf_token", &csrf), ("current_password", PASSWORD)]).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let secret = p.f.pending_totp(email).await;
    let shown = dampwatch_accounts::totp::enrolment(&secret, email).secret_base32;
    assert!(start.text.contains(&shown), "the page shows the secret to type in");
    assert!(start.text.contains("data:image/svg+xml;base64,"), "and its QR code");

    let old_session = b.cookies["__Host-dampwatch_session"].clone();
    let code = dampwatch_accounts::totp::code_at(&secret, p.at().timestamp());
    let done = b.send(Method::POST, "/account/totp/confirm", &[("csrf_token", &csrf), ("code", &code)]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.text.matches("<li><code>").count(), 10, "ten recovery codes, shown once: {}", done.text);
    assert_ne!(b.cookies["__Host-dampwatch_session"], old_session, "a new session after the step-up");
    let board = b.send(Method::GET, "/", &[]).await;
    assert_eq!(board.status, StatusCode::OK, "the board, now: {}", board.text);
    let account = b.send(Method::GET, "/account", &[]).await;
    assert!(account.text.contains("An authenticator app is in use. 10 recovery codes are left."));
    assert!(account.text.contains("(this one)"), "the session list marks this session");
}

#[tokio::test]
async fn errors_are_pages_with_the_same_status_and_reason() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let mut b = Browser::new(&p);
    b.sign_in("officer@north.example", "").await;
    let south_case = p.f.south.case_id;
    let missing = b.send(Method::GET, &format!("/cases/{south_case}"), &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "another landlord's case is not there");
    assert!(missing.header("content-type").starts_with("text/html"), "{}", missing.header("content-type"));
    assert!(missing.text.contains("<h1>Not found</h1>"), "{}", missing.text);
    let forged = b.send(Method::POST, "/account/sessions/end-all", &[("csrf_token", "guessed")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.text.contains("<h1>Not allowed</h1>"), "{}", forged.text);
    assert!(b.send(Method::GET, "/", &[]).await.status == StatusCode::OK, "the session was not ended");
}

#[tokio::test]
async fn a_person_ends_their_other_sessions_and_changes_their_password_from_the_page() {
    let p = People::new().await;
    let email = "officer@north.example";
    p.user(Some("north-homes"), email, Role::HousingOfficer).await;
    let other = p.sign_in(email).await;
    let mut b = Browser::new(&p);
    b.sign_in(email, "").await;
    let csrf = b.csrf();
    let handle: String =
        p.f.db
            .query_one(
                "SELECT left(encode(id_hash, 'hex'), 16) FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.email = $1 ORDER BY s.created_at LIMIT 1",
                &[&email],
            )
            .await
            .unwrap()
            .get(0);
    let page = b.send(Method::GET, "/account", &[]).await;
    assert!(page.text.contains(&format!("/account/sessions/{handle}/end")), "{}", page.text);
    let ended =
        b.send(Method::POST, &format!("/account/sessions/{handle}/end"), &[("csrf_token", &csrf)]).await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.text);
    assert!(!p.alive(&other).await, "the other session ended");

    let new = "amber lanterns drift above the quay";
    let differ = b
        .send(
            Method::POST,
            "/account/password",
            &[("csrf_token", &csrf), ("current_password", PASSWORD), ("new_password", new), ("confirm", "x")],
        )
        .await;
    assert!(differ.text.contains("The two new passwords differ."), "{}", differ.text);
    let changed = b
        .send(
            Method::POST,
            "/account/password",
            &[("csrf_token", &csrf), ("current_password", PASSWORD), ("new_password", new), ("confirm", new)],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text);
    assert_eq!(changed.header("location"), "/sign-in");
    assert_eq!(b.send(Method::GET, "/", &[]).await.status, StatusCode::SEE_OTHER, "signed out");
    let again = b.send(Method::POST, "/sign-in", &[("email", email), ("password", new), ("code", "")]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "the new password works");
}

#[tokio::test]
async fn an_auditor_reads_and_downloads_their_landlords_audit_log_and_no_one_elses() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    p.user(Some("north-homes"), "audit@north.example", Role::Auditor).await;
    p.user(Some("south-homes"), "officer@south.example", Role::HousingOfficer).await;
    // Entries to find: sign-ins of both landlords' people, and a refused one.
    let mut officer = Browser::new(&p);
    officer.sign_in("officer@north.example", "").await;
    let mut south = Browser::new(&p);
    south.sign_in("officer@south.example", "").await;
    let refused = officer.send(Method::GET, "/audit", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a housing officer does not read the audit log");
    assert!(
        !officer.send(Method::GET, "/", &[]).await.text.contains(r#"href="/audit""#),
        "nor is offered it"
    );

    let mut auditor = Browser::new(&p);
    auditor.sign_in("audit@north.example", "").await;
    let log = auditor.send(Method::GET, "/audit?action=session.", &[]).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let rows = log.text.matches("<td>session.sign_in</td>").count();
    assert_eq!(rows, 2, "the north officer's and the auditor's own sign-in: {}", log.text);
    let ids: Vec<i64> =
        p.f.db
            .query("SELECT id FROM users WHERE email LIKE '%@south.example'", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert!(!log.text.contains(&format!("user:{}", ids[0])), "no entry of the other landlord");

    let csv = auditor.send(Method::GET, "/audit.csv?action=session.sign_in&outcome=success", &[]).await;
    assert!(csv.header("content-type").starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "seq,at,actor,source,action,target,outcome,details,hash");
    assert_eq!(lines.len(), 3, "{lines:?}");
    let hash = lines[1].rsplit(',').next().unwrap();
    let stored: Vec<u8> =
        p.f.db
            .query_one(
                "SELECT hash FROM audit_log WHERE seq = $1",
                &[&lines[1].split(',').next().unwrap().parse::<i64>().unwrap()],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(hash, hex::encode(stored), "each entry carries its chained hash");

    let bad = auditor.send(Method::GET, "/audit?from=yesterday", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("is not a date"), "{}", bad.text);
    let none = auditor.send(Method::GET, "/audit?from=2001-01-01&to=2001-01-02", &[]).await;
    assert!(none.text.contains("No entries."), "{}", none.text);
}

#[tokio::test]
async fn an_administrator_manages_people_and_keys_from_the_admin_page() {
    let p = People::new().await;
    let email = "admin@north.example";
    p.user(Some("north-homes"), email, Role::LandlordAdmin).await;
    let (signed, _, _) = p.sign_in_enrolled(email).await;
    let mut b = Browser::new(&p);
    b.cookies.insert("__Host-dampwatch_session".into(), signed.cookie.clone());
    b.cookies.insert("__Host-dampwatch_csrf".into(), signed.csrf.clone());
    let csrf = b.csrf();

    let admin = b.send(Method::GET, "/admin", &[]).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    assert!(
        admin.text.contains(&format!("<td>{}</td>", p.f.north.dead_message_id)),
        "dead letters are listed"
    );
    assert!(admin.text.contains("waits for a person's triage"), "the case policy: {}", admin.text);

    let added = b
        .send(
            Method::POST,
            "/admin/users",
            &[
                ("csrf_token", &csrf),
                ("display_name", "Pat Officer"),
                ("email", "pat@north.example"),
                ("role", "housing_officer"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let token =
        added.text.split("/set-password?token=").nth(1).expect("the setup link").split('<').next().unwrap();
    let set = raw(
        &p.app,
        Request::builder()
            .method(Method::POST)
            .uri("/set-password")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([("token", token), ("password", PASSWORD), ("confirm", PASSWORD)])
                    .finish(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "the link sets the password: {}", set.text);
    let pat: i64 =
        p.f.db.query_one("SELECT id FROM users WHERE email = 'pat@north.example'", &[]).await.unwrap().get(0);
    let taken = b
        .send(
            Method::POST,
            "/admin/users",
            &[
                ("csrf_token", &csrf),
                ("display_name", "Pat Again"),
                ("email", "pat@north.example"),
                ("role", "auditor"),
            ],
        )
        .await;
    assert!(
        taken.text.contains(r#"class="error" role="alert""#),
        "the refusal is on the page: {}",
        taken.text
    );

    let changed = b
        .send(
            Method::POST,
            &format!("/admin/users/{pat}"),
            &[("csrf_token", &csrf), ("action", "role"), ("role", "auditor")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let role: String =
        p.f.db.query_one("SELECT role FROM users WHERE id = $1", &[&pat]).await.unwrap().get(0);
    assert_eq!(role, "auditor");
    b.send(Method::POST, &format!("/admin/users/{pat}"), &[("csrf_token", &csrf), ("action", "disable")])
        .await;
    let disabled: bool =
        p.f.db
            .query_one("SELECT disabled_at IS NOT NULL FROM users WHERE id = $1", &[&pat])
            .await
            .unwrap()
            .get(0);
    assert!(disabled);
    let own = b.send(Method::GET, "/admin", &[]).await;
    assert!(own.text.contains("(you)"), "no form to change one's own account");

    let made = b
        .send(
            Method::POST,
            "/admin/api-keys",
            &[("csrf_token", &csrf), ("label", "housing system"), ("scope", "read"), ("days", "30")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let key =
        made.text.split(r#"<code class="secret">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(common::get(&p.app, "/v1/sla", &key).await.status, StatusCode::OK, "the key works");
    let key_id: i64 =
        p.f.db.query_one("SELECT id FROM api_keys WHERE label = 'housing system'", &[]).await.unwrap().get(0);
    let revoked =
        b.send(Method::POST, &format!("/admin/api-keys/{key_id}/revoke"), &[("csrf_token", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text);
    let revoked_at: bool =
        p.f.db
            .query_one("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1", &[&key_id])
            .await
            .unwrap()
            .get(0);
    assert!(revoked_at);
    let audited: i64 = p
        .f
        .db
        .query_one("SELECT count(*) FROM audit_log WHERE action IN ('user.create', 'user.update', 'api_key.create', 'api_key.revoke')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 5, "every change is in the audit log");

    // A third party's client: the recipient given, it holds `share` alone whatever the scope
    // list said, and the page lists it as the third party's.
    let insurer = b
        .send(
            Method::POST,
            "/admin/oauth-clients",
            &[
                ("csrf_token", &csrf),
                ("label", "insurer"),
                ("scope", "read write"),
                ("recipient", " Acme Insurance "),
            ],
        )
        .await;
    assert_eq!(insurer.status, StatusCode::OK, "{}", insurer.text);
    let (scopes, recipient): (Vec<String>, Option<String>) =
        p.f.db
            .query_one("SELECT scopes, recipient FROM oauth_clients WHERE label = 'insurer'", &[])
            .await
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
    assert_eq!((scopes, recipient.as_deref()), (vec!["share".to_owned()], Some("Acme Insurance")));
    let own_system = b
        .send(
            Method::POST,
            "/admin/oauth-clients",
            &[("csrf_token", &csrf), ("label", "housing system"), ("scope", "read"), ("recipient", "")],
        )
        .await;
    assert_eq!(own_system.status, StatusCode::OK, "{}", own_system.text);
    let listed = b.send(Method::GET, "/admin", &[]).await;
    assert!(listed.text.contains("share (third party: Acme Insurance)"), "{}", listed.text);

    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let mut officer = Browser::new(&p);
    officer.sign_in("officer@north.example", "").await;
    assert_eq!(officer.send(Method::GET, "/admin", &[]).await.status, StatusCode::FORBIDDEN);
    let forged = officer
        .send(
            Method::POST,
            "/admin/users",
            &[
                ("csrf_token", &officer.csrf()),
                ("display_name", "X"),
                ("email", "x@north.example"),
                ("role", "landlord_admin"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "an officer cannot add people");
}

#[tokio::test]
async fn the_case_page_checks_the_event_chain_and_assigns_the_case() {
    let p = People::new().await;
    let officer = p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let mut b = Browser::new(&p);
    b.sign_in("officer@north.example", "").await;
    let case = p.f.north.overdue_case_id;
    let page = b.send(Method::GET, &format!("/cases/{case}"), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("intact: "), "{}", page.text);
    assert!(page.text.contains("bank holidays skipped: "), "each deadline says how it was computed");
    assert!(page.text.contains("working days from"), "{}", page.text);

    let csrf = b.csrf();
    let assigned = b
        .send(
            Method::POST,
            &format!("/cases/{case}/assign"),
            &[("csrf_token", &csrf), ("user_id", &officer.to_string())],
        )
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.text);
    let page = b.send(Method::GET, &format!("/cases/{case}"), &[]).await;
    assert!(page.text.contains("<dt>Assigned to</dt><dd>Test Person</dd>"), "{}", page.text);
    let audited: i64 =
        p.f.db
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = 'case.assign' AND target = $1",
                &[&format!("case:{case}")],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(audited, 1);

    // Someone with the database's owner rights rewrites an event: the page says so.
    p.f.db
        .batch_execute(&format!(
            "ALTER TABLE case_events DISABLE TRIGGER USER;
             UPDATE case_events SET actor = 'user:someone-else' WHERE case_id = {case} AND seq = 1;
             ALTER TABLE case_events ENABLE TRIGGER USER;"
        ))
        .await
        .unwrap();
    let page = b.send(Method::GET, &format!("/cases/{case}"), &[]).await;
    assert!(page.text.contains("BROKEN: the stored hash of event 1 does not match"), "{}", page.text);
}

#[tokio::test]
async fn the_devices_page_lists_silent_devices_and_low_batteries_of_the_landlord_only() {
    let p = People::new().await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let mut b = Browser::new(&p);
    b.sign_in("officer@north.example", "").await;
    let device = p.f.north.device_id.clone();
    let south_device = p.f.south.device_id.clone();

    let page = b.send(Method::GET, "/devices", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains(&format!("<code>{device}</code>")),
        "a device that never sent is listed: {}",
        page.text
    );
    assert!(!page.text.contains(&format!("<code>{south_device}</code>")), "not another landlord's");

    // A reading an hour old with 2.30 V: not offline, but the battery is low.
    p.f.db
        .execute(
            "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
                 temperature_centi_c, rh_centi_pct, battery_mv, status, uplink_digest)
             VALUES ($1, 1, 1, now() - interval '1 hour', now() - interval '1 hour', false, now(), 2000, 5000, 2300, 0,
                     '\\x00'::bytea)",
            &[&device],
        )
        .await
        .unwrap();
    let offline = b.send(Method::GET, "/devices?show=offline", &[]).await;
    assert!(!offline.text.contains(&format!("<code>{device}</code>")), "{}", offline.text);
    let low = b.send(Method::GET, "/devices?show=low_battery", &[]).await;
    assert!(low.text.contains(&format!("<code>{device}</code>")), "{}", low.text);
    assert!(low.text.contains("2.30 V — <strong>low</strong>"), "{}", low.text);
    let bad = b.send(Method::GET, "/devices?show=broken", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    p.user(Some("north-homes"), "fixer@north.example", Role::Contractor).await;
    let mut fixer = Browser::new(&p);
    fixer.sign_in("fixer@north.example", "").await;
    assert_eq!(fixer.send(Method::GET, "/devices", &[]).await.status, StatusCode::FORBIDDEN);
}
