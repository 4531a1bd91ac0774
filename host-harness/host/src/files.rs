//! Writing files so that a crash or a reader never sees half of one: the one
//! atomic-write helper of the host and the CLI (vault, compile cache, config
//! file updates), and private directories.

use std::fs::{File, Permissions};
use std::io::Write as _;
use std::path::Path;

/// Who may read a file written by [`write_atomic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Owner only (0600 on Unix): secrets, caches of code we run.
    Private,
    /// Keep the permissions of the file being replaced (new files get the
    /// temporary file's default, 0600 on Unix).
    KeepExisting,
}

/// Replaces `path` with `parts` (written one after the other) atomically:
/// a temporary file in the same directory is written, synced, renamed over
/// `path`, and the directory is synced so the rename survives a crash.
pub fn write_atomic(path: &Path, parts: &[&[u8]], access: Access) -> std::io::Result<()> {
    write_atomic_steps(path, parts, access).map_err(|(_, e)| e)
}

/// The step of [`write_atomic`] that failed, for callers whose messages say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteStep {
    /// Creating the temporary file in the directory ([`parent_dir`]).
    CreateTemporary,
    /// Writing or syncing the temporary file.
    Write,
    /// Renaming it over the file.
    Replace,
}

/// [`write_atomic`], saying which step failed.
pub(crate) fn write_atomic_steps(
    path: &Path,
    parts: &[&[u8]],
    access: Access,
) -> Result<(), (WriteStep, std::io::Error)> {
    let dir = parent_dir(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    let permissions: Option<Permissions> = match access {
        Access::Private => private_permissions(),
        Access::KeepExisting => std::fs::metadata(path).ok().map(|m| m.permissions()),
    };
    if let Some(permissions) = permissions {
        builder.permissions(permissions);
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| (WriteStep::CreateTemporary, e))?;
    parts
        .iter()
        .try_for_each(|part| tmp.write_all(part))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| (WriteStep::Write, e))?;
    tmp.persist(path)
        .map_err(|e| (WriteStep::Replace, e.error))?;
    // The rename is durable only once the directory entry is on disk.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates `dir` and its missing parents, owner-only (0700 on Unix).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// 0600 on Unix; elsewhere the platform's default for a new file.
fn private_permissions() -> Option<Permissions> {
    #[cfg(unix)]
    return Some(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_write_replaces_the_file_whole_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"old contents that are longer").unwrap();
        write_atomic(&path, &[b"new ", b"parts"], Access::Private).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new parts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Nothing is left behind next to it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn keeping_access_keeps_the_replaced_files_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, b"a").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, &[b"b"], Access::KeepExisting).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"b");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn a_failed_write_names_its_step_and_leaves_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/f");
        let (step, _) = write_atomic_steps(&missing, &[b"x"], Access::Private).unwrap_err();
        assert_eq!(step, WriteStep::CreateTemporary);
        // A directory cannot be replaced by a file.
        let target = dir.path().join("d");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"kept").unwrap();
        let (step, _) = write_atomic_steps(&target, &[b"x"], Access::Private).unwrap_err();
        assert_eq!(step, WriteStep::Replace);
        assert_eq!(std::fs::read(target.join("inside")).unwrap(), b"kept");
        assert_eq!(parent_dir(Path::new("f")), Path::new("."));
    }

    #[cfg(unix)]
    #[test]
    fn a_private_dir_is_created_with_its_parents_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a/b");
        create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
