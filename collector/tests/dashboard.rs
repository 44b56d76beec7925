//! The dashboard in a real browser: Debian's chromium, headless, driven through chromium-driver
//! (WebDriver) against a real collector serving HTTPS. A housing officer signs in with a
//! password and a TOTP code, sees the overdue case first on the board, opens it, records
//! "investigation concluded", sees the new deadlines, and signs out. A screenshot of each page
//! is kept in `target/tmp/dashboard/` (`CARGO_TARGET_TMPDIR`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users::{self, NewUser};
use dampwatch_accounts::{mfa, totp, Password, Role};
use dampwatch_alerts::cases::{
    append_event, open_case, CasePolicy, NewCase, POTENTIAL_ISSUE_DETECTED, SYSTEM_ACTOR,
};
use dampwatch_alerts::room::RoomRef;
use dampwatch_clock::case::TriageCategory;
use dampwatch_clock::{AwarenessPolicy, CaseEvent, Clock, ClockConfig, Hazard};
use dampwatch_collector::{Collector, Config};
use dampwatch_privacy::SecretsKey;
use dampwatch_testkit::eventually;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const PASSWORD: &str = "velvet thunder over the moor";
const PATIENCE: Duration = Duration::from_secs(30);

/// A chromedriver process on a port of its own, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed by scripts/setup.sh (Debian's chromium-driver)");
    Driver { child, port }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     // The collector's certificate is from a test CA this browser does not know.
                     "--ignore-certificate-errors", "--window-size=1280,1000",
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    // chromedriver takes a moment to listen: retry the session until it does (bounded).
    eventually(PATIENCE, || {
        let caps = caps.clone();
        let url = url.clone();
        async move {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&url)
                .await
                .ok()
        }
    })
    .await
    .expect("a WebDriver session with headless chromium")
}

/// Waits (bounded) for the page that has `xpath`: a click that navigates returns before the
/// next page is there.
async fn arrive(c: &Client, xpath: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(PATIENCE).for_element(Locator::XPath(xpath)).await {
        Ok(element) => element,
        Err(e) => {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let text = match c.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            keep(c, "failed").await;
            panic!("no {xpath} on the page {url}: {e}\n{text}")
        }
    }
}

/// A screenshot kept as a test artefact.
async fn keep(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// axe-core, as `scripts/setup.sh` installs it (the version pinned there).
fn axe_source() -> String {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    let path = cache.join("dampwatch/axe-core-4.14.1/axe.min.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `bash scripts/setup.sh` installs axe-core", path.display()))
}

