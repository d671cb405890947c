//! The engine's modules may not import each other in a circle: a cycle means two modules are
//! one concern split in two, or a leaf has grown a dependency on what uses it. This reads every
//! `crate::` path in `core/src` and reports each strongly connected group of modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The module path of a source file under `src` (`wire/packed/mod.rs` → `wire::packed`).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, base, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let rel = path.strip_prefix(base).map_err(|e| e.to_string())?;
            out.push((module_of(rel), text));
        }
    }
    Ok(())
}

/// The `crate::a::b...` paths a text names.
fn crate_paths(text: &str) -> Vec<&str> {
    text.match_indices("crate::")
        .filter_map(|(i, m)| text.get(i + m.len()..))
        .map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest.get(..end).unwrap_or_default().trim_end_matches(':')
        })
        .collect()
}

/// Groups of modules of `src` that import each other in a circle.
pub fn cycles(src: &Path) -> Result<Vec<Vec<String>>, String> {
    let mut files = Vec::new();
    sources(src, src, &mut files)?;
    let mut names: Vec<String> = files
        .iter()
        .map(|(m, _)| m.clone())
        .filter(|m| !m.is_empty())
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        if module.is_empty() {
            continue;
        }
        let edges = graph.entry(module.clone()).or_default();
        for path in crate_paths(text) {
            let Some(target) = names
                .iter()
                .find(|n| path == n.as_str() || path.starts_with(&format!("{n}::")))
            else {
                continue;
            };
            // A parent naming its child, or a child its parent, is the module tree itself.
            let nested = module.starts_with(&format!("{target}::"))
                || target.starts_with(&format!("{module}::"));
            if target != module && !nested {
                edges.insert(target.clone());
            }
        }
    }
    Ok(strongly_connected(&graph))
}

/// Tarjan's algorithm; only groups of two or more modules are returned.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low.get(w).copied().unwrap_or(usize::MAX);
                if let Some(lv) = s.low.get_mut(v) {
                    *lv = (*lv).min(lw);
                }
            } else if s.on_stack.contains(w) {
                let iw = s.index.get(w).copied().unwrap_or(usize::MAX);
                if let Some(lv) = s.low.get_mut(v) {
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low.get(v) == s.index.get(v) {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.out.push(group);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cycle_and_ignores_the_module_tree() {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let edge = |g: &mut BTreeMap<String, BTreeSet<String>>, a: &str, b: &str| {
            g.entry(a.into()).or_default().insert(b.into());
            g.entry(b.into()).or_default();
        };
        edge(&mut g, "config", "codes::single_use");
        edge(&mut g, "codes::single_use", "config");
        edge(&mut g, "rules::policy", "config");
        assert_eq!(
            strongly_connected(&g),
            vec![vec!["codes::single_use".to_owned(), "config".to_owned()]]
        );
        assert_eq!(
            crate_paths("use crate::wire::json::nullable;\n crate::config::X"),
            vec!["wire::json::nullable", "config::X"]
        );
    }
}
