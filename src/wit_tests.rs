//! The published WIT never changes in place: every version of the package
//! `pinpoint:segment-import` is kept in `wit/published/VERSION/world.wit`
//! with its SHA-256 in `wit/published/SHA256SUMS`, and `wit/world.wit` is
//! the published copy of its own version. A change to the interface is a
//! new version: a new folder, a new line in the sums.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")
}

/// The `package pinpoint:segment-import@VERSION;` of a WIT text.
fn version(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("package pinpoint:segment-import@"))
        .and_then(|v| v.strip_suffix(';'))
}

#[test]
fn published_versions_are_unchanged() {
    let published = wit().join("published");
    let sums = std::fs::read_to_string(published.join("SHA256SUMS")).unwrap();
    let mut listed = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sum, file) = line.split_once("  ").unwrap();
        let text = std::fs::read_to_string(published.join(file)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(text.as_bytes())),
            sum,
            "{file} changed after it was published: add a new version instead"
        );
        let dir = file.split('/').next().unwrap();
        assert_eq!(version(&text), Some(dir), "{file} holds its own version");
        listed.push(dir.to_owned());
    }
    let mut dirs: Vec<String> = std::fs::read_dir(&published)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    listed.sort();
    assert_eq!(dirs, listed, "every published version is in SHA256SUMS");
}

#[test]
fn the_current_wit_is_its_versions_published_copy() {
    let current = std::fs::read_to_string(wit().join("world.wit")).unwrap();
    let v = version(&current).unwrap();
    let published = std::fs::read_to_string(wit().join("published").join(v).join("world.wit"))
        .unwrap_or_else(|_| panic!("wit/world.wit is version {v}, which is not in wit/published/"));
    assert!(
        current == published,
        "wit/world.wit differs from the published {v}: a change to the interface needs a new version"
    );
}