/// Runs axe-core's WCAG 2.0, 2.1 and 2.2 level A and AA rules in the page the browser shows,
/// and fails with every violation (rule, impact, the elements) if there is any. WebDriver runs
/// the script outside the page's Content-Security-Policy, which forbids scripts to the page
/// itself.
async fn accessible(c: &Client, page: &str) {
    c.execute(&axe_source(), vec![]).await.expect("axe-core loads");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { runOnly: { type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'] } })
           .then(r => done({ passed: r.passes.length, violations: r.violations.map(v => ({ id: v.id,
                impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) })) }))
           .catch(e => done({ passed: 0, violations: [{ id: 'axe-error', help: String(e), nodes: [] }] }));
    "#;
    let result = c.execute_async(script, vec![]).await.expect("axe-core runs");
    let list = result["violations"].as_array().cloned().unwrap_or_default();
    assert!(
        list.is_empty(),
        "{page}: WCAG 2.2 AA violations: {}",
        serde_json::to_string_pretty(&list).unwrap()
    );
    assert!(result["passed"].as_u64().unwrap_or(0) > 0, "{page}: axe-core checked nothing: {result}");
}

/// A landlord with an overdue case (triaged 31 days ago, never investigated) and one on track,
/// and a housing officer with a TOTP second factor. Returns (overdue case, TOTP secret).
async fn seed(db: &mut tokio_postgres::Client, pki: &std::path::Path) -> (i64, Vec<u8>) {
    let clock = Clock::from_config(&ClockConfig::default(), None).unwrap();
    let now = Utc::now();
    db.execute("INSERT INTO landlords (id, name) VALUES ('north-homes', 'North Homes')", &[]).await.unwrap();
    let dwelling: i64 = db
        .query_one(
            "INSERT INTO dwellings (landlord_id, reference, address) VALUES ('north-homes', 'D-12', '12 Mill Lane') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let room: i64 = db
        .query_one("INSERT INTO rooms (dwelling_id, name) VALUES ($1, 'bedroom') RETURNING id", &[&dwelling])
        .await
        .unwrap()
        .get(0);
    week_of_readings(db, room).await;
    let mut cases = Vec::new();
    for noticed in [now - chrono::Duration::days(31), now - chrono::Duration::hours(2)] {
        let new = NewCase {
            landlord_id: "north-homes",
            room: &RoomRef::Room(room),
            hazard: Hazard::DampAndMouldGrowth,
            noticed_at: noticed,
            awareness_policy: AwarenessPolicy::AtDetection,
            case_policy: CasePolicy::OpenOnDetection,
            alert_id: None,
            actor: SYSTEM_ACTOR,
            kind: POTENTIAL_ISSUE_DETECTED,
            record: json!({"type": POTENTIAL_ISSUE_DETECTED, "source": "tenant_report"}),
            evidence: json!({}),
        };
        let tx = db.transaction().await.unwrap();
        let id = open_case(&tx, &clock, &new, noticed).await.unwrap();
        let triage = CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None };
        let at = noticed + chrono::Duration::minutes(30);
        append_event(&tx, &clock, id, None, "user:officer", at, &triage, &json!({}), now).await.unwrap();
        tx.commit().await.unwrap();
        cases.push(id);
    }
    let secret = person(db, pki, "officer@north.example", "Olu Officer", Role::HousingOfficer).await;
    (cases[0], secret)
}

/// A sensor in the bedroom with a week of 10-minute readings, warm and damp by night, and
/// their hourly rollups, so the room's charts have something to draw.
async fn week_of_readings(db: &tokio_postgres::Client, room: i64) {
    db.execute(
        "INSERT INTO devices (id, landlord_id, room_id, signing_public_key, cert_serial)
         VALUES ('bedroom-sensor', 'north-homes', $1, $2, '0a')",
        &[&room, &vec![7u8; 32]],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
             temperature_centi_c, rh_centi_pct, surface_temperature_centi_c, battery_mv, status, uplink_digest)
         SELECT 'bedroom-sensor', 1, s, t, t, false, t,
                (1850 + 250 * sin(2 * pi() * s / 144))::int, (6800 + 1400 * cos(2 * pi() * s / 144))::int,
                (1400 + 200 * sin(2 * pi() * s / 144))::int, 2950, 0, '\\x00'::bytea
         FROM generate_series(1, 1008) s,
              LATERAL (SELECT now() - interval '7 days' + (s - 1) * interval '10 minutes' AS t) x",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO readings_hourly_totals (device_id, hour, readings, temperature_n, temperature_centi_sum,
             temperature_centi_min, temperature_centi_max, rh_n, rh_centi_sum, rh_centi_min, rh_centi_max,
             surface_temperature_n, surface_temperature_centi_sum)
         SELECT device_id, date_trunc('hour', sampled_at), count(*), count(*), sum(temperature_centi_c),
                min(temperature_centi_c), max(temperature_centi_c), count(*), sum(rh_centi_pct), min(rh_centi_pct),
                max(rh_centi_pct), count(*), sum(surface_temperature_centi_c)
         FROM readings WHERE device_id = 'bedroom-sensor' GROUP BY 1, 2",
        &[],
    )
    .await
    .unwrap();
}

