//! No private key is ever committed: a PEM private key block, an age identity or a key file a
//! command made in a working directory (tests write theirs to temporary directories). Reads
//! every file git tracks.

use std::path::Path;
use std::process::Command;

/// Whether `text` holds key material: a private-key PEM header followed by base64, or an age
/// secret key with its body. Code that only names the markers does not count.
fn holds_a_key(text: &str) -> bool {
    let pem = text.match_indices("PRIVATE KEY-----").any(|(i, m)| {
        let body = text[i + m.len()..].trim_start_matches(['\r', '\n']);
        body.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')).count() >= 40
    });
    let age = text.match_indices("AGE-SECRET-KEY-1").any(|(i, m)| {
        text[i + m.len()..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit()).count() >= 50
    });
    pem || age
}

#[test]
fn the_markers_alone_are_not_a_key_and_a_key_is() {
    assert!(!holds_a_key(r#"pem.starts_with("-----BEGIN PRIVATE KEY-----")"#));
    assert!(holds_a_key(
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
    ));
    assert!(holds_a_key(&format!("AGE-SECRET-KEY-1{}", "Q".repeat(58))));
}

#[test]
fn git_tracks_no_private_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let listed =
        Command::new("git").arg("-C").arg(root).args(["ls-files", "-z"]).output().expect("git ls-files");
    assert!(listed.status.success(), "git ls-files failed");
    let mut found = Vec::new();
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let Ok(bytes) = std::fs::read(root.join(&name)) else { continue };
        if name.ends_with(".key") || holds_a_key(&String::from_utf8_lossy(&bytes)) {
            found.push(name);
        }
    }
    assert!(found.is_empty(), "private keys are committed: {found:?}");
}
