//! The files of `src/` import each other without a cycle.
//!
//! The graph: one node per file of `src/` (a module; an inline `mod` such
//! as `mod tests { .. }` belongs to its file). There is an edge from file A
//! to file B when the code of A (comments and string and character literals
//! left out) names something defined in B through a path of this crate:
//! - a path starting with `crate::`, `super::` or `self::`, or with the name
//!   of a child module of the current module, or with a name a `use` of this
//!   file bound to a module of this crate (`model::Field` after
//!   `use super::model;`);
//! - every leaf of a `use` item (`use super::{a, b::c};`), a module named
//!   as a whole included (`use super::model;` is an edge to `model`'s file).
//!
//! A path goes to the file of the longest module it names (`crate::a::b::X`:
//! the file of `a::b`); when that module only imports the item (`use
//! child::X;`, `pub use ..`), to the file that defines it, following the
//! imports.
//! Declaring a child (`mod child;`) is not an edge, nor is a module
//! re-exporting an item of one of its own descendants (`pub use child::X;`
//! in the parent): that is the parent showing its children's items, not
//! using them. A `pub use` of anything else is an edge like any `use`.
//! Edges of a file to itself (a test module's `use super::*;`) are left out.
//!
//! The test fails naming each cycle (a strongly connected set of files, and
//! one circle through them) that is not on [`ALLOWED`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Cycles tolerated for now, each the set of files it joins (none today).
/// An entry must match a cycle exactly: the test also fails for an entry no
/// longer found (remove it then).
const ALLOWED: &[&[&str]] = &[];

