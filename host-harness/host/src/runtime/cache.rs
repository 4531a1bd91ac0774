//! On-disk cache of compiled components.
//!
//! Compiling the component with Cranelift takes ~100 ms (release) to ~1 s
//! (debug); loading a precompiled artifact takes a few milliseconds. Entries
//! are keyed by the component's SHA-256 and the engine's compatibility hash
//! (wasmtime version and every setting that affects code generation), and each
//! file starts with the SHA-256 of its payload, checked before the payload is
//! handed to wasmtime. The directory is created private (0700): whoever can
//! write it can run native code in the host, like whoever can write the binary.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadReport;
use crate::files::{Access, create_private_dir, write_atomic};

/// Returns the component, compiled or loaded from the cache.
pub fn load(
    engine: &Engine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> anyhow::Result<(Component, LoadReport)> {
    let started = Instant::now();
    let Some(dir) = cache_dir else {
        let component = compile(engine, bytes)?;
        return Ok((
            component,
            LoadReport {
                compiled: true,
                load_time: started.elapsed(),
            },
        ));
    };
    let path = entry_path(engine, bytes, dir);
    if let Some(component) = read_entry(engine, &path) {
        return Ok((
            component,
            LoadReport {
                compiled: false,
                load_time: started.elapsed(),
            },
        ));
    }
    let serialized = engine
        .precompile_component(bytes)
        .map_err(anyhow::Error::from)
        .context("the component could not be compiled")?;
    // SAFETY: these bytes were produced just now by `precompile_component` on this engine.
    let component = unsafe { Component::deserialize(engine, &serialized) }?;
    let load_time = started.elapsed();
    if let Err(e) = write_entry(dir, &path, &serialized) {
        tracing::warn!(error = %e, dir = %dir.display(), "could not write the compiled-component cache");
    }
    Ok((
        component,
        LoadReport {
            compiled: true,
            load_time,
        },
    ))
}

fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("the component could not be compiled")
}

/// `<dir>/<component sha256>-<engine hash>.cwasm`
pub fn entry_path(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let component = hex::encode(Sha256::digest(bytes));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!("{component}-{:016x}.cwasm", hasher.finish()))
}

fn read_entry(engine: &Engine, path: &Path) -> Option<Component> {
    let file = std::fs::read(path).ok()?;
    let (digest, payload) = file.split_at_checked(32)?;
    if Sha256::digest(payload).as_slice() != digest {
        tracing::warn!(path = %path.display(), "cached component failed its integrity check; recompiling");
        return None;
    }
    // SAFETY: the payload is byte-for-byte what `precompile_component` wrote
    // (checked above), for an engine with the same compatibility hash (the
    // file name); wasmtime re-checks the engine settings in its header.
    match unsafe { Component::deserialize(engine, payload) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cached component rejected; recompiling");
            None
        }
    }
}

fn write_entry(dir: &Path, path: &Path, serialized: &[u8]) -> std::io::Result<()> {
    create_private_dir(dir)?;
    let digest = Sha256::digest(serialized);
    write_atomic(path, &[&digest, serialized], Access::Private)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        super::super::engine(&super::super::Limits {
            max_instances: 4,
            ..Default::default()
        })
        .unwrap()
    }

    // The smallest valid component.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn the_second_load_comes_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        let (_, first) = load(&engine, EMPTY_COMPONENT, Some(dir.path())).unwrap();
        let (_, second) = load(&engine, EMPTY_COMPONENT, Some(dir.path())).unwrap();
        assert!(first.compiled);
        assert!(!second.compiled);
    }

    #[test]
    fn a_tampered_entry_is_recompiled_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        load(&engine, EMPTY_COMPONENT, Some(dir.path())).unwrap();
        let path = entry_path(&engine, EMPTY_COMPONENT, dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let (_, report) = load(&engine, EMPTY_COMPONENT, Some(dir.path())).unwrap();
        assert!(report.compiled);
    }

    #[cfg(unix)]
    #[test]
    fn the_cache_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("cache");
        load(&engine(), EMPTY_COMPONENT, Some(&dir)).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
