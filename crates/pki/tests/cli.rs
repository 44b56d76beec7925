//! The `dampwatch pki` subcommands as an operator uses them: parsed from arguments, run, and
//! their output read.

use clap::Parser;
use dampwatch_pki::cli::{run, PkiCommand};

#[derive(Parser)]
struct Dampwatch {
    #[command(subcommand)]
    pki: PkiCommand,
}

/// `issue-device` of `device` (landlord acme) in the PKI `d`, its bundle in `b`, with `more`.
fn issue(d: &str, b: &str, device: &str, more: &[&str]) -> anyhow::Result<String> {
    let args = ["issue-device", "--dir", d, "--bundles", b, "--landlord", "acme", "--device", device];
    pki(&[&args[..], more].concat())
}

fn pki(args: &[&str]) -> anyhow::Result<String> {
    let cmd = Dampwatch::try_parse_from(std::iter::once("pki").chain(args.iter().copied()))?.pki;
    let mut out = Vec::new();
    run(cmd, &mut out)?;
    let out = String::from_utf8(out)?;
    assert!(!out.contains("PRIVATE KEY"), "a private key was printed:\n{out}");
    Ok(out)
}

#[test]
fn init_issue_revoke_list_read_as_one_line_confirmations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8 path");
    // Devices' bundles outside the PKI directory (and outside the source tree).
    let bundles = tempfile::tempdir().expect("tempdir");
    let b = bundles.path().to_str().expect("utf8 path");

    let out = pki(&["init", "--dir", d]).expect("init");
    assert!(out.lines().next().is_some_and(|l| l.starts_with("created CA ")), "{out}");
    assert!(out.contains("issued API HTTPS certificate "), "{out}");

    let err = pki(&["init", "--dir", d]).expect_err("second init");
    assert!(format!("{err:#}").contains("pass --force"), "{err:#}");

    let out = issue(d, b, "dev-7", &["--days", "90"]).expect("issue");
    assert!(out.contains("issued device dev-7 of landlord acme"), "{out}");
    let key_line = out.lines().find(|l| l.starts_with("signing public key: ")).expect("key line");
    let hex = key_line.trim_start_matches("signing public key: ");
    let on_disk = std::fs::read_to_string(dir.path().join("devices/dev-7/signing-key.pub")).expect("pub");
    assert_eq!(hex, on_disk.trim());
    assert_eq!(hex.len(), 64);

    let out = pki(&["revoke", "--dir", d, "--device", "dev-7"]).expect("revoke");
    assert!(out.starts_with("revoked device dev-7 (serial 5)"), "{out}");
    let out = pki(&["revoke", "--dir", d, "--device", "dev-7"]).expect("revoke again");
    assert!(out.starts_with("device dev-7 already revoked"), "{out}");

    let out = pki(&["list", "--dir", d]).expect("list");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("KIND"), "{out}");
    assert_eq!(lines.len(), 7, "header + ca, gateway, web, collector, device, downlink key:\n{out}");
    let device = lines.iter().find(|l| l.starts_with("device")).expect("device row");
    assert!(device.contains("revoked") && device.contains("CN=dev-7, O=acme"), "{device}");
    let gateway = lines.iter().find(|l| l.starts_with("gateway")).expect("gateway row");
    assert!(gateway.contains(" 0d ") && gateway.contains("current"), "{gateway}");
    let key = lines.iter().find(|l| l.starts_with("downlink-key")).expect("downlink key row");
    assert!(key.contains("collector-1") && key.contains(" 0d ") && key.contains("current"), "{key}");
}

#[test]
fn the_downlink_key_is_printed_rotated_and_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8 path");
    let out = pki(&["init", "--dir", d]).expect("init");
    let first = std::fs::read_to_string(dir.path().join("downlink/key-1.pub")).expect("pub");
    assert!(out.contains("collector downlink key 1: ") && out.contains(first.trim()), "{out}");

    let out = pki(&["downlink-keys", "--dir", d]).expect("keys");
    assert_eq!(out, format!("downlink key 1: {}\n", first.trim()));

    let out = pki(&["rotate-downlink-key", "--dir", d]).expect("rotate");
    let second = std::fs::read_to_string(dir.path().join("downlink/key-2.pub")).expect("pub");
    assert!(out.starts_with("created collector downlink key 2: "), "{out}");
    assert!(
        out.ends_with(&format!("downlink key 1: {}\ndownlink key 2: {}\n", first.trim(), second.trim())),
        "{out}"
    );

    let out = pki(&["rotate-downlink-key", "--dir", d]).expect("rotate again");
    assert!(out.contains("deleted the private key of downlink key 1"), "{out}");
    let out = pki(&["list", "--dir", d]).expect("list");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("downlink-key")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].contains("collector-2") && rows[0].contains("superseded"), "{out}");
    assert!(rows[1].contains("collector-3") && rows[1].contains("current"), "{out}");
}

#[test]
fn a_bad_device_id_is_reported_with_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8 path");
    // Devices' bundles outside the PKI directory (and outside the source tree).
    let bundles = tempfile::tempdir().expect("tempdir");
    let b = bundles.path().to_str().expect("utf8 path");
    pki(&["init", "--dir", d]).expect("init");
    let err = issue(d, b, "Dev/1", &[]).expect_err("bad id");
    assert!(format!("{err:#}").contains("device id \"Dev/1\" has a character not allowed"), "{err:#}");
}

#[test]
fn reissue_with_force_mentions_the_superseded_serial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8 path");
    // Devices' bundles outside the PKI directory (and outside the source tree).
    let bundles = tempfile::tempdir().expect("tempdir");
    let b = bundles.path().to_str().expect("utf8 path");
    pki(&["init", "--dir", d]).expect("init");
    issue(d, b, "dev-1", &[]).expect("issue");
    let out = issue(d, b, "dev-1", &["--force"]).expect("rotate");
    assert!(out.contains("superseded serial 5"), "{out}");
}

#[test]
fn the_api_certificate_is_reissued_for_the_names_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8 path");
    pki(&["init", "--dir", d]).expect("init");
    let args =
        ["issue-web", "--dir", d, "--dns", "api.example.org", "--dns", "localhost", "--ip", "10.0.0.7"];
    let err = pki(&args).expect_err("init already made one");
    assert!(format!("{err:#}").contains("pass --force"), "{err:#}");
    let out = pki(&[&args[..], &["--force", "--days", "30"]].concat()).expect("issue-web");
    assert!(
        out.starts_with(
            "issued API HTTPS certificate for api.example.org, localhost, 10.0.0.7 (serial 5, 30 days): "
        ),
        "{out}"
    );
    let err =
        pki(&["issue-web", "--dir", d, "--dns", "10.0.0.7", "--force"]).expect_err("an address as a name");
    assert!(format!("{err:#}").contains("--ip"), "{err:#}");
    let err = pki(&["issue-web", "--dir", d, "--force"]).expect_err("no names");
    assert!(format!("{err:#}").contains("no names given"), "{err:#}");
}
