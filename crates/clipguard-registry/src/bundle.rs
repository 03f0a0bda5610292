//! A bundle folder on disk: `manifest.json` plus the files it lists. Reading one checks it and
//! hashes every file, so the registry stores a [`BundleIndex`] beside the manifest and a fetch
//! can prove it got exactly the bytes that were registered.

use crate::error::RegistryError;
use crate::names::{check_bundle_path, check_model_name};
use clipguard_core::manifest::{MANIFEST_FILE, ModelManifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A manifest larger than this is a mistake (it is metadata, not weights).
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// One file of a registered bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Relative to the bundle folder (`manifest.json`, `head.safetensors`, …).
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// Every file of a registered version, `manifest.json` first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleIndex {
    pub files: Vec<BundleFile>,
}

impl BundleIndex {
    /// Total bytes of the bundle.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Re-checks the paths (data read back from a backend is not trusted blindly).
    pub(crate) fn check_paths(&self) -> Result<(), RegistryError> {
        for file in &self.files {
            check_bundle_path(&file.path).map_err(|m| RegistryError::corrupt("bundle index", m))?;
        }
        Ok(())
    }
}

/// A bundle folder that passed the checks.
#[derive(Debug, Clone)]
pub struct LocalBundle {
    pub dir: PathBuf,
    pub manifest: ModelManifest,
    pub index: BundleIndex,
}

impl LocalBundle {
    pub fn path_of(&self, file: &BundleFile) -> PathBuf {
        self.dir.join(&file.path)
    }
}

/// Reads and checks a bundle folder, hashing its files (on a blocking thread).
pub async fn read_bundle(dir: &Path) -> Result<LocalBundle, RegistryError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || read_bundle_blocking(&dir))
        .await
        .map_err(|e| RegistryError::corrupt("bundle reader", e))?
}

fn invalid(dir: &Path, message: impl Into<String>) -> RegistryError {
    RegistryError::InvalidBundle {
        path: dir.display().to_string(),
        message: message.into(),
    }
}

fn read_bundle_blocking(dir: &Path) -> Result<LocalBundle, RegistryError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let meta = std::fs::metadata(&manifest_path)
        .map_err(|e| invalid(dir, format!("{MANIFEST_FILE}: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_MANIFEST_BYTES {
        return Err(invalid(
            dir,
            format!("{MANIFEST_FILE} is not a file of at most 1 MiB"),
        ));
    }
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| invalid(dir, format!("{MANIFEST_FILE}: {e}")))?;
    let manifest: ModelManifest =
        serde_json::from_str(&text).map_err(|e| invalid(dir, format!("{MANIFEST_FILE}: {e}")))?;
    check_model_name(&manifest.name).map_err(|e| invalid(dir, e.to_string()))?;

    let mut seen = BTreeSet::new();
    let mut files = vec![hash_entry(dir, MANIFEST_FILE)?];
    for path in &manifest.files {
        check_bundle_path(path).map_err(|m| invalid(dir, m))?;
        if path == MANIFEST_FILE || !seen.insert(path.as_str()) {
            return Err(invalid(
                dir,
                format!("file `{path}` is listed twice (or is the manifest)"),
            ));
        }
        files.push(hash_entry(dir, path)?);
    }
    Ok(LocalBundle {
        dir: dir.to_path_buf(),
        manifest,
        index: BundleIndex { files },
    })
}

fn hash_entry(dir: &Path, rel: &str) -> Result<BundleFile, RegistryError> {
    let path = dir.join(rel);
    if !std::fs::metadata(&path)
        .map(|m| m.is_file())
        .unwrap_or(false)
    {
        return Err(invalid(
            dir,
            format!("listed file `{rel}` is missing or not a file"),
        ));
    }
    let (size, sha256) = sha256_file(&path).map_err(|e| RegistryError::io(&path, e))?;
    Ok(BundleFile {
        path: rel.to_string(),
        size,
        sha256,
    })
}

/// Size and sha256 (hex) of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}
