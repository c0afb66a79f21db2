//! The library's layering (docs/ARCHITECTURE.md, "Module map"): which top-level module may name
//! which. Every `crate::module` path in a module's files counts — `use` lines, paths in code,
//! doc links such as ``[`x`](crate::x)`` — except inside inline `#[cfg(test)]` modules, whose
//! tests may reach across layers. Names re-exported at the crate root (`crate::Error`) count as
//! the module they come from. The test fails on any edge not in [`ALLOWED`] and on any cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level library module may import (besides itself). Keep in step with
/// docs/ARCHITECTURE.md. A module of `src/lib.rs` missing here fails the test.
const ALLOWED: &[(&str, &[&str])] = &[
    ("util", &[]),
    ("error", &["util"]),
    ("device", &["error", "util"]),
    ("model", &["error", "util"]),
    ("builtin", &[]),
    ("hands", &["model", "builtin", "error", "util"]),
    ("weights", &["model", "builtin", "error", "util"]),
    ("preprocess", &["model", "error"]),
    ("synth", &["util"]),
    ("checkgen", &["util"]),
    ("handsynth", &["util"]),
    ("handcheck", &["util"]),
    ("actions", &[]),
    (
        "capture",
        &["preprocess", "synth", "builtin", "util", "error"],
    ),
    (
        "live",
        &[
            "capture",
            "model",
            "preprocess",
            "actions",
            "hands",
            "error",
            "util",
        ],
    ),
    (
        "train",
        &[
            "model",
            "weights",
            "preprocess",
            "synth",
            "hands",
            "util",
            "error",
        ],
    ),
    (
        "ui",
        &[
            "live",
            "capture",
            "model",
            "preprocess",
            "actions",
            "train",
            "weights",
            "builtin",
            "hands",
            "error",
        ],
    ),
    ("testing", &["model", "weights", "synth", "error", "util"]),
    (
        "bench",
        &[
            "testing",
            "model",
            "live",
            "capture",
            "synth",
            "train",
            "preprocess",
            "weights",
            "hands",
            "handcheck",
            "error",
            "util",
        ],
    ),
    (
        "fuzz",
        &[
            "capture", "model", "train", "weights", "hands", "error", "util",
        ],
    ),
    (
        "compare",
        &["train", "bench", "model", "weights", "error", "util"],
    ),
];

/// Edges `from → to` between top-level modules, with one file that makes each.
type Edges = BTreeMap<(String, String), PathBuf>;

#[test]
fn library_modules_import_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = scan(&src);
    assert!(
        edges.len() > 10,
        "the scanner found almost no imports ({edges:?}): is it still reading src/?"
    );
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for module in top_modules(&src.join("lib.rs")) {
        if !allowed.contains_key(module.as_str()) {
            wrong.push(format!(
                "module `{module}` has no entry in ALLOWED (tests/it/layering.rs)"
            ));
        }
    }
    for ((from, to), file) in &edges {
        if !allowed
            .get(from.as_str())
            .is_some_and(|ok| ok.contains(&to.as_str()))
        {
            wrong.push(format!(
                "{from} → {to} (in {}) is not an allowed direction",
                file.display()
            ));
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        wrong.push(format!("import cycle: {}", cycle.join(" → ")));
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_allowed_directions_have_no_cycle() {
    let edges: Edges = ALLOWED
        .iter()
        .flat_map(|(from, tos)| {
            tos.iter()
                .map(move |to| ((from.to_string(), to.to_string()), PathBuf::new()))
        })
        .collect();
    assert_eq!(find_cycle(&edges), None);
}

/// The scanner on a tiny tree: a cycle through a doc link and a root re-export is found, paths
/// inside inline test modules and string literals with braces do not confuse it.
#[test]
fn scanner_finds_a_cycle_in_a_small_tree() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod a;\nmod b;\npub(crate) mod c;\npub use b::{Thing, Other};\n",
    );
    write(
        "a/mod.rs",
        "//! Uses [`B`](crate::Thing).\nmod inner;\n\
         #[cfg(test)]\nmod tests {\n    use crate::c::x;\n    fn f() { let s = \"}\"; }\n}\n",
    );
    write(
        "a/inner.rs",
        "fn g() { let c = '{'; }\nuse crate::{c::y, a};\n",
    );
    write(
        "b.rs",
        "pub struct Thing;\npub struct Other;\nfn f() { crate::a::inner(); }\n",
    );
    write("c.rs", "/// Nothing of ours.\npub fn x() {}\n");

    let edges = scan(src);
    let pairs: BTreeSet<(&str, &str)> = edges
        .keys()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        BTreeSet::from([("a", "b"), ("a", "c"), ("b", "a")]),
        "{edges:?}"
    );
    let cycle = find_cycle(&edges).expect("a ↔ b is a cycle");
    assert!(cycle.contains(&"a".to_string()) && cycle.contains(&"b".to_string()));

    // Without the doc link and the call back, the cycle is gone.
    write("b.rs", "pub struct Thing;\npub struct Other;\n");
    assert_eq!(find_cycle(&scan(src)), None);
}

