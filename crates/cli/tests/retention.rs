//! `dampwatch retention` and `dampwatch holds` as an operator uses them: the policy with its
//! sources, a hold opened on a home (audited), the dry run counting that home's old readings as
//! held and deleting nothing, a round deleting only the free home's, the hold released.

use std::process::{Command, Output};

use dampwatch_pg::PrivatePostgres;

fn dampwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dampwatch")).args(args).output().expect("dampwatch runs")
}

fn succeeds(args: &[&str]) -> String {
    let out = dampwatch(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// The plan's row for `table`: (delete, held).
fn plan_row(plan: &str, table: &str) -> (i64, i64) {
    let line = plan
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(table))
        .unwrap_or_else(|| panic!("no {table} in {plan}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[3].parse().expect("delete"), f[4].parse().expect("held"))
}

#[tokio::test]
async fn an_operator_holds_a_home_plans_and_runs_retention() {
    let policy = succeeds(&["retention", "policy", "--on", "2027-01-01"]);
    assert!(policy.starts_with("retention policy 2026-12 (in force from 2026-12-01)"), "{policy}");
    assert!(policy.contains("readings: keep 6years, held for open cases and legal holds"), "{policy}");
    assert!(policy.contains("https://www.legislation.gov.uk/ukpga/1980/58/section/5"), "{policy}");

    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let url = pg.url();
    let mut db = dampwatch_store::connect(&url).await.expect("connect");
    dampwatch_store::migrate(&mut db).await.expect("migrate");
    db.batch_execute(
        "INSERT INTO landlords (id) VALUES ('north');
         INSERT INTO dwellings (landlord_id, reference) VALUES ('north', 'H1'), ('north', 'H2');
         INSERT INTO rooms (dwelling_id, name) SELECT id, 'kitchen' FROM dwellings;
         INSERT INTO devices (id, landlord_id, room_id, signing_public_key)
         SELECT 'dev-' || d.reference, 'north', r.id, '\\x0000000000000000000000000000000000000000000000000000000000000000'
         FROM dwellings d JOIN rooms r ON r.dwelling_id = d.id;
         INSERT INTO readings
         SELECT d.id, 1, s, t, t, false, t, 2000, 5000, NULL, NULL, 3000, 0, int8send(s)
         FROM devices d, generate_series(1, 3) s, LATERAL (SELECT now() - interval '7 years' AS t) x;",
    )
    .await
    .expect("seed");

    let opened = succeeds(&[
        "holds",
        "open",
        "--database-url",
        &url,
        "--landlord",
        "north",
        "--home",
        "H1",
        "--reason",
        "dispute",
        "--note",
        "county court claim K00AB123",
    ]);
    assert!(opened.starts_with("hold 1 open on north's home H1 (dispute)"), "{opened}");
    let refused = dampwatch(&[
        "holds",
        "open",
        "--database-url",
        &url,
        "--landlord",
        "north",
        "--home",
        "H9",
        "--reason",
        "dispute",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no home with reference \"H9\""));

    let plan = succeeds(&["retention", "plan", "--database-url", &url]);
    assert!(plan.contains("dry run: nothing deleted"), "{plan}");
    assert_eq!(plan_row(&plan, "readings"), (3, 3), "{plan}");
    let stored: i64 = db.query_one("SELECT count(*) FROM readings", &[]).await.expect("count").get(0);
    assert_eq!(stored, 6, "the plan deleted nothing");

    let ran = succeeds(&["retention", "run", "--database-url", &url]);
    assert!(ran.contains("readings: 3 rows deleted"), "{ran}");
    let left: i64 = db
        .query_one("SELECT count(*) FROM readings WHERE device_id = 'dev-H1'", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 3, "the held home's readings stay");

    assert!(succeeds(&["holds", "list", "--database-url", &url]).contains("\tH1\tdispute\topen\t"));
    succeeds(&["holds", "release", "--database-url", &url, "1"]);
    assert_eq!(plan_row(&succeeds(&["retention", "plan", "--database-url", &url]), "readings"), (3, 0));
    let audited: Vec<String> = db
        .query("SELECT action FROM audit_log ORDER BY seq", &[])
        .await
        .expect("audit")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(audited, ["legal_hold.open", "legal_hold.release"]);
}
