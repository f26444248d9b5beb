//! Builds the node component (`wasm32-wasip2`, profile `guest`) so that the
//! host, its CLI and every test embed the component of this very checkout.
//!
//! As `wstd`'s test programs do: a nested cargo with its own target dir, with
//! the outer build's target-specific settings removed from its environment.
//! It shares cargo's jobserver, so it does not oversubscribe the machine.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest_dir
        .parent()
        .expect("host-test lives in the workspace")
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
    println!("cargo:rerun-if-env-changed=PINPOINT_NODE_WASM");

    // A prebuilt component may be given instead (packagers, cross builds).
    if let Some(prebuilt) = std::env::var_os("PINPOINT_NODE_WASM") {
        println!(
            "cargo:rustc-env=PINPOINT_NODE_WASM={}",
            PathBuf::from(prebuilt).display()
        );
        return;
    }

    let target_dir = root.join("target").join("guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args([
            "build",
            "--locked",
            "-p",
            "pinpoint-segment-import",
            "--lib",
        ])
        .args([
            "--target",
            "wasm32-wasip2",
            "--profile",
            "guest",
            "--target-dir",
        ])
        .arg(&target_dir);
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
        .expect("could not run cargo to build the component");
    assert!(
        status.success(),
        "building the component failed; is the target installed? run `rustup target add wasm32-wasip2`"
    );
    let wasm = target_dir
        .join("wasm32-wasip2")
        .join("guest")
        .join("pinpoint_segment_import.wasm");
    assert!(
        wasm.exists(),
        "the component was not produced at {}",
        wasm.display()
    );
    println!("cargo:rustc-env=PINPOINT_NODE_WASM={}", wasm.display());
}
