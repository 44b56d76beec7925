//! E-mail notifications through the whole system, to a real SMTP server (aiosmtpd, from
//! `scripts/setup.sh`): a housing officer is e-mailed at once when a damp bedroom raises a
//! significant hazard, with a link that opens the case on the dashboard; advisory alerts come
//! in one digest a day; a sender that dies between sending and recording loses and duplicates
//! nothing (a resend carries the same Message-ID); a permanent refusal is recorded as a failure
//! for admins, and a bouncing address is not mailed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::{users, NewUser, Password, Role};
use dampwatch_alerts::email::admin;
use dampwatch_alerts::email::queue::{self, Duty};
use dampwatch_alerts::email::{digest, EmailConfig, Mailer, SmtpTls};
use dampwatch_bench::dashboard::browser::Browser;
use dampwatch_sim::SimArgs;
use dampwatch_testkit::{eventually_true, SmtpServer};
use dampwatch_tests::{fast_alerts_config, Stack};
use serde_json::json;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

const LANDLORD: &str = "demo";
const OFFICER: &str = "officer@example.org";
const AUDITOR: &str = "auditor@example.org";
const PASSWORD: &str = "velvet thunder over the moor";

/// E-mail to `smtp` over plain SMTP on loopback, quick to retry.
fn email_config(smtp: &SmtpServer, public_url: &str) -> EmailConfig {
    EmailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: smtp.port,
        tls: SmtpTls::Plain,
        from: "Dampwatch <alerts@dampwatch.test>".into(),
        public_url: public_url.into(),
        // The worker composes a digest once its time has passed today; the tests compose their
        // day themselves.
        digest_time: "23:59".into(),
        poll_interval: Duration::from_millis(100),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        lease: Duration::from_secs(3),
        ..EmailConfig::default()
    }
}

/// A person of the landlord with a password.
async fn person(db: &Client, email: &str, role: Role) -> i64 {
    let user =
        NewUser { landlord_id: Some(LANDLORD.into()), email: email.into(), display_name: email.into(), role };
    let id = users::create(db, &user).await.expect("user").id;
    let now = Utc::now();
    let token = reset::issue(db, id, now, RESET_TOKEN_LIFETIME).await.expect("reset token");
    reset::redeem(db, &token, &Password::new(PASSWORD), now).await.expect("password");
    id
}

