//! A case's evidence pack as a verifier meets it: the pack of a realistic case verifies
//! offline; the hashes Rust computes are the ones the database stored; and a change to any
//! part (an uplink, an event, a reading, a deadline, the law data, the summary, the manifest
//! or its seal) fails verification naming the file, even when whoever changed it also
//! re-listed the hashes and re-signed the manifest with the platform's key.

mod common;

use dampwatch_evidence::{case_event_hash, layout, verify, verify_pack, Contents, Pack, Tampered};
use serde_json::Value;

/// Applies `edit` to line `index` (from 0) of a JSON Lines file.
fn edit_line(pack: &mut Pack, path: &str, index: usize, edit: impl FnOnce(&mut Value)) {
    let text = String::from_utf8(pack.get(path).expect("file").to_vec()).expect("UTF-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut value: Value = serde_json::from_str(&lines[index]).expect("JSON line");
    edit(&mut value);
    lines[index] = value.to_string();
    pack.set(path, format!("{}\n", lines.join("\n")).into_bytes());
}

fn edit_json(pack: &mut Pack, path: &str, edit: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_slice(pack.get(path).expect("file")).expect("JSON");
    edit(&mut value);
    pack.set(path, serde_json::to_vec_pretty(&value).expect("JSON"));
}

fn edit_text(pack: &mut Pack, path: &str, from: &str, to: &str) {
    let text = String::from_utf8(pack.get(path).expect("file").to_vec()).expect("UTF-8");
    assert!(text.contains(from), "{path} holds {from:?}");
    pack.set(path, text.replacen(from, to, 1).into_bytes());
}

/// Flips the lowest bit of the hex digit at `index` of a hex string.
fn flip_hex(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let digit = u8::from_str_radix(std::str::from_utf8(&bytes[index..=index]).unwrap(), 16).unwrap() ^ 1;
    bytes[index] = format!("{digit:x}").as_bytes()[0];
    String::from_utf8(bytes).unwrap()
}

fn fails(pack: &Pack, trusted: [u8; 32]) -> Tampered {
    verify_pack(pack, &[trusted]).expect_err("the change is caught")
}

#[tokio::test]
async fn the_pack_of_a_case_verifies_offline() {
    let s = common::damp_bedroom().await;
    let (bytes, pack) = s.export().await;
    let report = verify(bytes.as_slice(), &[s.trusted()]).expect("an intact pack verifies");
    assert_eq!(
        (report.uplinks, report.readings, report.devices, report.certificates),
        (s.uplinks, s.readings, 1, 1)
    );
    assert_eq!(report.events, 3, "opened, triaged, investigated");
    assert!(report.deadlines >= 4, "the triage review and the significant track's steps: {report}");
    assert!(report.summary_checked);
    assert_eq!(report.key_id, "audit-key-1");
    assert!(
        report.to_string().starts_with(&format!("case {} of north-homes: 36 uplinks", s.case_id)),
        "{report}"
    );

    let names: Vec<&str> = pack.files.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "manifest.json",
        "seal.json",
        "summary.html",
        "case.json",
        "events.jsonl",
        "deadlines.json",
        "devices.json",
        "uplinks.jsonl",
        "readings.jsonl",
        "pki/ca.pem",
        "pki/crl.pem",
        "pki/devices/bedroom-1.pem",
        "law/clock.toml",
        "law/laws/england-social.toml",
        "law/calendars/england-and-wales.toml",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let summary = String::from_utf8(pack.get(layout::SUMMARY).unwrap().to_vec()).unwrap();
    assert!(!summary.to_lowercase().contains("<script"), "no scripts");
    assert!(summary.contains("<svg") && summary.contains("<polyline"), "a chart of the readings");
    assert!(
        summary.contains("Front bedroom") && summary.contains("investigate"),
        "the room and the deadlines"
    );
    // The officer's note, stored sealed, is in the pack opened: in the summary and beside its
    // event, whose evidence holds the digest the chain covers.
    assert!(summary.contains("Mould behind the wardrobe"), "the triage note in the summary");
    let contents = Contents::parse(&pack).expect("contents");
    let triage = &contents.events[1];
    assert!(
        triage.evidence.contains("\"sealed_text\"") && !triage.evidence.contains("wardrobe"),
        "{}",
        triage.evidence
    );
    assert!(triage.sealed_text.as_ref().is_some_and(|t| t.text.contains("wardrobe")));
    let stored: String = s
        .db
        .query_one("SELECT evidence::text FROM case_events WHERE case_id = $1 AND seq = 2", &[&s.case_id])
        .await
        .expect("stored")
        .get(0);
    assert_eq!(stored, triage.evidence, "the evidence as the chain hashed it");
    // Without the opened texts the pack still verifies, holding the digest only.
    let mut bytes_without = Vec::new();
    let options = dampwatch_evidence::ExportOptions { texts: Default::default(), ..s.options() };
    dampwatch_evidence::export_case_with(&s.db, s.pki_dir(), s.case_id, &options, &mut bytes_without)
        .await
        .expect("export");
    verify(bytes_without.as_slice(), &[s.trusted()]).expect("a pack without the texts verifies");
    assert!(!String::from_utf8_lossy(&bytes_without).contains("wardrobe"));
    // Every uplink in the pack holds exactly the bytes stored.
    let contents = Contents::parse(&pack).expect("contents");
    for u in &contents.uplinks {
        let stored: Vec<u8> =
            s.db.query_one("SELECT payload FROM uplinks WHERE digest = $1", &[&u.digest.as_slice()])
                .await
                .expect("stored")
                .get(0);
        assert_eq!(stored, u.payload);
    }
    // The same case exported twice at the same moment is the same archive.
    assert_eq!(s.export().await.0, bytes, "deterministic");
}

#[tokio::test]
async fn rust_computes_the_event_hash_the_database_stored() {
    let s = common::damp_bedroom().await;
    // Records with JSON the database prints its own way: key order, spacing, numbers,
    // escapes, non-ASCII text.
    let awkward = [
        serde_json::json!({"zeta": 1, "a": [1, 2.50, -0.0, 1e3, null], "nested": {"b": "x", "aa": true}}),
        serde_json::json!({"quote": "\"\\\n\t\u{1}", "unicode": "Zoë — 東京 🏠", "empty": {}}),
        serde_json::json!({}),
    ];
    let clock = dampwatch_clock::Clock::from_config(&dampwatch_clock::ClockConfig::default(), None).unwrap();
    let mut db = s.db;
    for (i, record) in awkward.iter().enumerate() {
        let tx = db.transaction().await.unwrap();
        dampwatch_alerts::cases::append_record(
            &tx,
            &clock,
            s.case_id,
            "user:7",
            s.now,
            &format!("note_{i}"),
            record,
            &serde_json::json!({"attachment": "photo — 1.jpg", "n": 12.0}),
            s.now,
        )
        .await
        .expect("record");
        tx.commit().await.unwrap();
    }
    let s = common::Scenario { db, ..s };
    let (_, pack) = s.export().await;
    let contents = Contents::parse(&pack).expect("contents");
    assert_eq!(contents.events.len(), 6);
    let mut prev = None;
    for e in &contents.events {
        let stored: Vec<u8> = s
            .db
            .query_one("SELECT hash FROM case_events WHERE case_id = $1 AND seq = $2", &[&s.case_id, &e.seq])
            .await
            .expect("row")
            .get(0);
        assert_eq!(case_event_hash(prev.as_ref(), e).as_slice(), stored.as_slice(), "seq {}", e.seq);
        prev = Some(e.hash);
    }
    verify_pack(&pack, &[s.trusted()]).expect("verifies");
}

#[tokio::test]
async fn every_change_is_named_by_its_file() {
    let s = common::damp_bedroom().await;
    let (bytes, pack) = s.export().await;
    let trusted = s.trusted();
    let signer = s.signer();

    // A byte of an uplink's payload flipped in the archive itself.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text.find("\"payload\":\"").expect("an uplink") + 20;
    let mut flipped = bytes.clone();
    flipped[at] = flip_hex(&text[at..=at], 0).as_bytes()[0];
    let found = verify(flipped.as_slice(), &[trusted]).expect_err("caught");
    assert_eq!(found.to_string(), "uplinks.jsonl: SHA-256 does not match the manifest");

    // A byte of the manifest, of the seal's signature, or another platform's key.
    let mut manifest = pack.clone();
    edit_text(&mut manifest, layout::MANIFEST, "\"format\"", "\"formaT\"");
    assert_eq!(
        fails(&manifest, trusted).to_string(),
        "manifest.json: its SHA-256 is not the one the seal signs"
    );
    let mut seal = pack.clone();
    edit_json(&mut seal, layout::SEAL, |v| {
        let sig = v["signature"].as_str().unwrap().to_owned();
        v["signature"] = Value::String(flip_hex(&sig, 10));
    });
    assert_eq!(fails(&seal, trusted).to_string(), "seal.json: signature not from a trusted key");
    assert_eq!(fails(&pack, [9u8; 32]).to_string(), "seal.json: signature not from a trusted key");

    // Changes re-listed and re-signed with the platform's own key: the checks behind the
    // seal still catch each one.
    type Change = Box<dyn Fn(&mut Pack)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "an uplink's payload (its digest recomputed)",
            Box::new(|p: &mut Pack| {
                edit_line(p, layout::UPLINKS, 5, |v| {
                    let payload = flip_hex(v["payload"].as_str().unwrap(), 30);
                    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(hex::decode(&payload).unwrap()));
                    v["payload"] = Value::String(payload);
                    v["digest"] = Value::String(digest);
                })
            }),
            "uplinks.jsonl: line 6 (uplink ",
        ),
        (
            "an event's actor",
            Box::new(|p: &mut Pack| edit_line(p, layout::EVENTS, 1, |v| v["actor"] = Value::String("user:5".into()))),
            "events.jsonl: seq 2: hash does not match its contents",
        ),
        (
            "an officer's opened note",
            Box::new(|p: &mut Pack| {
                edit_line(p, layout::EVENTS, 1, |v| {
                    let text = v["sealed_text"]["text"].as_str().unwrap().replace("wardrobe", "bed");
                    v["sealed_text"]["text"] = Value::String(text);
                })
            }),
            "events.jsonl: seq 2: its text does not match the digest its evidence holds",
        ),
        (
            "an officer's note with its first byte moved into the salt (the digest unchanged)",
            Box::new(|p: &mut Pack| {
                edit_line(p, layout::EVENTS, 1, |v| {
                    let salt = v["sealed_text"]["salt"].as_str().unwrap().to_owned();
                    let text = v["sealed_text"]["text"].as_str().unwrap().to_owned();
                    v["sealed_text"]["salt"] = Value::String(format!("{salt}{}", hex::encode(&text[..1])));
                    v["sealed_text"]["text"] = Value::String(text[1..].to_owned());
                })
            }),
            "events.jsonl: seq 2: its text's salt is not 32 bytes in hexadecimal, or its text not a JSON object",
        ),
        (
            "the digest of an officer's note",
            Box::new(|p: &mut Pack| {
                edit_line(p, layout::EVENTS, 1, |v| {
                    let evidence = v["evidence"].as_str().unwrap();
                    let mut parsed: Value = serde_json::from_str(evidence).unwrap();
                    let digest = flip_hex(parsed["sealed_text"]["sha256"].as_str().unwrap(), 3);
                    parsed["sealed_text"]["sha256"] = Value::String(digest);
                    v["evidence"] = Value::String(parsed.to_string());
                })
            }),
            "events.jsonl: seq 2: hash does not match its contents",
        ),
        (
            "an event's time",
            Box::new(|p: &mut Pack| {
                edit_line(p, layout::EVENTS, 2, |v| {
                    // A microsecond moved: the last digit before the `Z`.
                    let t = v["occurred_at"].as_str().unwrap().to_owned();
                    let last = t.len() - 2;
                    let digit = if &t[last..=last] == "7" { "8" } else { "7" };
                    v["occurred_at"] = Value::String(format!("{}{digit}Z", &t[..last]));
                })
            }),
            "events.jsonl: seq 3: ",
        ),
        (
            "an event removed",
            Box::new(|p: &mut Pack| {
                let text = String::from_utf8(p.get(layout::EVENTS).unwrap().to_vec()).unwrap();
                let kept: Vec<&str> = text.lines().take(2).collect();
                p.set(layout::EVENTS, format!("{}\n", kept.join("\n")).into_bytes());
            }),
            "events.jsonl: 2 events, the case records 3",
        ),
        (
            "a reading's humidity",
            Box::new(|p: &mut Pack| edit_line(p, layout::READINGS, 40, |v| v["rh_centi_pct"] = Value::from(6000))),
            "readings.jsonl: bedroom-1 boot 3 seq ",
        ),
        (
            "a deadline's due date",
            Box::new(|p: &mut Pack| {
                edit_json(p, layout::DEADLINES, |v| {
                    let rows = v.as_array_mut().unwrap();
                    let row = rows.iter_mut().find(|r| r["step"] == "investigate").expect("investigate");
                    row["due"] = Value::String("2099-01-01".into());
                })
            }),
            "deadlines.json: significant/investigate: due is 2099-01-01, the pack's events and law data give ",
        ),
        (
            "the law's period",
            Box::new(|p: &mut Pack| {
                edit_text(p, "law/laws/england-social.toml", "amount = 10", "amount = 12");
            }),
            "deadlines.json: significant/investigate: ",
        ),
        (
            "a summary row",
            Box::new(|p: &mut Pack| edit_text(p, layout::SUMMARY, "Front bedroom", "Back bedroom")),
            "summary.html: is not the summary of the pack's data",
        ),
        (
            "a device's signing key",
            Box::new(|p: &mut Pack| {
                edit_json(p, layout::DEVICES, |v| {
                    v[0]["signing_public_key"] = Value::String("11".repeat(32));
                })
            }),
            "uplinks.jsonl: line 1 (uplink ",
        ),
        (
            "the certificate revocation list",
            Box::new(|p: &mut Pack| {
                let ca = p.get(layout::CA).unwrap().to_vec();
                p.set(layout::CRL, ca);
            }),
            "pki/crl.pem: ",
        ),
    ];
    for (what, change, expected) in cases {
        let mut changed = pack.clone();
        change(&mut changed);
        // Unsealed, the manifest's hash catches it...
        let unsealed = fails(&changed, trusted);
        assert!(
            unsealed.reason == "SHA-256 does not match the manifest"
                || unsealed.reason.contains("is not the one"),
            "{what}: {unsealed}"
        );
        // ...and re-sealed, the check of that part does.
        changed.reseal(&signer).expect("reseal");
        let found = fails(&changed, trusted).to_string();
        eprintln!("{what}: {found}");
        assert!(found.starts_with(expected), "{what}: {found} (expected {expected}…)");
    }
}

#[tokio::test]
async fn a_certificate_revoked_after_the_uplinks_still_vouches_for_them() {
    let s = common::damp_bedroom().await;
    dampwatch_pki::revoke(s.pki_dir(), common::DEVICE).expect("revoke");
    let (bytes, _) = s.export().await;
    let report = verify(bytes.as_slice(), &[s.trusted()]).expect("revoked after every uplink arrived");
    assert_eq!(report.certificates, 1);
}
