//! Provides the stepup component this crate embeds.
//!
//! In the stepup workspace the component is built from source (`bindings/component`, for
//! `wasm32-unknown-unknown` with rustc's `wasm-component-ld`), so it is part of the normal
//! workspace build and always matches `stepup-core`. Built from its packaged form (a crate
//! registry, `cargo package`'s verification, a vendored copy) there is no workspace to build in:
//! the crate ships the component the workspace built (`prebuilt/stepup_component.wasm`, put
//! there by `scripts/package-crates.sh`), and that is what it embeds.
//!
//! The hostile test guest (feature `test-fixtures`) exists only in the workspace.
//! The linker setting is scoped to the nested build: it must not reach wasm-bindgen builds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const COMPONENT: &str = "stepup_component";
const HOSTILE: &str = "stepup_hostile_guest";

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
    copy(&built, &out.join(format!("{lib}.wasm")))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {}: {e}", from.display()))
}

/// The stepup workspace this crate sits in, if it does: the crate is `<root>/hosts/wasmtime`
/// and the root holds the component's sources.
fn workspace_root(manifest: &Path) -> Option<PathBuf> {
    let root = manifest.parent()?.parent()?;
    let is_ours = root.join("bindings/component/Cargo.toml").is_file()
        && root.join("core/Cargo.toml").is_file()
        && root.join("hosts/wasmtime").canonicalize().ok()? == manifest.canonicalize().ok()?;
    is_ours.then(|| root.to_path_buf())
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default());
    let fixtures = env::var_os("CARGO_FEATURE_TEST_FIXTURES").is_some();
    let Some(root) = workspace_root(&manifest) else {
        let prebuilt = manifest.join("prebuilt").join(format!("{COMPONENT}.wasm"));
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        if fixtures {
            return Err(
                "the `test-fixtures` feature needs the stepup workspace (the hostile guest is not shipped)"
                    .into(),
            );
        }
        return copy(&prebuilt, &out.join(format!("{COMPONENT}.wasm"))).map_err(|e| {
            format!("{e}: this packaged crate should carry its prebuilt component; repackage it with scripts/package-crates.sh")
        });
    };
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
    build(&root, "stepup-component", COMPONENT, &out)?;
    if fixtures {
        build(&root, "stepup-hostile-guest", HOSTILE, &out)?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        println!("cargo:warning={e}");
        std::process::exit(1);
    }
}
