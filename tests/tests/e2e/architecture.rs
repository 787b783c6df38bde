//! The dependency rules of docs/architecture.md, checked from `cargo metadata`.
use std::collections::{BTreeSet, HashMap};

const FORBIDDEN_IN_CORE: [&str; 11] = [
    "actix-web",
    "actix-http",
    "actix-rt",
    "diesel",
    "diesel-async",
    "tokio",
    "argon2",
    "pasetors",
    "reqwest",
    "tera",
    "hyper",
];

fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this machine's platform: other platforms' crates may not be downloaded.
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every package `root` pulls in through normal (non-dev, non-build) dependencies.
fn normal_closure(meta: &serde_json::Value, root: &str) -> BTreeSet<String> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let start = names
        .iter()
        .find(|(_, n)| **n == root)
        .map(|(id, _)| *id)
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            if normal && seen.insert(names[dep_id].to_owned()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn auth_core_pulls_in_no_io_crate() {
    let meta = metadata();
    let deps = normal_closure(&meta, "auth-core");
    let bad: Vec<_> = FORBIDDEN_IN_CORE
        .iter()
        .filter(|c| deps.contains(**c))
        .collect();
    assert!(bad.is_empty(), "auth-core depends on {bad:?}");
    let ours: Vec<_> = deps.iter().filter(|d| d.starts_with("auth-")).collect();
    assert!(ours.is_empty(), "auth-core depends on {ours:?}");
}

#[test]
fn auth_http_knows_no_adapter() {
    let deps = normal_closure(&metadata(), "auth-http");
    for adapter in [
        "auth-crypto",
        "auth-store",
        "auth-federation",
        "diesel",
        "argon2",
        "pasetors",
        "reqwest",
    ] {
        assert!(!deps.contains(adapter), "auth-http depends on {adapter}");
    }
}

#[test]
fn auth_verifier_does_no_io() {
    let deps = normal_closure(&metadata(), "auth-verifier");
    for io in [
        "tokio",
        "actix-web",
        "reqwest",
        "diesel",
        "hyper",
        "auth-core",
        "auth-crypto",
    ] {
        assert!(!deps.contains(io), "auth-verifier depends on {io}");
    }
}

#[test]
fn auth_federation_knows_no_storage_nor_our_http_surface() {
    let deps = normal_closure(&metadata(), "auth-federation");
    for other in [
        "auth-store",
        "auth-http",
        "auth-crypto",
        "diesel",
        "actix-web",
        "tera",
    ] {
        assert!(!deps.contains(other), "auth-federation depends on {other}");
    }
    // Upstream HTTPS through rustls, no OpenSSL.
    assert!(deps.contains("rustls") && !deps.contains("openssl"));
}

/// The in-memory store is an adapter with no I/O: it needs the core and
/// nothing of ours besides, so an embedder's tests pull in nothing else.
#[test]
fn auth_memory_does_no_io_and_needs_only_the_core() {
    let deps = normal_closure(&metadata(), "auth-memory");
    let bad: Vec<_> = FORBIDDEN_IN_CORE
        .iter()
        .filter(|c| deps.contains(**c))
        .collect();
    assert!(bad.is_empty(), "auth-memory depends on {bad:?}");
    let ours: Vec<_> = deps.iter().filter(|d| d.starts_with("auth-")).collect();
    assert_eq!(ours, ["auth-core"], "auth-memory depends on {ours:?}");
}