/// A person of north-homes with [`PASSWORD`] and a TOTP second factor, enrolled as the
/// account page does (sealed under the collector's secrets key in `pki`); the TOTP secret, as
/// the authenticator app takes it from the enrolment.
async fn person(
    db: &tokio_postgres::Client,
    pki: &std::path::Path,
    email: &str,
    name: &str,
    role: Role,
) -> Vec<u8> {
    let now = Utc::now();
    let new = NewUser {
        landlord_id: Some("north-homes".into()),
        email: email.into(),
        display_name: name.into(),
        role,
    };
    let user = users::create(db, &new).await.unwrap();
    let token = reset::issue(db, user.id, now, RESET_TOKEN_LIFETIME).await.unwrap();
    reset::redeem(db, &token, &Password::new(PASSWORD), now).await.unwrap();
    let key = SecretsKey::open(&pki.join(dampwatch_alerts::secrets::KEY_FILE))
        .expect("the collector's secrets key");
    let enrolment = mfa::start_enrolment(db, Some(&key), user.id).await.unwrap();
    let secret = totp::secret_from_base32(&enrolment.secret_base32).expect("base32");
    mfa::confirm_enrolment(db, Some(&key), user.id, &totp::code_at(&secret, now.timestamp()), now)
        .await
        .unwrap();
    secret
}

/// A collector on its own ports and directory, with `seed`'s landlord; (collector, API base URL,
/// database client, overdue case, the officer's TOTP secret, the directory).
async fn stack() -> (Collector, String, tokio_postgres::Client, i64, Vec<u8>, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    dampwatch_pki::init(&pki, Default::default()).unwrap();
    let mut cfg = Config::default().with_pki_dir(&pki);
    cfg.database.data_dir = dir.path().join("data");
    cfg.mqtt.port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cfg.http.address = "127.0.0.1:0".into();
    cfg.metrics.address = "127.0.0.1:0".into();
    let collector = Collector::start(cfg).await.expect("the collector starts");
    let base = collector.api_url().expect("the API listens");
    let mut db = dampwatch_store::connect(collector.db_url()).await.unwrap();
    let (overdue, secret) = seed(&mut db, &pki).await;
    (collector, base, db, overdue, secret, dir)
}

/// Signs in through the form with a fresh TOTP code.
async fn sign_in(c: &Client, base: &str, email: &str, secret: &[u8]) {
    c.goto(&format!("{base}/sign-in")).await.unwrap();
    arrive(c, "//h1[text()='Sign in']").await;
    c.find(Locator::Id("email")).await.unwrap().send_keys(email).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    // The enrolment used this step's code: the next step's (within the allowed skew) is fresh.
    let code = totp::code_at(secret, Utc::now().timestamp() + 30);
    c.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_signs_in_finds_the_overdue_case_first_records_the_investigation_and_signs_out() {
    let (collector, base, db, overdue, secret, dir) = stack().await;
    let driver = chromedriver();
    let c = browser(&driver, &dir.path().join("profile")).await;

    c.goto(&format!("{base}/")).await.unwrap();
    arrive(&c, "//h1[text()='Sign in']").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/sign-in"), "signed-out visitors go to sign-in");
    keep(&c, "01-sign-in").await;
    accessible(&c, "01-sign-in").await;
    sign_in(&c, &base, "officer@north.example", &secret).await;

    let first_row = arrive(&c, "//main//table/tbody/tr[1]").await;
    let row_text = first_row.text().await.unwrap();
    assert!(row_text.starts_with("Overdue"), "the overdue case comes first: {row_text}");
    assert!(row_text.contains(&format!("Case {overdue}")), "{row_text}");
    keep(&c, "02-board").await;
    accessible(&c, "02-board").await;

    first_row.find(Locator::Css("a")).await.unwrap().click().await.unwrap();
    arrive(&c, &format!("//h1[text()='Case {overdue}']")).await;
    assert!(c.current_url().await.unwrap().path().ends_with(&format!("/cases/{overdue}")));
    let before = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(before.contains("investigation"), "{before}");
    assert!(!before.contains("written summary"), "no summary is due before the investigation concludes");
    keep(&c, "03-case").await;
    accessible(&c, "03-case").await;

    let form = c
        .find(Locator::XPath("//form[.//button[contains(., 'investigation concluded')]]"))
        .await
        .expect("a form to record the investigation's conclusion");
    form.find(Locator::Css("select[name=outcome]"))
        .await
        .unwrap()
        .select_by_value("hazard_found")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    arrive(&c, "//main//li/strong[text()='investigation concluded']").await;
    let after = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!after.contains("Not recorded"), "{after}");
    assert!(after.contains("written summary"), "the new deadlines are shown: {after}");
    assert!(after.contains("investigation concluded"), "the timeline shows the event: {after}");
    keep(&c, "04-case-after-investigation").await;
    accessible(&c, "04-case-after-investigation").await;
    let recorded: String = db
        .query_one(
            "SELECT actor FROM case_events WHERE case_id = $1 AND kind = 'investigation_concluded'",
            &[&overdue],
        )
        .await
        .unwrap()
        .get(0);
    assert!(recorded.starts_with("user:"), "recorded as the signed-in person: {recorded}");

    c.find(Locator::Css("header form button")).await.unwrap().click().await.unwrap();
    arrive(&c, "//h1[text()='Sign in']").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/sign-in"));
    c.goto(&format!("{base}/")).await.unwrap();
    arrive(&c, "//h1[text()='Sign in']").await;
    assert!(
        c.current_url().await.unwrap().path().ends_with("/sign-in"),
        "signed out: the board asks to sign in"
    );
    keep(&c, "05-signed-out").await;
    accessible(&c, "05-signed-out").await;
    c.close().await.unwrap();
    collector.shutdown().await;
}

