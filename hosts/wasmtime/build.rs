//! Builds the stepup component (and the hostile test fixture) for `wasm32-unknown-unknown`
//! with rustc's `wasm-component-ld`, so the component is part of the normal workspace build.
//! The linker setting is scoped to this nested build: it must not reach wasm-bindgen builds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn build(root: &Path, package: &str, lib: &str, out: &Path) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = root.join("target").join("component");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "rustc",
            "--locked",
            "-p",
            package,
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "component",
            "--crate-type",
            "cdylib",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER",
            "wasm-component-ld",
        );
    // Flags and wrappers meant for the host build (clippy, coverage) must not leak in.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building {package} for wasm32-unknown-unknown failed ({status}); is the target installed? `rustup target add wasm32-unknown-unknown`"
        ));
    }
    let built = target_dir
        .join("wasm32-unknown-unknown")
        .join("component")
        .join(format!("{lib}.wasm"));
    std::fs::copy(&built, out.join(format!("{lib}.wasm")))
        .map_err(|e| format!("copy {}: {e}", built.display()))?;
    Ok(())
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("..").join("..");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default());
    for p in [
        "wit",
        "core/src",
        "core/Cargo.toml",
        "bindings/component",
        "tests/fixtures/hostile-guest",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    for (package, lib) in [
        ("stepup-component", "stepup_component"),
        ("stepup-hostile-guest", "stepup_hostile_guest"),
    ] {
        if let Err(e) = build(&root, package, lib, &out) {
            println!("cargo:warning={e}");
            std::process::exit(1);
        }
    }
}
