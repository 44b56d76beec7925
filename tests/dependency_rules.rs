//! The map of the architecture, enforced: every crate of the workspace depends (normally, for
//! its build, or only for its tests) on no workspace crate that the table "Dependency rules" in
//! `ARCHITECTURE.md` does not allow it. The table is the rule and its documentation at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Crate name -> workspace crates it may depend on, read from ARCHITECTURE.md.
fn rules(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
    let section = architecture
        .split("\n## ")
        .find(|s| s.starts_with("Dependency rules"))
        .expect("ARCHITECTURE.md has a section \"## Dependency rules\"");
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.contains("---"))
        .skip(1) // the header
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let name = cells[0].trim_matches('`').to_owned();
            let allowed = cells[1]
                .split(',')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .filter(|c| !c.is_empty() && c != "nothing")
                .collect();
            (name, allowed)
        })
        .collect()
}

/// Every workspace crate with its workspace dependencies of any kind: (crate, dependency, kind).
fn workspace_edges(root: &Path) -> Vec<(String, String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut edges = Vec::new();
    for p in packages {
        let name = p["name"].as_str().expect("name");
        for d in p["dependencies"].as_array().expect("dependencies") {
            let dep = d["name"].as_str().expect("dependency name");
            if members.contains(dep) {
                let kind = d["kind"].as_str().unwrap_or("normal").to_owned();
                edges.push((name.to_owned(), dep.to_owned(), kind));
            }
        }
    }
    edges
}

fn violations(rules: &BTreeMap<String, BTreeSet<String>>, edges: &[(String, String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (from, to, kind) in edges {
        match rules.get(from) {
            None => found.push(format!("{from} is not in the table")),
            Some(allowed) if !allowed.contains(to) => found.push(format!("{from} -> {to} ({kind})")),
            Some(_) => {}
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_crate_depends_only_on_what_the_architecture_allows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let rules = rules(&architecture);
    let edges = workspace_edges(root);
    assert!(edges.len() > 20, "the workspace's own dependencies are read: {edges:?}");
    let broken = violations(&rules, &edges);
    assert!(broken.is_empty(), "dependencies ARCHITECTURE.md does not allow:\n{}", broken.join("\n"));
}

#[test]
fn a_forbidden_edge_is_reported() {
    // The check itself: the collector depending on the gateway (as its benchmarks once did) is
    // named, and an allowed edge is not.
    let rules = rules(
        "# x\n\n## Dependency rules\n\n| crate | may depend on |\n|---|---|\n\
         | `dampwatch-collector` | `dampwatch-store` |\n| `dampwatch-store` | nothing |\n",
    );
    let edges = vec![
        ("dampwatch-collector".into(), "dampwatch-store".into(), "normal".into()),
        ("dampwatch-collector".into(), "dampwatch-gateway".into(), "dev".into()),
    ];
    assert_eq!(violations(&rules, &edges), vec!["dampwatch-collector -> dampwatch-gateway (dev)".to_owned()]);
}