/// Every other page an administrator reaches, each checked with axe-core in the browser and
/// kept as a screenshot: alerts awaiting triage, the account page, administration, the audit
/// log, an error page and the password-setup page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_an_administrator_reaches_passes_the_accessibility_check() {
    let (collector, base, db, _, _, dir) = stack().await;
    let secret =
        person(&db, &dir.path().join("pki"), "admin@north.example", "Ada Admin", Role::LandlordAdmin).await;
    let driver = chromedriver();
    let c = browser(&driver, &dir.path().join("profile")).await;
    sign_in(&c, &base, "admin@north.example", &secret).await;
    arrive(&c, "//h1[text()='Cases against their deadlines']").await;
    for (path, heading, name) in [
        ("/alerts", "Alerts awaiting triage", "10-alerts"),
        ("/account", "Your account", "11-account"),
        ("/admin", "Administration", "12-admin"),
        ("/audit", "Audit log", "13-audit"),
        ("/devices?show=all", "Devices", "16-devices"),
        ("/cases/999999", "Not found", "14-not-found"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        arrive(&c, &format!("//h1[text()='{heading}']")).await;
        keep(&c, name).await;
        accessible(&c, name).await;
        if path == "/audit" {
            let audit = c.find(Locator::Css("main table")).await.unwrap().text().await.unwrap();
            assert!(audit.contains("session.sign_in"), "the admin's own sign-in is in the log: {audit}");
        }
    }
    let room: i64 = db.query_one("SELECT id FROM rooms WHERE name = 'bedroom'", &[]).await.unwrap().get(0);
    c.goto(&format!("{base}/rooms/{room}")).await.unwrap();
    arrive(&c, "//main//*[local-name()='svg']").await;
    keep(&c, "17-room").await;
    accessible(&c, "17-room").await;
    c.goto(&format!("{base}/account")).await.unwrap();
    arrive(&c, "//header//form//button").await.click().await.unwrap();
    arrive(&c, "//h1[text()='Sign in']").await;
    c.goto(&format!("{base}/set-password?token=an-example-token")).await.unwrap();
    arrive(&c, "//main//form").await;
    keep(&c, "15-set-password").await;
    accessible(&c, "15-set-password").await;
    c.close().await.unwrap();
    collector.shutdown().await;
}