/// A module path relative to the crate root (`["endpoints", "draft"]`).
type ModPath = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`, with its module path.
fn files(dir: &Path, out: &mut BTreeMap<String, ModPath>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(src()).unwrap();
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let last = parts.pop().unwrap();
            let stem = last.trim_end_matches(".rs");
            if !(stem == "mod" || (parts.is_empty() && stem == "lib")) {
                parts.push(stem.to_owned());
            }
            out.insert(rel.to_string_lossy().replace('\\', "/"), parts);
        }
    }
}

/// `text` with comments, strings and character literals blanked out (line
/// breaks kept), so that only code is scanned.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while let Some(&c) = b.get(i) {
                if c == '\n' {
                    break;
                }
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while let Some(&c) = b.get(i) {
                if c == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c);
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"..", r#".."#: its closing quote and hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&c) => blank(&mut out, c),
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while let Some(&c) = b.get(i) {
                i += 1;
                match c {
                    '\\' => i += 1,
                    '"' => break,
                    c => blank(&mut out, c),
                }
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1}'), or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while b.get(i).is_some_and(|c| *c != '\'') {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// One `use` item, flattened: each leaf path, and the name it binds.
fn use_leaves(toks: &[String], prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    // `toks` is one use tree (no trailing `;`), split at top-level commas.
    let mut i = 0;
    let mut path = prefix.clone();
    while let Some(t) = toks.get(i) {
        match t.as_str() {
            "::" => {}
            "{" => {
                // The group runs to its matching brace.
                let mut depth = 0;
                let mut j = i;
                let mut start = i + 1;
                while let Some(t) = toks.get(j) {
                    match t.as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                if start < j {
                                    use_leaves(&toks[start..j], &mut path.clone(), out);
                                }
                                break;
                            }
                        }
                        "," if depth == 1 => {
                            if start < j {
                                use_leaves(&toks[start..j], &mut path.clone(), out);
                            }
                            start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                return;
            }
            "as" => {
                let alias = toks.get(i + 1).cloned().unwrap_or_default();
                out.push((path, alias));
                return;
            }
            "self" if !path.is_empty() => {}
            "*" => {
                out.push((path, "*".to_owned()));
                return;
            }
            name => path.push(name.to_owned()),
        }
        i += 1;
    }
    let name = path.last().cloned().unwrap_or_default();
    if !path.is_empty() {
        out.push((path, name));
    }
    let _ = prefix;
}

/// What one file's code refers to.
#[derive(Default)]
struct Scan {
    /// Paths named, resolved to absolute module paths (item name last).
    uses: Vec<ModPath>,
    /// Every `use` leaf: the name it binds in this module and its absolute
    /// target (a path through that name leads on to the target).
    aliases: Vec<(String, ModPath)>,
}

/// Resolves the start of `path` (seen in module `scope`) to an absolute path,
/// or `None` for a path outside this crate.
fn absolute(
    path: &[String],
    scope: &[String],
    modules: &BTreeSet<ModPath>,
    bound: &HashMap<String, ModPath>,
) -> Option<ModPath> {
    let first = path.first()?;
    let mut base: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => scope.to_vec(),
        "super" => {
            let mut base = scope.to_vec();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        name => {
            let mut child = scope.to_vec();
            child.push(name.to_owned());
            if modules.contains(&child) {
                child.extend(path[1..].iter().cloned());
                return Some(child);
            }
            let mut target = bound.get(name)?.clone();
            target.extend(path[1..].iter().cloned());
            return Some(target);
        }
    };
    base.extend(path[1..].iter().cloned());
    Some(base)
}

fn scan(text: &str, file_module: &[String], modules: &BTreeSet<ModPath>) -> Scan {
    let toks = tokens(&code_only(text));
    let mut scan = Scan::default();
    // Inline modules: (module path, brace depth at which it closes).
    let mut scopes: Vec<(ModPath, usize)> = vec![(file_module.to_vec(), 0)];
    let mut depth = 0usize;
    // Names bound by `use` to modules of this crate, per file (close enough:
    // test modules bind the same names as their file).
    let mut bound: HashMap<String, ModPath> = HashMap::new();
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        let scope = scopes.last().map(|s| s.0.clone()).unwrap_or_default();
        match t.as_str() {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 == depth) {
                    scopes.pop();
                }
            }
            "mod" => {
                if let (Some(name), Some(open)) = (toks.get(i + 1), toks.get(i + 2))
                    && open == "{"
                {
                    let mut inner = scope.clone();
                    inner.push(name.clone());
                    scopes.push((inner, depth));
                }
            }
            "use" => {
                let public = i > 0 && matches!(toks[i - 1].as_str(), "pub" | ")");
                let end = (i..toks.len())
                    .find(|j| toks[*j] == ";")
                    .unwrap_or(toks.len());
                let mut leaves = Vec::new();
                use_leaves(&toks[i + 1..end], &mut Vec::new(), &mut leaves);
                for (path, name) in leaves {
                    let Some(target) = absolute(&path, &scope, modules, &bound) else {
                        continue;
                    };
                    if name != "*" && modules.contains(&target) {
                        bound.insert(name.clone(), target.clone());
                    }
                    let own = target.len() > scope.len() && target.starts_with(&scope);
                    if scope == file_module && name != "*" {
                        scan.aliases.push((name, target.clone()));
                    }
                    if !(public && own) {
                        scan.uses.push(target);
                    }
                }
                i = end;
                continue;
            }
            _ => {
                let prev = i.checked_sub(1).map(|p| toks[p].as_str());
                let starts_path = toks.get(i + 1).is_some_and(|n| n == "::")
                    && prev != Some("::")
                    && prev != Some("$")
                    && t.chars()
                        .next()
                        .is_some_and(|c| c.is_alphabetic() || c == '_');
                if starts_path {
                    let mut path = vec![t.clone()];
                    let mut j = i + 1;
                    while toks.get(j).is_some_and(|s| s == "::")
                        && let Some(next) = toks.get(j + 1)
                        && next
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        path.push(next.clone());
                        j += 2;
                    }
                    if let Some(target) = absolute(&path, &scope, modules, &bound) {
                        scan.uses.push(target);
                    }
                    i = j;
                    continue;
                }
            }
        }
        i += 1;
    }
    scan
}

/// The file that defines what `path` names, following re-exports.
fn defining_file(
    path: &[String],
    modules: &BTreeMap<ModPath, String>,
    aliases: &HashMap<ModPath, HashMap<String, ModPath>>,
    hops: usize,
) -> Option<String> {
    let module_len = (0..=path.len())
        .rev()
        .find(|n| modules.contains_key(&path[..*n]))?;
    let module = &path[..module_len];
    if hops < 16
        && let Some(item) = path.get(module_len)
        && let Some(target) = aliases.get(module).and_then(|r| r.get(item))
    {
        let mut next = target.clone();
        next.extend(path[module_len + 1..].iter().cloned());
        return defining_file(&next, modules, aliases, hops + 1);
    }
    modules.get(module).cloned()
}

/// The import graph of `src/`: file -> the files it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut by_file = BTreeMap::new();
    files(&src(), &mut by_file);
    let modules: BTreeMap<ModPath, String> = by_file
        .iter()
        .map(|(f, m)| (m.clone(), f.clone()))
        .collect();
    let module_set: BTreeSet<ModPath> = modules.keys().cloned().collect();
    let scans: BTreeMap<String, Scan> = by_file
        .iter()
        .map(|(file, module)| {
            let text = std::fs::read_to_string(src().join(file)).unwrap();
            (file.clone(), scan(&text, module, &module_set))
        })
        .collect();
    let mut aliases: HashMap<ModPath, HashMap<String, ModPath>> = HashMap::new();
    for (file, s) in &scans {
        let module = by_file[file].clone();
        for (name, target) in &s.aliases {
            aliases
                .entry(module.clone())
                .or_default()
                .insert(name.clone(), target.clone());
        }
    }
    let mut graph = BTreeMap::new();
    for (file, s) in &scans {
        let edges: BTreeSet<String> = s
            .uses
            .iter()
            .filter_map(|p| defining_file(p, &modules, &aliases, 0))
            .filter(|to| to != file)
            .collect();
        graph.insert(file.clone(), edges);
    }
    graph
}

/// The strongly connected sets of more than one file (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'g str, usize>,
        low: HashMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                set.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                s.out.push(set);
            }
        }
    }
    let mut s = State {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// One circle through the files of `set`, from its first file and back.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, set: &BTreeSet<String>) -> Vec<String> {
    let start = set.iter().next().cloned().unwrap_or_default();
    // Breadth-first from `start` until an edge leads back to it.
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(&v).into_iter().flatten() {
            if !set.contains(w) {
                continue;
            }
            if *w == start {
                let mut path = vec![start.clone(), v.clone()];
                let mut at = v.clone();
                while let Some(prev) = came_from.get(&at) {
                    path.push(prev.clone());
                    at = prev.clone();
                }
                path.reverse();
                return path;
            }
            if *w != start && !came_from.contains_key(w) {
                came_from.insert(w.clone(), v.clone());
                queue.push_back(w.clone());
            }
        }
    }
    vec![start]
}

#[test]
fn the_files_of_src_import_each_other_without_a_cycle() {
    let graph = graph();
    let allowed: Vec<BTreeSet<String>> = ALLOWED
        .iter()
        .map(|files| files.iter().map(|f| (*f).to_owned()).collect())
        .collect();
    let found = cycles(&graph);
    let mut failures = Vec::new();
    for set in &found {
        if !allowed.contains(set) {
            failures.push(format!(
                "import cycle among {set:?}: {}",
                circle(&graph, set).join(" -> ")
            ));
        }
    }
    for set in &allowed {
        if !found.contains(set) {
            failures.push(format!(
                "the allowed cycle {set:?} is gone (or changed): remove its entry from ALLOWED"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_graph_sees_each_kind_of_edge() {
    let modules: BTreeSet<ModPath> = [
        vec![],
        vec!["a".to_owned()],
        vec!["a".to_owned(), "b".to_owned()],
        vec!["a".to_owned(), "c".to_owned()],
    ]
    .into_iter()
    .collect();
    let a = vec!["a".to_owned()];
    let text = r#"
        //! Doc: crate::nothing::here
        mod b;
        pub use b::Shown;
        use c::{Used, inner::{Deep}};
        fn f() { let _ = "crate::in_string::X"; b::call(); super::Root; }
        mod tests { use super::*; use super::c::T; }
    "#;
    let s = scan(text, &a, &modules);
    let uses: Vec<String> = s.uses.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        uses,
        [
            "a::c::Used",
            "a::c::inner::Deep",
            "a::b::call",
            "Root",
            "a",
            "a::c::T"
        ]
    );
    let shown = (
        "Shown".to_owned(),
        vec!["a".into(), "b".into(), "Shown".into()],
    );
    assert_eq!(s.aliases[0], shown);
    // A parent re-exporting a child's item sends users to the child.
    let modules: BTreeMap<ModPath, String> = [
        (vec![], "lib.rs".to_owned()),
        (a.clone(), "a/mod.rs".to_owned()),
        (vec!["a".into(), "b".into()], "a/b.rs".to_owned()),
    ]
    .into_iter()
    .collect();
    let aliases = HashMap::from([(a.clone(), s.aliases.into_iter().collect())]);
    let path: ModPath = vec!["a".into(), "Shown".into()];
    assert_eq!(
        defining_file(&path, &modules, &aliases, 0).as_deref(),
        Some("a/b.rs")
    );
}
