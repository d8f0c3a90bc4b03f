//! kmsdoctor: why a KMS key policy locks people out, who can still get back in, and how.
//!
//! Data flows one way: `cli` (flags) -> `config` (resolved settings) -> `evidence` (all I/O)
//! -> `analysis` (pure) -> `report` (rendering).

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
