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

/// Takes group and other users' access away from the file at `path` when it
/// has any (0644 becomes 0600), with a warning naming `what`.
pub(crate) fn restrict_file(path: &Path, what: &str) -> std::io::Result<()> {
    restrict(path, what, false)
}

/// Takes group and other users' access away from the directory `dir` (0755
/// becomes 0700), with a warning naming `what`. A shared directory (sticky,
/// like `/tmp`) and the home directory are not changed, only warned about:
/// taking others' access to those away would break other programs.
pub(crate) fn restrict_dir(dir: &Path, what: &str) -> std::io::Result<()> {
    restrict(dir, what, true)
}

#[cfg(unix)]
fn restrict(path: &Path, what: &str, is_dir: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let shared = is_dir
        && (mode & 0o1000 != 0
            || std::env::var_os("HOME").is_some_and(|home| Path::new(&home) == path));
    if shared {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", mode & 0o777),
            "{what} is shared with other users and is left as it is; give it a directory of its \
             own to keep even its name and size private"
        );
        return Ok(());
    }
    let private = mode & !0o077;
    std::fs::set_permissions(path, Permissions::from_mode(private))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{:o}", mode & 0o777),
        now = format!("{:o}", private & 0o777),
        "{what} was open to other users; made it owner-only"
    );
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: &str, _: bool) -> std::io::Result<()> {
    Ok(())
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
    fn looser_files_and_directories_are_made_owner_only_but_shared_ones_are_left() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        restrict_file(&file, "the file").unwrap();
        restrict_dir(&dir, "the directory").unwrap();
        assert_eq!((mode(&file), mode(&dir)), (0o600, 0o700));
        let shared = parent.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, Permissions::from_mode(0o1777)).unwrap();
        restrict_dir(&shared, "the directory").unwrap();
        assert_eq!(
            mode(&shared),
            0o1777,
            "a sticky shared directory is left alone"
        );
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
