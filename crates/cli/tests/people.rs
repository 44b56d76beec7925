//! `dampwatch landlords` and `dampwatch users` as an operator uses them: a landlord, its first
//! admin with a password-setup token that really sets the password, a listing, a role change,
//! a lockout lifted, a leaver disabled, a webhook added; each change in the audit log.

use std::process::{Command, Output};

use chrono::Utc;
use dampwatch_accounts::reset;
use dampwatch_accounts::Password;
use dampwatch_pg::PrivatePostgres;

/// `dampwatch <group> --database-url URL <rest…>`.
fn dampwatch(url: &str, args: &[&str]) -> Output {
    let (group, rest) = args.split_first().expect("a command");
    Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .arg(group)
        .args(["--database-url", url])
        .args(rest)
        .output()
        .expect("dampwatch runs")
}

fn succeeds(url: &str, args: &[&str]) -> String {
    let out = dampwatch(url, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

#[tokio::test]
async fn an_operator_adds_a_landlord_and_its_people() {
    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let url = pg.url();
    let mut db = dampwatch_store::connect(&url).await.expect("connect");
    dampwatch_store::migrate(&mut db).await.expect("migrate");

    succeeds(&url, &["landlords", "add", "north-homes", "--name", "North Homes"]);
    let twice = dampwatch(&url, &["landlords", "add", "north-homes"]);
    assert!(!twice.status.success(), "a landlord is added once");

    let added = succeeds(
        &url,
        &[
            "users",
            "add",
            "--email",
            "Admin@North.example",
            "--name",
            "Ann Admin",
            "--role",
            "landlord_admin",
            "--landlord",
            "north-homes",
        ],
    );
    assert!(added.contains("must enrol a second factor"), "{added}");
    let token = added
        .lines()
        .find_map(|l| l.split("for one hour): ").nth(1))
        .expect("a setup token")
        .trim()
        .to_owned();
    reset::redeem(&db, &token, &Password::new("velvet thunder over the moor"), Utc::now())
        .await
        .expect("the token sets a password");
    assert!(
        reset::redeem(&db, &token, &Password::new("another long passphrase here"), Utc::now()).await.is_err(),
        "once"
    );

    let operator_with_landlord = dampwatch(
        &url,
        &[
            "users",
            "add",
            "--email",
            "op@platform.example",
            "--name",
            "Op",
            "--role",
            "operator",
            "--landlord",
            "north-homes",
        ],
    );
    assert!(!operator_with_landlord.status.success(), "an operator belongs to no landlord");

    succeeds(
        &url,
        &[
            "users",
            "add",
            "--email",
            "fixer@north.example",
            "--name",
            "Fix",
            "--role",
            "contractor",
            "--landlord",
            "north-homes",
        ],
    );
    succeeds(&url, &["users", "set-role", "fixer@north.example", "--role", "housing_officer"]);
    db.execute(
        "UPDATE users SET locked_until = now() + interval '1 hour' WHERE email = 'fixer@north.example'",
        &[],
    )
    .await
    .unwrap();
    let listed = succeeds(&url, &["users", "list", "--landlord", "north-homes"]);
    assert!(listed.contains("admin@north.example") && listed.contains("active"), "{listed}");
    assert!(listed.contains("housing_officer") && listed.contains("locked"), "{listed}");
    succeeds(&url, &["users", "unlock", "fixer@north.example"]);
    succeeds(&url, &["users", "disable", "fixer@north.example"]);
    let listed = succeeds(&url, &["users", "list"]);
    assert!(listed.contains("disabled"), "{listed}");
    let landlords = succeeds(&url, &["landlords", "list"]);
    assert!(landlords.contains("north-homes") && landlords.contains("North Homes"), "{landlords}");

    // The secrets key the endpoint's signing secret is sealed under is made in this PKI
    // directory, not in the working directory.
    let pki = tempfile::tempdir().unwrap();
    succeeds(
        &url,
        &[
            "webhooks",
            "--pki-dir",
            pki.path().to_str().unwrap(),
            "add",
            "--landlord",
            "north-homes",
            "--url",
            "http://127.0.0.1:9/hook",
            "--dev-loopback-http",
        ],
    );
    assert!(pki.path().join(dampwatch_alerts::secrets::KEY_FILE).exists(), "the key is made beside the PKI");
    succeeds(&url, &["webhooks", "list"]);

    let actions: Vec<String> = db
        .query("SELECT action FROM audit_log WHERE actor LIKE 'cli:%' ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        actions,
        [
            "landlord.create",
            "user.create",
            "user.create",
            "user.update",
            "user.update",
            "user.update",
            "webhook.add"
        ],
        "every change audited"
    );
}
