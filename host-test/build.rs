//! Builds the node's two components (`wasm32-wasip2`) so
//! that the host, its CLI and every test embed the components of this very
//! checkout: the full world (`node-component`) and, with the guest crate's
//! `portable` feature, the WASI-only world (`node-portable`).
//!
//! As `wstd`'s test programs do: a nested cargo with its own target dir, with
//! the outer build's target-specific settings removed from its environment.
//! It shares cargo's jobserver, so it does not oversubscribe the machine.
//!
//! Profiles: an optimising host (`--release`, `cargo bench`, `cargo
//! install`) embeds the `guest` profile's full component (fat LTO,
//! opt-level 3); a debug host (`cargo test`, `cargo run`) the `guest-quick`
//! one (no LTO, incremental), which builds in a fraction of the time. The
//! variable `PINPOINT_GUEST_PROFILE` (`guest` or `guest-quick`) overrides the
//! choice. The portable component is always built with `guest`: the web
//! page's committed glue is made from it (see `host-test/web/generate`).
//! The build reruns only for files that go into a component (see
//! [`component_sources`]), so a unit test in a file of its own changes
//! without rebuilding either component.
//!
//! A toolchain without the `wasm32-wasip2` target gets it through rustup,
//! once, with a warning saying so: the README's first command works on a
//! toolchain as rustup installs it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// The guest profile for optimised hosts (release builds, benches,
/// `cargo install`): what users and the benches run.
const OPTIMISED: &str = "guest";
/// The guest profile for debug hosts (`cargo test`, `cargo run`): the same
/// code without fat LTO, built in a fraction of the time.
const QUICK: &str = "guest-quick";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").ok_or("cargo sets CARGO_MANIFEST_DIR")?,
    );
    let root = manifest_dir
        .parent()
        .ok_or("host-test lives in the workspace")?
        .to_path_buf();
    // Only what goes into a component: the files of the guest's module tree
    // (test-only modules left out), what they include, the WIT and the build
    // settings. A unit test in its own file can change without a rebuild.
    let mut watched = component_sources(&root.join("src"))?;
    for file in ["wit", "Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        watched.insert(root.join(file));
    }
    // Relative to this package (cargo resolves them from here): a copy of
    // the workspace, such as a git worktree sharing a copied target dir,
    // then watches its own sources, not the ones first built.
    for path in &watched {
        let relative = path
            .strip_prefix(&root)
            .map_or_else(|_| path.clone(), |p| Path::new("..").join(p));
        println!("cargo:rerun-if-changed={}", relative.display());
    }
    println!("cargo:rerun-if-env-changed=PINPOINT_GUEST_PROFILE");
    let profile = guest_profile()?;
    // The portable component is always the optimised one: the browser page's
    // committed jco glue (host-test/web/generated/) is made from it, and jco's
    // glue follows the component's internal layout, which LTO changes.
    let variants = [
        ("PINPOINT_NODE_WASM", "guest", profile, None),
        (
            "PINPOINT_NODE_PORTABLE_WASM",
            "guest-portable",
            OPTIMISED,
            Some("portable"),
        ),
    ];
    let mut target_checked = false;
    for (variable, dir, profile, feature) in variants {
        println!("cargo:rerun-if-env-changed={variable}");
        // A prebuilt component may be given instead (packagers, cross builds).
        let wasm = match std::env::var_os(variable) {
            Some(prebuilt) => PathBuf::from(prebuilt),
            None => {
                if !target_checked {
                    ensure_target()?;
                    target_checked = true;
                }
                build(&root, &root.join("target").join(dir), profile, feature)?
            }
        };
        println!("cargo:rustc-env={variable}={}", wasm.display());
    }
    Ok(())
}

/// The guest profile: `PINPOINT_GUEST_PROFILE` when set, else the optimised
/// one for a host built with an optimising profile and the quick one for a
/// debug host.
fn guest_profile() -> Result<&'static str, String> {
    match std::env::var("PINPOINT_GUEST_PROFILE").ok().as_deref() {
        Some(OPTIMISED) => Ok(OPTIMISED),
        Some(QUICK) => Ok(QUICK),
        Some(other) => Err(format!(
            "PINPOINT_GUEST_PROFILE is {other:?}; expected {OPTIMISED:?} or {QUICK:?}"
        )),
        None => Ok(match std::env::var("PROFILE").as_deref() {
            Ok("release") => OPTIMISED,
            _ => QUICK,
        }),
    }
}

