//! The documentation's own checks: the README stays a front door (under 300
//! lines, linking every page of `docs/`), every relative link and anchor
//! resolves, and every shell block says what runs it.
//!
//! A shell block (```` ```sh ````) is preceded by a comment
//! `<!-- run-by: WHO -->`, where `WHO` is a comma-separated list of tests,
//! each `path/to/file.rs::function` (the file must define that function), or
//! `.ci/run`, which extracts and runs every block so marked itself (so the
//! README's quick start is run verbatim in CI).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The README and every page of `docs/`, as (path relative to the repo, text).
fn pages() -> Vec<(PathBuf, String)> {
    let root = repo();
    let mut pages = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(&root).unwrap().to_path_buf())
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(root.join(&p)).unwrap();
            (p, text)
        })
        .collect()
}

/// Lines outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, spaces to hyphens, other
/// punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .into_iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| slug(heading.trim_start_matches('#')))
        .collect()
}

/// The targets of the Markdown links `[text](target)` in prose.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn the_readme_is_a_front_door_that_links_every_page() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines < 300,
        "README.md has {lines} lines; move detail to docs/"
    );
    let linked: BTreeSet<String> = links(&readme)
        .into_iter()
        .map(|l| l.split('#').next().unwrap().to_owned())
        .collect();
    for (page, _) in pages().into_iter().skip(1) {
        let page = page.to_str().unwrap().to_owned();
        assert!(linked.contains(&page), "README.md does not link {page}");
    }
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let root = repo();
    let pages = pages();
    for (page, text) in &pages {
        let dir = page.parent().unwrap_or(Path::new(""));
        for link in links(text) {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            let (file, anchor) = match link.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                normalise(&dir.join(file))
            };
            assert!(
                root.join(&target).exists(),
                "{}: the link {link} names {} that does not exist",
                page.display(),
                target.display()
            );
            if let Some(anchor) = anchor {
                let text = std::fs::read_to_string(root.join(&target)).unwrap();
                assert!(
                    anchors(&text).contains(anchor),
                    "{}: the link {link} names an anchor {} lacks",
                    page.display(),
                    target.display()
                );
            }
        }
    }
}

/// `a/../b` as `b`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_shell_block_names_what_runs_it() {
    let root = repo();
    let mut blocks = 0;
    for (page, text) in pages() {
        let lines: Vec<&str> = text.lines().collect();
        let mut fenced = false;
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("```") {
                continue;
            }
            let opens = !fenced;
            fenced = !fenced;
            if !opens || line.trim() != "```sh" {
                continue;
            }
            blocks += 1;
            let marker = lines[..i]
                .iter()
                .rev()
                .take(3)
                .find_map(|l| l.trim().strip_prefix("<!-- run-by: "))
                .and_then(|l| l.strip_suffix(" -->"))
                .unwrap_or_else(|| {
                    panic!(
                        "{} line {}: a shell block without <!-- run-by: ... -->",
                        page.display(),
                        i + 1
                    )
                });
            for who in marker.split(',').map(str::trim) {
                if who == ".ci/run" {
                    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
                    assert!(
                        ci.contains("run-by: .ci/run"),
                        ".ci/run no longer runs the blocks marked for it"
                    );
                    continue;
                }
                let (file, function) = who.split_once("::").unwrap_or_else(|| {
                    panic!("{}: run-by {who} is not FILE::FUNCTION", page.display())
                });
                let source = std::fs::read_to_string(root.join(file))
                    .unwrap_or_else(|e| panic!("{}: run-by names {file}: {e}", page.display()));
                assert!(
                    source.contains(&format!("fn {function}(")),
                    "{}: run-by names {who}, which {file} does not define",
                    page.display()
                );
            }
        }
    }
    assert!(blocks >= 3, "only {blocks} shell blocks found");
}