/// Every edge between top-level modules of the library rooted at `src/lib.rs`.
fn scan(src: &Path) -> Edges {
    let lib = src.join("lib.rs");
    let modules = top_modules(&lib);
    let reexports = root_reexports(&std::fs::read_to_string(&lib).unwrap(), &modules);
    let mut edges = Edges::new();
    for module in &modules {
        for file in module_files(src, module) {
            let text = strip_test_modules(&std::fs::read_to_string(&file).unwrap());
            for name in crate_paths(&text) {
                let target = if modules.contains(&name) {
                    Some(name)
                } else {
                    reexports.get(&name).cloned()
                };
                if let Some(target) = target.filter(|t| t != module) {
                    edges
                        .entry((module.clone(), target))
                        .or_insert_with(|| file.clone());
                }
            }
        }
    }
    edges
}

/// The modules `lib.rs` declares (`mod x;`, `pub mod x;`, `pub(crate) mod x;`).
fn top_modules(lib: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(lib).unwrap();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub(crate) mod ")
                .or_else(|| line.strip_prefix("pub mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.strip_suffix(';')?.trim().to_string())
        })
        .collect()
}

/// Names `lib.rs` re-exports at the root (`pub use model::{GestureModel, X};`), by the module
/// they come from.
fn root_reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(at) = stmt.find("pub use ") else {
            continue;
        };
        let path = stmt[at + "pub use ".len()..].trim();
        let path = path.trim_start_matches("crate::");
        let module = path.split("::").next().unwrap_or("").trim();
        if !modules.contains(module) {
            continue;
        }
        let names = match path.rfind('{') {
            Some(i) => &path[i + 1..path.rfind('}').unwrap_or(path.len())],
            None => path.rsplit("::").next().unwrap_or(""),
        };
        for name in names.split(',') {
            let name = name.split(" as ").last().unwrap_or("").trim();
            if !name.is_empty() && name != "self" {
                out.insert(name.to_string(), module.to_string());
            }
        }
    }
    out
}

/// `src/m.rs` and/or every `.rs` under `src/m/`.
fn module_files(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The first segment after every `crate::` (comments and doc links included), and each first
/// segment of a `crate::{a::x, b}` group.
fn crate_paths(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `gesture_crate::` or similar
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(ident(group[start..j].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(group[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The text without inline `#[cfg(test)] mod name { ... }` blocks. Braces inside strings,
/// character literals and comments do not count.
fn strip_test_modules(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let decl = after.trim_start();
        let decl = decl.strip_prefix("pub(crate) ").unwrap_or(decl);
        let decl = decl.strip_prefix("pub ").unwrap_or(decl);
        let body = decl.strip_prefix("mod ").and_then(|d| {
            let open = d.find(['{', ';'])?;
            (d.as_bytes()[open] == b'{').then(|| &d[open + 1..])
        });
        match body {
            Some(body) => {
                out.push_str(&rest[..at]);
                rest = &body[block_len(body)..];
            }
            None => {
                out.push_str(&rest[..at + "#[cfg(test)]".len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of `text` up to and including the `}` that closes a block already opened.
fn block_len(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut i, mut depth) = (0, 1);
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                // A raw string `r#"..."#` ends at `"#`; a plain one at an unescaped `"`.
                let raw = i > 0 && (b[i - 1] == b'#' || b[i - 1] == b'r');
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && !raw {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                if let Some(end) = end {
                    i = end;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// One cycle of the graph, as the modules along it (first repeated at the end), if any.
fn find_cycle(edges: &Edges) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    // Depth-first search; a node met again while on the current path closes a cycle.
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for to in next.get(node).into_iter().flatten() {
            if let Some(c) = visit(to, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for start in next.keys() {
        if let Some(c) = visit(start, &next, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}
