//! Builds the connector component (the root package) for `wasm32-wasip2`
//! and embeds it, so that a plain `cargo build` / `cargo test` works on a
//! fresh clone.
//!
//! The guest gets its own target directory next to the host's, so the nested
//! cargo never waits on the lock the outer cargo holds, and debug and release
//! host builds share one guest build. (The hostile test guest is built by the
//! end-to-end tests themselves, never by a production build.)

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";
const GUEST_PROFILE: &str = "guest-release";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host-harness/host sits two levels below the workspace root")
        .to_path_buf();
    for path in ["src", "wit", "build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=WHATSAPP_CONNECTOR_WASM");

    let target_dir = guest_target_dir();
    // Packagers may supply a prebuilt component instead.
    let connector = match env::var_os("WHATSAPP_CONNECTOR_WASM") {
        Some(path) => PathBuf::from(path),
        None => build_guest(&root.join("Cargo.toml"), &target_dir, "whatsapp_connector"),
    };
    println!("cargo:rustc-env=CONNECTOR_WASM={}", connector.display());
}

/// `<cargo target dir>/wasm-guests`: found by walking up from OUT_DIR to the
/// directory cargo marks with CACHEDIR.TAG.
fn guest_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(|target| target.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"))
}

fn build_guest(manifest: &Path, target_dir: &Path, artifact: &str) -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--target",
            GUEST_TARGET,
            "--profile",
            GUEST_PROFILE,
        ])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags and wrappers (clippy, coverage) are for the host only.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build {artifact}: {e}"));
    if !status.success() {
        panic!(
            "building the {artifact} component failed (see the errors above). If the target is \
             missing, install it with `rustup target add {GUEST_TARGET}`."
        );
    }
    let wasm = target_dir
        .join(GUEST_TARGET)
        .join(GUEST_PROFILE)
        .join(format!("{artifact}.wasm"));
    assert!(wasm.is_file(), "{} was not produced", wasm.display());
    wasm
}