/// A free port of 127.0.0.1 for the API listener, so its address can be the e-mails' base
/// address before the collector starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_officer_is_mailed_at_once_for_a_significant_hazard_and_gets_advisory_alerts_in_one_daily_digest()
{
    let smtp = SmtpServer::start();
    let port = free_port();
    let public_url = format!("https://127.0.0.1:{port}");
    let email = email_config(&smtp, &public_url);
    let stack = Stack::builder()
        .collector_config(move |c| {
            c.alerts = fast_alerts_config();
            c.http.address = format!("127.0.0.1:{port}");
            c.email = email;
        })
        .start()
        .await
        .expect("gateway, collector with its API, PostgreSQL");
    let url = stack.pg.url();
    let db = stack.db().await.expect("database");
    dampwatch_store::registry::ensure_landlord(&db, LANDLORD, "Demo landlord").await.expect("landlord");
    let officer = person(&db, OFFICER, Role::HousingOfficer).await;
    // An auditor's role receives nothing unless they choose to.
    person(&db, AUDITOR, Role::Auditor).await;

    // A week of two damp, stuffy bedrooms through the real devices, gateway and collector.
    let data = stack.dir.path().join("sim");
    let (pki, gateway) = (stack.pki(), stack.gateway_addr().to_string());
    let args = SimArgs::try_parse_from([
        "dampwatch-sim",
        "--provision",
        "--devices",
        "2",
        "--scenario",
        "damp-bedroom",
        "--speed",
        "20000",
        "--for",
        "35s",
        "--gateway",
        &gateway,
        "--data-dir",
        data.to_str().expect("utf-8 path"),
        "--pki-dir",
        pki.to_str().expect("utf-8 path"),
        "--database-url",
        &url,
    ])
    .expect("command line");
    let mut out = Vec::new();
    dampwatch_sim::run(args, &mut out).await.expect("simulation");
    let settled = eventually_true(Duration::from_secs(120), || async {
        db.query_one(
            "SELECT (SELECT count(*) FROM hazard_inbox), (SELECT count(*) FROM email_outbox WHERE state <> 'sent')",
            &[],
        )
        .await
        .is_ok_and(|r| r.get::<_, i64>(0) == 0 && r.get::<_, i64>(1) == 0)
    })
    .await;
    assert!(settled, "every reading consumed and every e-mail sent");

    // (a) One immediate e-mail per case opened by a damp alert, to the officer only.
    let cases: Vec<i64> = db
        .query(
            "SELECT case_id FROM alerts WHERE duty = 'legal_clock' AND hazard = 'damp_and_mould_growth'
               AND case_id IS NOT NULL ORDER BY case_id",
            &[],
        )
        .await
        .expect("cases")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(cases.len(), 2, "a damp case in each bedroom");
    let expected: i64 = db
        .query_one("SELECT count(*) FROM email_outbox WHERE kind = 'event'", &[])
        .await
        .expect("outbox")
        .get(0);
    let mails = smtp.wait_for(usize::try_from(expected).expect("count"), Duration::from_secs(30)).await;
    assert!(mails.iter().all(|m| m.rcpt_tos == [OFFICER]), "only the officer is mailed at once");
    let browser =
        Browser::sign_in(&pki, format!("127.0.0.1:{port}").parse().expect("addr"), OFFICER, PASSWORD)
            .await
            .expect("the officer signs in");
    for case in &cases {
        let link = format!("{public_url}/cases/{case}");
        let mail = mails
            .iter()
            .find(|m| m.text.contains(&link) && m.subject.starts_with("New alert"))
            .unwrap_or_else(|| panic!("an immediate e-mail linking to case {case}"));
        assert!(
            mail.subject.contains("Damp and mould growth") && mail.subject.contains("legal clock"),
            "{}",
            mail.subject
        );
        assert_eq!(mail.content_type, "multipart/alternative");
        assert!(mail.text.contains("Legal clock") && mail.text.contains("Why: "), "{}", mail.text);
        assert!(mail.html.contains(&format!("href=\"{link}\"")), "{}", mail.html);
        // The link works: the case's page, for the officer's session.
        let page = browser.get_url(&link).await.expect("the link opens");
        assert_eq!(page.status, 200, "{link}");
        assert!(page.body.contains(&format!("Case {case}")), "the case's page");
    }
    assert!(
        !mails.iter().any(|m| m.subject.contains("Poor ventilation")),
        "advisory alerts wait for the digest"
    );
    let ids: BTreeSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), mails.len(), "each e-mail its own Message-ID");

    // (b) The advisory alerts of the day come in one digest, composed once however often.
    let waiting: i64 = db
        .query_one(
            "SELECT count(*) FROM email_digest_items WHERE user_id = $1 AND outbox_id IS NULL",
            &[&officer],
        )
        .await
        .expect("digest items")
        .get(0);
    assert!(waiting >= 2, "each bedroom's ventilation alert waits for the digest: {waiting}");
    let mut client = dampwatch_store::connect(&url).await.expect("database");
    let calendar = digest::Calendar::england_and_wales().expect("calendar");
    let tomorrow = digest::london_date(Utc::now()) + chrono::Days::new(1);
    let composed = digest::compose(&mut client, &calendar, tomorrow).await.expect("digest");
    assert_eq!(composed.emails, 1, "one digest: the officer's (the auditor chose nothing)");
    let again = digest::compose(&mut client, &calendar, tomorrow).await.expect("digest again");
    assert_eq!(again.emails, 0, "a day's digest is composed once");
    let before = mails.len();
    let mails = smtp.wait_for(before + 1, Duration::from_secs(30)).await;
    let digests: Vec<_> = mails.iter().filter(|m| m.subject.starts_with("Daily digest")).collect();
    assert_eq!(digests.len(), 1, "one digest e-mail");
    let d = digests[0];
    assert_eq!(d.rcpt_tos, [OFFICER]);
    let items = d.text.lines().filter(|l| l.starts_with("  - ") && !l.starts_with("  - Case ")).count();
    assert_eq!(items, usize::try_from(waiting).expect("count"), "every waiting item, once: {}", d.text);
    assert!(d.text.contains("Poor ventilation") && d.text.contains("Advisory"), "{}", d.text);
    assert!(d.html.contains("Daily digest for"));
    let due_soon: i64 = db
        .query_one(
            "SELECT count(*) FROM case_deadlines WHERE status IN ('on_track', 'due_soon', 'overdue') AND ends_at < $1",
            &[&digest::deadline_horizon(&calendar, tomorrow).expect("horizon")],
        )
        .await
        .expect("deadlines")
        .get(0);
    assert_eq!(
        d.text.lines().filter(|l| l.starts_with("  - Case ")).count(),
        usize::try_from(due_soon).expect("count"),
        "the deadlines due within two working days: {}",
        d.text
    );
    stack.shutdown().await;
}

