//! The local bundle cache behind `Registry::fetch`: `<root>/<name>/<version>/`.
//!
//! A cached folder is reused only when its `.clipguard-index.json` equals the registry's index
//! for that version: version numbers restart when a data folder or an MLflow server is
//! recreated, and two registries may share one cache root, so "3" alone proves nothing.
//! Files are downloaded into a staging folder beside the final one, checked against their
//! sha256, then the folder is renamed into place, so a reader never sees half a bundle.

use crate::bundle::{BundleFile, BundleIndex, sha256_file};
use crate::error::RegistryError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Written last into a complete cached bundle (a hidden name no bundle file can have).
const MARKER: &str = ".clipguard-index.json";

fn final_dir(root: &Path, name: &str, version: &str) -> PathBuf {
    root.join(name).join(version)
}

fn marker_matches(dir: &Path, index: &BundleIndex) -> bool {
    std::fs::read(dir.join(MARKER))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<BundleIndex>(&bytes).ok())
        .is_some_and(|cached| &cached == index)
}

/// The cached folder, when a complete copy of exactly this index is there.
pub(crate) fn cached(
    root: &Path,
    name: &str,
    version: &str,
    index: &BundleIndex,
) -> Option<PathBuf> {
    let dir = final_dir(root, name, version);
    marker_matches(&dir, index).then_some(dir)
}

/// A folder being filled; removed on drop unless committed.
pub(crate) struct Staging {
    dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    pub(crate) fn new(root: &Path, name: &str, version: &str) -> Result<Staging, RegistryError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let parent = root.join(name);
        let dir = parent.join(format!(
            ".staging-{version}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| RegistryError::io(&dir, e))?;
        Ok(Staging {
            dir,
            target: final_dir(root, name, version),
            committed: false,
        })
    }

    /// Where to write `file` (its parent folders are created).
    pub(crate) fn path_for(&self, file: &BundleFile) -> Result<PathBuf, RegistryError> {
        let path = self.dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RegistryError::io(parent, e))?;
        }
        Ok(path)
    }

    /// Checks every file against `index`, writes the marker and moves the folder into place.
    pub(crate) async fn commit(mut self, index: &BundleIndex) -> Result<PathBuf, RegistryError> {
        let dir = self.dir.clone();
        let target = self.target.clone();
        let index = index.clone();
        let result = tokio::task::spawn_blocking(move || commit_blocking(&dir, &target, &index))
            .await
            .map_err(|e| RegistryError::corrupt("bundle cache", e))?;
        if result.is_ok() {
            self.committed = true;
        }
        result
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn commit_blocking(
    dir: &Path,
    target: &Path,
    index: &BundleIndex,
) -> Result<PathBuf, RegistryError> {
    for file in &index.files {
        let path = dir.join(&file.path);
        let (size, sha256) = sha256_file(&path).map_err(|e| RegistryError::io(&path, e))?;
        if size != file.size || sha256 != file.sha256 {
            return Err(RegistryError::corrupt(
                format!("fetched file `{}`", file.path),
                format!(
                    "got {size} bytes sha256 {sha256}, registered {} bytes sha256 {}",
                    file.size, file.sha256
                ),
            ));
        }
    }
    let marker = serde_json::to_vec(index).map_err(|e| RegistryError::corrupt("index", e))?;
    std::fs::write(dir.join(MARKER), marker).map_err(|e| RegistryError::io(dir, e))?;
    if target.exists() {
        if marker_matches(target, index) {
            // Another fetch finished first with the same bytes.
            let _ = std::fs::remove_dir_all(dir);
            return Ok(target.to_path_buf());
        }
        // A stale copy (another registry's "same" version, or an interrupted old layout).
        std::fs::remove_dir_all(target).map_err(|e| RegistryError::io(target, e))?;
    }
    match std::fs::rename(dir, target) {
        Ok(()) => Ok(target.to_path_buf()),
        Err(_) if marker_matches(target, index) => {
            let _ = std::fs::remove_dir_all(dir);
            Ok(target.to_path_buf())
        }
        Err(e) => Err(RegistryError::io(target, e)),
    }
}