/// The files of the guest crate's module tree, from `src/lib.rs` through its
/// `mod` declarations, leaving out modules declared only for tests or the
/// oracle (`#[cfg(test)]`, `#[cfg(feature = "oracle")]`,
/// `#[cfg(any(test, feature = "oracle"))]`), plus the files they
/// `include_str!`/`include_bytes!` outside an inline test module.
///
/// Any other `cfg` (a world, a target) is kept: a file watched too many costs
/// a rebuild, a file missed would embed a stale component.
fn component_sources(src: &Path) -> Result<BTreeSet<PathBuf>, String> {
    let mut files = BTreeSet::new();
    let mut pending = vec![src.join("lib.rs")];
    while let Some(file) = pending.pop() {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("could not read {}: {e}", file.display()))?;
        // `lib.rs` and `mod.rs` own their folder; `x.rs` owns `x/`.
        let dir = match file.file_name().and_then(|n| n.to_str()) {
            Some("lib.rs" | "mod.rs") => file.parent().map(Path::to_path_buf),
            _ => Some(file.with_extension("")),
        }
        .ok_or_else(|| format!("{} has no folder", file.display()))?;
        let here = file.parent().unwrap_or(src);
        let mut attributes: Vec<&str> = Vec::new();
        // Inside an inline test module (rustfmt closes a top-level item with
        // a `}` in the first column, and nothing inside it starts there).
        let mut in_test_module = false;
        for raw in text.lines() {
            if in_test_module {
                in_test_module = raw != "}";
                continue;
            }
            let top_level = !raw.starts_with(char::is_whitespace);
            let line = raw.trim();
            if line.starts_with("#[") {
                attributes.push(line);
                continue;
            }
            let test_only = attributes.iter().any(|a| {
                matches!(
                    a.replace(' ', "").as_str(),
                    "#[cfg(test)]"
                        | "#[cfg(feature=\"oracle\")]"
                        | "#[cfg(any(test,feature=\"oracle\"))]"
                )
            });
            if top_level && test_only && is_inline_module(line) {
                in_test_module = true;
            } else if let Some(name) = module_file(line).filter(|_| top_level) {
                if !test_only {
                    let child = match attributes.iter().find_map(|a| quoted_after(a, "#[path")) {
                        Some(path) => here.join(path),
                        None => {
                            let flat = dir.join(format!("{name}.rs"));
                            if flat.exists() {
                                flat
                            } else {
                                dir.join(name).join("mod.rs")
                            }
                        }
                    };
                    pending.push(child);
                }
            } else {
                for macro_name in ["include_str!(", "include_bytes!("] {
                    if let Some(included) = quoted_after(line, macro_name) {
                        files.insert(here.join(included));
                    }
                }
            }
            if !line.is_empty() && !line.starts_with("//") {
                attributes.clear();
            }
        }
        files.insert(file);
    }
    Ok(files)
}

/// The module name of an out-of-line `mod name;` declaration.
fn module_file(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    let name = rest.strip_prefix("mod ")?.strip_suffix(';')?.trim();
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

/// Whether `line` opens an inline module (`mod name {`).
fn is_inline_module(line: &str) -> bool {
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    rest.starts_with("mod ") && rest.ends_with('{')
}

/// The first double-quoted string after `marker` in `line`.
fn quoted_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(&rest[start..start + len])
}

/// Builds the guest crate for the component target into `target_dir` with
/// the guest profile `profile`.
fn build(
    root: &Path,
    target_dir: &Path,
    profile: &str,
    feature: Option<&str>,
) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--locked",
            "-p",
            "pinpoint-segment-import",
            "--lib",
        ])
        .args(["--target", TARGET, "--profile", profile, "--target-dir"])
        .arg(target_dir);
    if let Some(feature) = feature {
        command.args(["--features", feature]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    // Wasm SIMD (16 bytes per comparison in the CSV reader's scan): every
    // runtime the tests prove runs it (wasmtime, and V8 under Node.js
    // through jco), as does wassette. Set for the component target only.
    command.env(
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-Ctarget-feature=+simd128",
    );
    let status = command
        .status()
        .map_err(|e| format!("could not run cargo to build the component: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the component{} failed (see the errors above)",
            feature
                .map(|f| format!(" with feature {f}"))
                .unwrap_or_default()
        ));
    }
    let wasm = target_dir
        .join(TARGET)
        .join(profile)
        .join("pinpoint_segment_import.wasm");
    if !wasm.exists() {
        return Err(format!(
            "the component was not produced at {}",
            wasm.display()
        ));
    }
    Ok(wasm)
}

/// Adds the component target to the toolchain through rustup when the
/// toolchain lacks it (rustup installs a `rust-toolchain.toml`'s targets only
/// with a toolchain it installs, not into one already there).
fn ensure_target() -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("could not run rustc: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib").join("rustlib").join(TARGET).exists() {
        return Ok(());
    }
    println!(
        "cargo:warning=the toolchain lacks the {TARGET} target the component is built for; adding it with `rustup target add {TARGET}` (once)"
    );
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(toolchain) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    match rustup.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(format!(
            "`rustup target add {TARGET}` failed: add the target to your toolchain and build again"
        )),
        Err(e) => Err(format!(
            "the toolchain lacks the {TARGET} target and rustup could not be run ({e}): install the target for your toolchain and build again"
        )),
    }
}
