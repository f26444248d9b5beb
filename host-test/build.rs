//! Builds the node's two components (`wasm32-wasip2`, profile `guest`) so
//! that the host, its CLI and every test embed the components of this very
//! checkout: the full world (`node-component`) and, with the guest crate's
//! `portable` feature, the WASI-only world (`node-portable`).
//!
//! As `wstd`'s test programs do: a nested cargo with its own target dir, with
//! the outer build's target-specific settings removed from its environment.
//! It shares cargo's jobserver, so it does not oversubscribe the machine.
//!
//! A toolchain without the `wasm32-wasip2` target gets it through rustup,
//! once, with a warning saying so: the README's first command works on a
//! toolchain as rustup installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").ok_or("cargo sets CARGO_MANIFEST_DIR")?,
    );
    let root = manifest_dir
        .parent()
        .ok_or("host-test lives in the workspace")?
        .to_path_buf();
    for watched in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let variants = [
        ("PINPOINT_NODE_WASM", "guest", None),
        (
            "PINPOINT_NODE_PORTABLE_WASM",
            "guest-portable",
            Some("portable"),
        ),
    ];
    let mut target_checked = false;
    for (variable, dir, feature) in variants {
        println!("cargo:rerun-if-env-changed={variable}");
        // A prebuilt component may be given instead (packagers, cross builds).
        let wasm = match std::env::var_os(variable) {
            Some(prebuilt) => PathBuf::from(prebuilt),
            None => {
                if !target_checked {
                    ensure_target()?;
                    target_checked = true;
                }
                build(&root, &root.join("target").join(dir), feature)?
            }
        };
        println!("cargo:rustc-env={variable}={}", wasm.display());
    }
    Ok(())
}

/// Builds the guest crate for the component target into `target_dir`.
fn build(root: &Path, target_dir: &Path, feature: Option<&str>) -> Result<PathBuf, String> {
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
        .args(["--target", TARGET, "--profile", "guest", "--target-dir"])
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
        .join("guest")
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
