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
        "auth-mail",
        "auth-passkeys",
        "webauthn-rs",
        "diesel",
        "argon2",
        "pasetors",
        "reqwest",
        "lettre",
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

#[test]
fn auth_mail_knows_no_storage_nor_accounts_nor_http() {
    let deps = normal_closure(&metadata(), "auth-mail");
    for other in [
        "auth-store",
        "auth-http",
        "auth-crypto",
        "auth-federation",
        "diesel",
        "actix-web",
        "reqwest",
    ] {
        assert!(!deps.contains(other), "auth-mail depends on {other}");
    }
    // SMTP over rustls, no OpenSSL (lettre's defaults would pull it).
    assert!(deps.contains("rustls") && !deps.contains("openssl") && !deps.contains("native-tls"));
}

/// The WebAuthn adapter is pure: webauthn-rs and the core, no storage, no
/// HTTP, no runtime, and no OpenSSL (webauthn-rs 0.5 needed it).
#[test]
fn auth_passkeys_is_pure_and_needs_no_openssl() {
    let deps = normal_closure(&metadata(), "auth-passkeys");
    for other in [
        "auth-store",
        "auth-http",
        "auth-crypto",
        "diesel",
        "actix-web",
        "reqwest",
        "tokio",
        "openssl",
        "openssl-sys",
    ] {
        assert!(!deps.contains(other), "auth-passkeys depends on {other}");
    }
    assert!(deps.contains("webauthn-rs"));
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

/// The web crate's modules, each with the modules of the crate it names
/// (`crate::a::b`), test code left out.
fn web_module_imports() -> HashMap<String, BTreeSet<String>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/auth-http/src");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let name_of = |path: &std::path::Path| {
        let rel = path.strip_prefix(&root).unwrap().with_extension("");
        let name = rel.to_string_lossy().replace('/', "::");
        name.strip_suffix("::mod")
            .map(str::to_owned)
            .unwrap_or(name)
    };
    let modules: BTreeSet<String> = files.iter().map(|f| name_of(f)).collect();
    let mut imports = HashMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut named = BTreeSet::new();
        // `crate::a::b::Item`, `crate::a::{b, c}`: the longest module path.
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            let mut targets = Vec::new();
            if rest[path.len()..].starts_with('{') {
                let group = &rest[path.len() + 1..rest.find('}').unwrap_or(rest.len())];
                for item in group.split(',') {
                    let item = item.trim().split("::").next().unwrap_or_default();
                    targets.push([parts.clone(), vec![item]].concat());
                }
            } else {
                targets.push(parts);
            }
            for target in targets {
                if let Some(module) = (1..=target.len())
                    .rev()
                    .map(|n| target[..n].join("::"))
                    .find(|m| modules.contains(m))
                {
                    named.insert(module);
                }
            }
        }
        let me = name_of(file);
        named.remove(&me);
        imports.insert(me, named);
    }
    imports
}

/// docs/architecture.md: in auth-http, no module imports one that imports
/// it back (the crate root only declares and re-exports, and is left out).
#[test]
fn the_web_crates_modules_import_in_one_direction() {
    let mut imports = web_module_imports();
    imports.remove("lib");
    for edges in imports.values_mut() {
        edges.remove("lib");
    }
    assert!(imports.len() > 30, "modules read: {:?}", imports.keys());
    // A depth-first walk from every module; a module met again on its own
    // path is a cycle.
    fn walk(
        module: &str,
        imports: &HashMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            return Some(path[start..].to_vec());
        }
        if !done.insert(module.to_owned()) {
            return None;
        }
        path.push(module.to_owned());
        for next in imports.get(module).into_iter().flatten() {
            if let Some(cycle) = walk(next, imports, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in imports.keys() {
        let cycle = walk(module, &imports, &mut Vec::new(), &mut done);
        assert_eq!(cycle, None, "an import cycle in auth-http");
    }
}
