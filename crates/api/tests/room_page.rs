//! The room page through the router: its charts (series, thresholds, shaded alert windows) over
//! a week of readings and a year of hourly means, its devices, and who may see it: another
//! landlord's room is not found, a role without `read_devices` is refused, and the tenant
//! role reads readings only through the functions that confine them to its landlord.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{DateTime, Duration, DurationRound, Utc};
use common::people::{People, Signed};
use common::raw;
use dampwatch_accounts::Role;
use tokio_postgres::Client;

fn get(uri: &str, session: Option<&Signed>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::GET).uri(uri);
    if let Some(s) = session {
        builder = builder.header(header::COOKIE, format!("__Host-dampwatch_session={}", s.cookie));
    }
    builder.body(Body::empty()).unwrap()
}

/// Two days of damp readings (75 % RH, 19 °C, a cold wall at 13 °C, battery 2.95 V) every ten
/// minutes up to `now`, and their hourly rollups, as the collector writes them.
async fn damp_readings(db: &Client, device: &str, now: DateTime<Utc>) {
    let first = now - Duration::days(2);
    db.execute(
        "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
             temperature_centi_c, rh_centi_pct, surface_temperature_centi_c, battery_mv, status, uplink_digest)
         SELECT $1, 1, s, t, t, false, t, 1900, 7500, 1300, 2950, 0, '\\x00'::bytea
         FROM generate_series(1, 288) s, LATERAL (SELECT $2::timestamptz + (s - 1) * interval '10 minutes' AS t) x",
        &[&device, &first],
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
         FROM readings WHERE device_id = $1 GROUP BY 1, 2",
        &[&device],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_room_page_charts_a_week_and_a_year_with_thresholds_alert_windows_and_devices() {
    let p = People::new().await;
    let north = p.f.north.clone();
    damp_readings(&p.f.db, &north.device_id, p.at().duration_trunc(Duration::minutes(10)).unwrap()).await;
    p.user(Some("north-homes"), "officer@north.example", Role::HousingOfficer).await;
    let s = p.sign_in("officer@north.example").await;

    let week = raw(&p.app, get(&format!("/rooms/{}", north.room_id), Some(&s))).await;
    assert_eq!(week.status, StatusCode::OK, "{}", week.text);
    let page = &week.text;
    assert!(page.contains("Charted from every stored reading"), "{page}");
    for title in
        ["Air temperature", "Relative humidity", "Dew point", "Surface relative humidity", "Mould index"]
    {
        assert!(page.contains(title), "{title} missing");
    }
    assert_eq!(page.matches("<svg").count(), 5, "five charts");
    assert!(
        page.contains(r#"role="img""#) && page.contains("<desc id=\"humidity-desc\">"),
        "described for screen readers"
    );
    // A drawn series, and the week's figures in words.
    assert!(page.contains(r#"class="series" d="M"#), "a series line");
    assert!(page.contains("Highest <strong>75 %</strong>"), "the RH summary");
    assert!(page.contains("Latest <strong>19.0 °C</strong>"), "the temperature summary");
    // The rules' thresholds, in words beside their lines.
    assert!(page.contains("Amber: above 70 % for 24 h (damp.room_rh_sustained)"), "{page}");
    assert!(page.contains("Red: at or above 3 (mould.index_visible)"));
    assert!(page.contains("Amber: below 16 °C for 6 h (cold.below_16c)"));
    // The open damp alert's window, shaded and named.
    let alert = north.alert_with_case;
    assert!(page.contains(r#"class="alert-window""#), "a shaded window");
    assert!(
        page.contains(&format!("Shaded (hatched): Alert {alert}: damp and mould growth (amber)")),
        "{page}"
    );
    // The device with its battery, newest reading and credentials.
    assert!(page.contains(&format!("<code>{}</code>", north.device_id)));
    assert!(page.contains("2.95 V"));
    assert!(page.contains("Current</span> (0 days since provisioning)"), "{page}");
    assert!(!page.contains("south"), "nothing of the other landlord");

    let year = raw(&p.app, get(&format!("/rooms/{}?range=1y", north.room_id), Some(&s))).await;
    assert_eq!(year.status, StatusCode::OK, "{}", year.text);
    assert!(year.text.contains("Charted from hourly means"));
    assert!(year.text.contains("Highest <strong>75 %</strong>"), "the rollups carry the week");
    // 75 % air at 19 °C on a wall at 13 °C condenses: the rollups kept the wall's temperature.
    assert!(year.text.contains("Highest <strong>100 %</strong>"), "the surface series from the rollups");

    let bad = raw(&p.app, get(&format!("/rooms/{}?range=2y", north.room_id), Some(&s))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // A home whose (sealed) record of its occupants selects the stricter rules is drawn with the
    // rules the hazard worker judges it by: the stricter cold line instead of the default one,
    // and whom it protects (the API cannot open the record, and says nothing of it).
    p.f.db
        .execute(
            "UPDATE dwellings SET occupant_rules = '{cold.below_18c_vulnerable,heat.above_24c_vulnerable}'
             WHERE reference = 'D-1'",
            &[],
        )
        .await
        .unwrap();
    let older = raw(&p.app, get(&format!("/rooms/{}", north.room_id), Some(&s))).await;
    assert!(older.text.contains("Amber: below 18 °C for 6 h (cold.below_18c_vulnerable)"), "{}", older.text);
    assert!(!older.text.contains("(cold.below_16c)"), "the default cold rule does not apply here");
    assert!(
        older.text.contains("The home records an occupant the stricter cold and heat rules protect (an occupant aged 65 or over, a child under 5,"),
        "{}",
        older.text
    );
    assert!(
        older.text.contains("+occupants-2026-12:cold.below_18c_vulnerable,heat.above_24c_vulnerable"),
        "the rule set version it is judged by"
    );
    assert!(!page.contains("The home records"), "nothing said of a home recording no one");

    // The case page and the board link to the room.
    let case = raw(&p.app, get(&format!("/cases/{}", north.case_id), Some(&s))).await;
    assert!(case.text.contains(&format!(r#"href="/rooms/{}""#, north.room_id)), "{}", case.text);
    let board = raw(&p.app, get("/", Some(&s))).await;
    assert!(board.text.contains(&format!(r#"href="/rooms/{}""#, north.room_id)));
}

#[tokio::test]
async fn another_landlords_room_is_not_found_and_a_role_without_read_devices_is_refused() {
    let p = People::new().await;
    let (north, south) = (p.f.north.clone(), p.f.south.clone());
    damp_readings(&p.f.db, &north.device_id, p.at()).await;
    p.user(Some("south-homes"), "officer@south.example", Role::HousingOfficer).await;
    let other = p.sign_in("officer@south.example").await;
    let hidden = raw(&p.app, get(&format!("/rooms/{}", north.room_id), Some(&other))).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    let own = raw(&p.app, get(&format!("/rooms/{}", south.room_id), Some(&other))).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert!(own.text.contains("No readings in this period."));

    p.user(Some("north-homes"), "fixer@north.example", Role::Contractor).await;
    let contractor = p.sign_in("fixer@north.example").await;
    let refused = raw(&p.app, get(&format!("/rooms/{}", north.room_id), Some(&contractor))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let anonymous = raw(&p.app, get(&format!("/rooms/{}", north.room_id), None)).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_tenant_role_reads_readings_only_through_functions_confined_to_its_landlord() {
    let p = People::new().await;
    let north = p.f.north.clone();
    damp_readings(&p.f.db, &north.device_id, p.at()).await;
    let (mut client, connection) = tokio_postgres::connect(&p.f.db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let db = &mut client;
    let as_tenant = |landlord: &'static str| {
        format!(
            "SELECT set_config('dampwatch.landlord', '{landlord}', true), set_config('role', 'dampwatch_api_tenant', true)"
        )
    };
    for (landlord, readings, hours, devices) in
        [("north-homes", 288i64, 48i64, 1i64), ("south-homes", 0, 0, 0)]
    {
        let tx = db.transaction().await.unwrap();
        tx.batch_execute(&as_tenant(landlord)).await.unwrap();
        let window = (p.at() - Duration::days(3), p.at() + Duration::hours(1));
        let n: i64 = tx
            .query_one(
                "SELECT count(*) FROM tenant_room_readings($1, $2, $3)",
                &[&north.room_id, &window.0, &window.1],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, readings, "{landlord}'s view of the north room's readings");
        let h: i64 = tx
            .query_one(
                "SELECT count(*) FROM tenant_room_hourly($1, $2, $3)",
                &[&north.room_id, &window.0, &window.1],
            )
            .await
            .unwrap()
            .get(0);
        assert!((h - hours).abs() <= 1, "{landlord}: {h} hours");
        let d: i64 = tx
            .query_one("SELECT count(sampled_at) FROM tenant_room_device_latest($1)", &[&north.room_id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(d, devices, "{landlord}'s view of the north room's devices");
        tx.rollback().await.unwrap();
    }
    let tx = db.transaction().await.unwrap();
    tx.batch_execute(&as_tenant("north-homes")).await.unwrap();
    let direct = tx.query("SELECT 1 FROM readings LIMIT 1", &[]).await;
    assert!(direct.is_err(), "the tenant role has no grant on readings");
    tx.rollback().await.unwrap();

    // A temporary `devices` claiming north's device for south's room does not reach the
    // functions: they search the caller's temporary schema last.
    let tx = db.transaction().await.unwrap();
    tx.batch_execute(&as_tenant("south-homes")).await.unwrap();
    let south_room = p.f.south.room_id;
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE devices (id text, room_id bigint, landlord_id text) ON COMMIT DROP;
         INSERT INTO devices VALUES ('{}', {south_room}, 'south-homes');",
        north.device_id
    ))
    .await
    .unwrap();
    let window = (p.at() - Duration::days(3), p.at() + Duration::hours(1));
    let n: i64 = tx
        .query_one(
            "SELECT count(*) FROM tenant_room_readings($1, $2, $3) WHERE device_id = $4",
            &[&south_room, &window.0, &window.1, &north.device_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "north's readings through a shadowing temporary table");
    let d: i64 = tx
        .query_one(
            "SELECT count(*) FROM tenant_room_device_latest($1) WHERE device_id = $2",
            &[&south_room, &north.device_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(d, 0, "north's device through a shadowing temporary table");
    tx.rollback().await.unwrap();
}
