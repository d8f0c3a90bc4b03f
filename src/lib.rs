//! kmsdoctor: why a KMS key policy locks people out, who can still get back in, and how.
//!
//! Data flows one way: `cli` (flags) -> `config` (resolved settings) -> `evidence` (all I/O)
//! -> `analysis` (pure) -> `report` (rendering).

/// `eprintln!` that never panics: a closed stderr (`2>&-`, a log reader gone) loses the line
/// and nothing else (`eprintln!` panics when the write fails).
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see [`say!`]).
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod analysis;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod evidence;
pub mod report;
pub mod workers;

#[cfg(test)]
mod code_map {
    /// Every file and folder the code map (docs/internals.md) names exists, and every
    /// module file of `src/` (folders count as one) is named there.
    #[test]
    fn the_code_map_matches_src() {
        let readme = include_str!("../docs/internals.md");
        let start = readme.find("## Code map").expect("a Code map section");
        let map: Vec<&str> = readme[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("##"))
            .filter(|l| l.starts_with("| `src/"))
            .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut named: Vec<String> = Vec::new();
        for row in &map {
            let cell = row.split('|').nth(1).unwrap_or_default();
            let mut dir = String::new();
            for part in cell.split(',').map(|p| p.trim().trim_matches('`')) {
                let path = if part.starts_with("src/") {
                    dir = part
                        .rsplit_once('/')
                        .map(|(d, _)| d.to_string())
                        .unwrap_or_default();
                    part.to_string()
                } else {
                    format!("{dir}/{part}")
                };
                assert!(
                    root.join(&path).exists(),
                    "the code map names {path}, which does not exist"
                );
                named.push(path.trim_end_matches('/').to_string());
            }
        }
        let mut missing = Vec::new();
        for entry in walk(&root.join("src")) {
            let rel = entry
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let covered = named
                .iter()
                .any(|n| rel == *n || rel.starts_with(&format!("{n}/")));
            if !covered && !rel.ends_with("/mod.rs") && rel != "src/lib.rs" {
                missing.push(rel);
            }
        }
        assert!(
            missing.is_empty(),
            "not in the code map of docs/internals.md: {missing:?}"
        );
    }

