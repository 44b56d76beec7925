//! `docs/verify_evidence_pack.py`, the verifier that shares no code with Dampwatch (Python's
//! standard library and RFC 8032's Ed25519), agrees with `dampwatch evidence verify`: it
//! accepts an intact pack and names the file of a changed uplink or event, even after the
//! manifest was re-listed and re-signed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use dampwatch_evidence::{layout, Pack};
use serde_json::Value;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/verify_evidence_pack.py")
}

/// Runs the script on `pack`: its exit status and first line of output.
fn run(pack: &Pack, key: &Path, dir: &Path) -> (Option<i32>, String) {
    let file = dir.join("pack.tar");
    let mut bytes = Vec::new();
    pack.write(&mut bytes, 0).expect("write");
    std::fs::write(&file, bytes).expect("write the pack");
    let out = Command::new("python3")
        .arg(script())
        .arg(&file)
        .arg("--public-key")
        .arg(key)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout)
}

fn edit_line(pack: &mut Pack, path: &str, index: usize, edit: impl FnOnce(&mut Value)) {
    let text = String::from_utf8(pack.get(path).expect("file").to_vec()).expect("UTF-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut value: Value = serde_json::from_str(&lines[index]).expect("JSON line");
    edit(&mut value);
    lines[index] = value.to_string();
    pack.set(path, format!("{}\n", lines.join("\n")).into_bytes());
}

#[tokio::test]
async fn the_independent_script_checks_signatures_and_the_chain() {
    let s = common::damp_bedroom().await;
    let (_, pack) = s.export().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = s.audit_public_key();

    let (status, out) = run(&pack, &key, dir.path());
    assert_eq!(status, Some(0), "{out}");
    assert!(out.starts_with(&format!("ok: case {}: seal, ", s.case_id)), "{out}");
    assert!(out.ends_with("36 uplink signatures, 3 chained events"), "{out}");

    // Another platform's key.
    let other = dir.path().join("other.pub");
    std::fs::write(&other, "11".repeat(32)).expect("write");
    assert_eq!(
        run(&pack, &other, dir.path()),
        (Some(1), "TAMPERED: seal.json: signature not from a trusted key".into())
    );

    let signer = s.signer();
    let mut event = pack.clone();
    edit_line(&mut event, layout::EVENTS, 2, |v| v["evidence"] = Value::String("{}".into()));
    event.reseal(&signer).expect("reseal");
    assert_eq!(
        run(&event, &key, dir.path()),
        (Some(1), "TAMPERED: events.jsonl: seq 3: hash does not match its contents".into())
    );

    // The officer's note carried beside its event: changed, it no longer matches the digest
    // the chain holds.
    let mut note = pack.clone();
    edit_line(&mut note, layout::EVENTS, 1, |v| {
        let text = v["sealed_text"]["text"].as_str().expect("the note is carried").replace("wardrobe", "bed");
        v["sealed_text"]["text"] = Value::String(text);
    });
    note.reseal(&signer).expect("reseal");
    assert_eq!(
        run(&note, &key, dir.path()),
        (
            Some(1),
            "TAMPERED: events.jsonl: seq 2: its text does not match the digest its evidence holds".into()
        )
    );

    let mut uplink = pack.clone();
    edit_line(&mut uplink, layout::UPLINKS, 0, |v| {
        let mut signature = hex::decode(v["signature"].as_str().unwrap()).unwrap();
        signature[3] ^= 1;
        v["signature"] = Value::String(hex::encode(signature));
    });
    uplink.reseal(&signer).expect("reseal");
    let (status, out) = run(&uplink, &key, dir.path());
    assert_eq!(status, Some(1));
    assert!(
        out.starts_with("TAMPERED: uplinks.jsonl: line 1 (uplink ")
            && out.ends_with("signature does not verify"),
        "{out}"
    );
}