/// `n` events that each concern every officer of the landlord, queued as the hazard worker
/// queues them.
async fn queue_events(db: &mut Client, n: usize) {
    for i in 0..n {
        let tx = db.transaction().await.expect("transaction");
        let payload = json!({
            "type": "case.updated",
            "alert": {"hazard": "excess_cold", "duty": "legal_clock", "severity": "red",
                      "room": {"key": format!("room-{i}"), "room_name": format!("Bedroom {i}")}},
            "explanation": {"summary": format!("Cold for 3 days ({i})")},
        });
        queue::enqueue(&tx, LANDLORD, Duty::LegalClock, "case.updated", (None, None), &payload)
            .await
            .expect("queued");
        tx.commit().await.expect("commit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_killed_between_sending_and_recording_loses_and_duplicates_nothing() {
    // The server stores each message and answers a second later: a sender stopped in that
    // second has handed e-mails over without recording them.
    let smtp = SmtpServer::start_holding(Duration::from_secs(1));
    let stack = Stack::builder().without_gateway().without_collector().start().await.expect("PostgreSQL");
    let url = stack.pg.url();
    let mut db = stack.db().await.expect("database");
    dampwatch_store::registry::ensure_landlord(&db, LANDLORD, "Demo landlord").await.expect("landlord");
    for k in 0..3 {
        person(&db, &format!("officer{k}@example.org"), Role::HousingOfficer).await;
    }
    queue_events(&mut db, 4).await;
    let rows: i64 = db.query_one("SELECT count(*) FROM email_outbox", &[]).await.expect("outbox").get(0);
    assert_eq!(rows, 12, "four events for three officers");

    // A sender's round claims everything and is killed once the server holds its first
    // e-mails, before any answer came back (so before anything was recorded).
    let config = EmailConfig {
        timeout: Duration::from_secs(5),
        lease: Duration::from_secs(6),
        ..email_config(&smtp, "https://dashboard.example")
    };
    let mailer = Mailer::new(&config).expect("mailer");
    let sender_db = stack.db().await.expect("database");
    let round = tokio::spawn(async move { mailer.send_due(&sender_db).await });
    let handed_over = smtp.wait_for(1, Duration::from_secs(10)).await.len();
    round.abort();
    assert!(round.await.is_err_and(|e| e.is_cancelled()), "the sender was killed mid-round");
    let recorded: i64 =
        db.query_one("SELECT count(*) FROM email_attempts", &[]).await.expect("attempts").get(0);
    assert_eq!(recorded, 0, "killed before recording anything");
    assert!(handed_over < 12, "{handed_over} handed over");

    // A new sender (the worker, restarted) takes the rows over once the lease runs out.
    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start_with_email(&url, fast_alerts_config(), &config, stop.clone())
        .await
        .expect("worker");
    let all_sent = eventually_true(Duration::from_secs(30), || async {
        db.query_one("SELECT count(*) FROM email_outbox WHERE state = 'sent'", &[])
            .await
            .is_ok_and(|r| r.get::<_, i64>(0) == 12)
    })
    .await;
    assert!(all_sent, "every e-mail recorded as sent");
    // Recorded as sent only once the server accepted it, so every message is in.
    let mails = smtp.messages();
    stop.cancel();
    worker.join().await.expect("worker stopped");

    // Nothing lost: every outbox row's message arrived, to its recipient. Nothing doubled but
    // under the same Message-ID: distinct Message-IDs are exactly the twelve e-mails.
    let mut by_id: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for m in &mails {
        by_id.entry(m.message_id.clone()).or_default().push(m.rcpt_tos.clone());
    }
    assert_eq!(by_id.len(), 12, "twelve distinct e-mails: {:?}", by_id.keys());
    let keys = db.query("SELECT id, message_key::text, address FROM email_outbox", &[]).await.expect("keys");
    for r in keys {
        let (key, address): (String, String) = (r.get(1), r.get(2));
        let id = format!("<dampwatch.{key}@dampwatch.test>");
        let copies =
            by_id.get(&id).unwrap_or_else(|| panic!("row {} was never received", r.get::<_, i64>(0)));
        assert!(copies.iter().all(|to| to == &vec![address.clone()]), "{id} went to {copies:?}");
        assert!(copies.len() <= 2, "at most one resend: {id}");
    }
    let resent = by_id.values().filter(|c| c.len() == 2).count();
    assert!(resent >= handed_over, "the e-mails handed over before the kill came again: {resent}");
    assert_eq!(mails.len(), 12 + resent, "nothing else was repeated");
    let attempts: i64 = db
        .query_one("SELECT count(*) FROM email_attempts WHERE outcome = 'sent'", &[])
        .await
        .expect("attempts")
        .get(0);
    assert_eq!(attempts, 12, "one recorded success per e-mail");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permanent_refusal_is_a_failure_for_admins_and_a_bounced_address_is_not_mailed() {
    let smtp = SmtpServer::start_rejecting(&["gone@"]);
    let stack = Stack::builder().without_gateway().without_collector().start().await.expect("PostgreSQL");
    let url = stack.pg.url();
    let mut db = stack.db().await.expect("database");
    dampwatch_store::registry::ensure_landlord(&db, LANDLORD, "Demo landlord").await.expect("landlord");
    person(&db, "gone@example.org", Role::HousingOfficer).await;
    person(&db, "here@example.org", Role::HousingOfficer).await;
    let config = email_config(&smtp, "https://dashboard.example");
    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start_with_email(&url, fast_alerts_config(), &config, stop.clone())
        .await
        .expect("worker");
    queue_events(&mut db, 1).await;

    // The server refuses one recipient for good (550): no retry, a failure with its code.
    let failed = eventually_true(Duration::from_secs(30), || async {
        db.query_one("SELECT count(*) FROM email_outbox WHERE state IN ('sent', 'failed')", &[])
            .await
            .is_ok_and(|r| r.get::<_, i64>(0) == 2)
    })
    .await;
    assert!(failed, "one sent, one failed");
    let failures = admin::failures(&db, 10).await.expect("failures");
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(
        (f.address.as_str(), f.state.as_str(), f.attempts, f.smtp_code),
        ("gone@example.org", "failed", 1, Some(550))
    );
    assert!(f.last_error.as_deref().unwrap_or("").contains("mailbox unavailable"), "{f:?}");
    assert_eq!(smtp.messages().len(), 1);
    // The operator's command shows it.
    let mut out = Vec::new();
    let command = dampwatch_alerts::email::cli::EmailCommand::Failures { limit: 10 };
    dampwatch_alerts::email::cli::run(command, &db, "cli:test", &mut out).await.expect("email failures");
    let out = String::from_utf8(out).expect("utf-8");
    assert!(out.contains("gone@example.org") && out.contains("550"), "{out}");

    // The mail system reports a bounce: the address is not mailed until it is cleared.
    assert!(admin::record_bounce(&db, "Here@example.org", "550 5.1.1 user unknown", "cli:test")
        .await
        .expect("bounce"));
    queue_events(&mut db, 1).await;
    let done = eventually_true(Duration::from_secs(30), || async {
        db.query_one("SELECT count(*) FROM email_outbox WHERE state = 'pending'", &[])
            .await
            .is_ok_and(|r| r.get::<_, i64>(0) == 0)
    })
    .await;
    assert!(done);
    assert_eq!(smtp.messages().len(), 1, "no e-mail to a bouncing address");
    let bounces = admin::bounces(&db).await.expect("bounces");
    assert_eq!(bounces.len(), 1);
    assert_eq!(bounces[0].landlord_id.as_deref(), Some(LANDLORD));
    stop.cancel();
    worker.join().await.expect("worker stopped");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_mail_goes_over_starttls_verified_against_the_configured_ca() {
    let pki = tempfile::tempdir().expect("directory");
    dampwatch_pki::init(pki.path(), Default::default()).expect("a development PKI");
    let smtp = SmtpServer::start_starttls(&pki.path().join("web/cert.pem"), &pki.path().join("web/key.pem"));
    let stack = Stack::builder().without_gateway().without_collector().start().await.expect("PostgreSQL");
    let mut db = stack.db().await.expect("database");
    dampwatch_store::registry::ensure_landlord(&db, LANDLORD, "Demo landlord").await.expect("landlord");
    person(&db, OFFICER, Role::HousingOfficer).await;
    queue_events(&mut db, 1).await;

    // Without the CA the server's certificate is refused: nothing is sent in the clear.
    let untrusted =
        EmailConfig { tls: SmtpTls::Starttls, ..email_config(&smtp, "https://dashboard.example") };
    let round = Mailer::new(&untrusted).expect("mailer").send_due(&db).await.expect("round");
    assert_eq!((round.sent, round.retrying), (0, 1), "{round:?}");
    assert!(smtp.messages().is_empty());

    // With it, the e-mail goes over TLS.
    db.execute("UPDATE email_outbox SET next_attempt_at = now()", &[]).await.expect("due now");
    let trusted =
        EmailConfig { ca_file: pki.path().join("ca.pem").to_string_lossy().into_owned(), ..untrusted };
    let round = Mailer::new(&trusted).expect("mailer").send_due(&db).await.expect("round");
    assert_eq!(round.sent, 1, "{round:?}");
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].rcpt_tos, [OFFICER]);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_mail_goes_over_implicit_tls() {
    let pki = tempfile::tempdir().expect("directory");
    dampwatch_pki::init(pki.path(), Default::default()).expect("a development PKI");
    let smtp =
        SmtpServer::start_implicit_tls(&pki.path().join("web/cert.pem"), &pki.path().join("web/key.pem"));
    let stack = Stack::builder().without_gateway().without_collector().start().await.expect("PostgreSQL");
    let mut db = stack.db().await.expect("database");
    dampwatch_store::registry::ensure_landlord(&db, LANDLORD, "Demo landlord").await.expect("landlord");
    person(&db, OFFICER, Role::HousingOfficer).await;
    queue_events(&mut db, 1).await;
    let config = EmailConfig {
        tls: SmtpTls::Implicit,
        ca_file: pki.path().join("ca.pem").to_string_lossy().into_owned(),
        ..email_config(&smtp, "https://dashboard.example")
    };
    let round = Mailer::new(&config).expect("mailer").send_due(&db).await.expect("round");
    assert_eq!(round.sent, 1, "{round:?}");
    assert_eq!(smtp.wait_for(1, Duration::from_secs(10)).await[0].rcpt_tos, [OFFICER]);
    stack.shutdown().await;
}