    /// No module imports a module that imports it back, directly or through others. A
    /// module is a file (`mod.rs` is its folder's module); an import is a `use` or a
    /// `crate::`/`super::` path, resolved to the module that defines the item (through
    /// `pub use` re-exports, so a folder's facade is no dependency of its own). Test
    /// modules at the end of a file (`#[cfg(test)]`) do not count.
    #[test]
    fn no_import_cycle() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let graph = imports::graph(&root);
        let cycles = imports::cycles(&graph);
        assert!(
            cycles.is_empty(),
            "import cycles among the modules of src/ (each: the modules and what they import of each other):\n{}",
            cycles
                .iter()
                .map(|c| c
                    .iter()
                    .map(|m| format!(
                        "  {m} -> {:?}",
                        graph[m].iter().filter(|d| c.contains(d)).collect::<Vec<_>>()
                    ))
                    .collect::<Vec<_>>()
                    .join("\n"))
                .collect::<Vec<_>>()
                .join("\n\n")
        );
        // The graph is real: the layers import what they should.
        assert!(graph["commands::why_locked"].contains("config::why_locked"));
        assert!(graph["analysis::lockout::assess"].contains("analysis::lockout::view"));
    }

    /// The test's own check: a cycle planted in a small tree is found.
    #[test]
    fn a_planted_cycle_is_found() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
        std::fs::write(
            dir.join("a/mod.rs"),
            "mod x;\npub use x::Thing;\nuse crate::b::other;\n",
        )
        .unwrap();
        std::fs::write(dir.join("a/x.rs"), "pub struct Thing;\n").unwrap();
        std::fs::write(
            dir.join("b.rs"),
            "use crate::a::Thing;\npub fn other() {}\n#[cfg(test)]\nmod tests { use crate::a; }\n",
        )
        .unwrap();
        let g = imports::graph(&dir);
        // b imports a's re-export: that is a::x, not a.
        assert!(g["b"].contains("a::x") && !g["b"].contains("a"), "{g:?}");
        assert!(imports::cycles(&g).is_empty());
        std::fs::write(
            dir.join("a/x.rs"),
            "pub struct Thing;\nuse super::super::b;\n",
        )
        .unwrap();
        let g = imports::graph(&dir);
        assert_eq!(imports::cycles(&g).len(), 1, "{g:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("kmsdoctor-imports-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A small reader of `use` declarations and paths: enough for this tree's own code,
    /// which rustfmt keeps regular.
    mod imports {
        use std::collections::{BTreeMap, BTreeSet};
        use std::path::Path;

        pub type Graph = BTreeMap<String, BTreeSet<String>>;

        struct Module {
            /// What the module's code refers to, as written.
            uses: Vec<String>,
            /// `pub use` re-exports: name to path.
            reexports: BTreeMap<String, String>,
        }

        fn name_of(rel: &str) -> String {
            let p = rel.trim_end_matches(".rs").trim_end_matches("/mod");
            if p == "lib" || p == "main" {
                "crate".into()
            } else {
                p.replace('/', "::")
            }
        }

        fn files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    files(&p, root, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let rel = p
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push((name_of(&rel), std::fs::read_to_string(&p).unwrap()));
                }
            }
        }

        /// `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
        fn expand(tree: &str, out: &mut Vec<String>) {
            let tree = tree.trim();
            let Some(open) = tree.find('{') else {
                let path = tree.split(" as ").next().unwrap_or("").trim();
                if !path.is_empty() {
                    out.push(path.to_string());
                }
                return;
            };
            let head = tree[..open].trim_end_matches("::");
            let close = tree.rfind('}').filter(|c| *c > open).unwrap_or(tree.len());
            let body = &tree[open + 1..close];
            let (mut depth, mut start) = (0, 0);
            let mut items = Vec::new();
            for (i, c) in body.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&body[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&body[start..]);
            for item in items {
                let mut inner = Vec::new();
                expand(item, &mut inner);
                for p in inner {
                    out.push(if head.is_empty() {
                        p
                    } else if p == "self" {
                        head.to_string()
                    } else {
                        format!("{head}::{p}")
                    });
                }
            }
        }

        fn read(text: &str) -> Module {
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let code: String = code
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let mut m = Module {
                uses: Vec::new(),
                reexports: BTreeMap::new(),
            };
            let mut rest = code.as_str();
            while let Some(at) = rest.find("use ") {
                // A declaration: only `pub`, `pub(...)` or nothing before it on its line.
                let line_start = rest[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
                let lead = rest[line_start..at].trim();
                let declaration = lead.is_empty()
                    || lead == "pub"
                    || (lead.starts_with("pub(") && lead.ends_with(')'));
                let end = rest[at..].find(';').map(|e| at + e).unwrap_or(rest.len());
                if declaration {
                    let public = !lead.is_empty();
                    let mut paths = Vec::new();
                    expand(&rest[at + 4..end], &mut paths);
                    for p in paths {
                        let p = p.strip_prefix("self::").unwrap_or(&p).to_string();
                        if public {
                            let name = p.rsplit("::").next().unwrap_or("").to_string();
                            m.reexports.insert(name, p);
                        } else {
                            m.uses.push(p);
                        }
                    }
                }
                rest = &rest[end.min(rest.len())..];
                if rest.is_empty() {
                    break;
                }
                rest = &rest[1..];
            }
            // Paths in code: `crate::a::b`, `super::c`.
            let bytes = code.as_bytes();
            for start in ["crate::", "super::"] {
                let mut from = 0;
                while let Some(i) = code[from..].find(start) {
                    let at = from + i;
                    let prev = at.checked_sub(1).map(|j| bytes[j]);
                    let end = code[at..]
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .map(|e| at + e)
                        .unwrap_or(code.len());
                    if !prev.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                        m.uses.push(code[at..end].trim_end_matches(':').to_string());
                    }
                    from = end.max(at + 1);
                }
            }
            m
        }

        struct Tree {
            modules: BTreeMap<String, Module>,
        }

        impl Tree {
            fn absolute(&self, cur: &str, path: &str) -> Option<Vec<String>> {
                let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
                let mut base: Vec<String> = if cur == "crate" {
                    vec![]
                } else {
                    cur.split("::").map(str::to_string).collect()
                };
                match parts.first() {
                    Some(&"crate") => {
                        base.clear();
                        parts.remove(0);
                    }
                    Some(&"super") | Some(&"self") => {
                        while let Some(&p) = parts.first() {
                            match p {
                                "super" => {
                                    base.pop();
                                }
                                "self" => {}
                                _ => break,
                            }
                            parts.remove(0);
                        }
                    }
                    Some(first) => {
                        let mut child = base.clone();
                        child.push(first.to_string());
                        if !self.modules.contains_key(&child.join("::")) {
                            return None;
                        }
                    }
                    None => return None,
                }
                base.extend(parts.iter().map(|p| p.to_string()));
                Some(base)
            }

            fn resolve(&self, cur: &str, path: &str, depth: usize) -> Option<String> {
                let full = self.absolute(cur, path)?;
                for i in (1..=full.len()).rev() {
                    let cand = full[..i].join("::");
                    if let Some(m) = self.modules.get(&cand) {
                        if let (Some(next), true) = (full.get(i), depth < 10) {
                            if let Some(target) = m.reexports.get(next) {
                                let mut p = target.clone();
                                for rest in &full[i + 1..] {
                                    p.push_str("::");
                                    p.push_str(rest);
                                }
                                if let Some(r) = self.resolve(&cand, &p, depth + 1) {
                                    return Some(r);
                                }
                            }
                        }
                        return Some(cand);
                    }
                }
                None
            }
        }

        pub fn graph(src: &Path) -> Graph {
            let mut found = Vec::new();
            files(src, src, &mut found);
            let tree = Tree {
                modules: found.iter().map(|(n, t)| (n.clone(), read(t))).collect(),
            };
            let mut g = Graph::new();
            for (name, m) in &tree.modules {
                let deps = m
                    .uses
                    .iter()
                    .filter_map(|p| tree.resolve(name, p, 0))
                    .filter(|d| d != name)
                    .collect();
                g.insert(name.clone(), deps);
            }
            g
        }

        /// The strongly connected components of more than one module (Tarjan).
        pub fn cycles(g: &Graph) -> Vec<Vec<String>> {
            struct State<'g> {
                g: &'g Graph,
                index: BTreeMap<&'g str, usize>,
                low: BTreeMap<&'g str, usize>,
                stack: Vec<&'g str>,
                on: BTreeSet<&'g str>,
                out: Vec<Vec<String>>,
            }
            fn visit<'g>(s: &mut State<'g>, v: &'g str) {
                let i = s.index.len();
                s.index.insert(v, i);
                s.low.insert(v, i);
                s.stack.push(v);
                s.on.insert(v);
                for w in s.g.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if !s.index.contains_key(w) {
                        visit(s, w);
                        let lw = s.low[w];
                        let lv = s.low.get_mut(v).unwrap();
                        *lv = (*lv).min(lw);
                    } else if s.on.contains(w) {
                        let iw = s.index[w];
                        let lv = s.low.get_mut(v).unwrap();
                        *lv = (*lv).min(iw);
                    }
                }
                if s.low[v] == s.index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = s.stack.pop() {
                        s.on.remove(w);
                        comp.push(w.to_string());
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        comp.sort();
                        s.out.push(comp);
                    }
                }
            }
            let mut s = State {
                g,
                index: BTreeMap::new(),
                low: BTreeMap::new(),
                stack: Vec::new(),
                on: BTreeSet::new(),
                out: Vec::new(),
            };
            for v in g.keys() {
                if !s.index.contains_key(v.as_str()) {
                    visit(&mut s, v);
                }
            }
            s.out
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
        out
    }
}
