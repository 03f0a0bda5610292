//! Reader for CTranslate2 `model.bin` files (the format faster-whisper ships).
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! u32 binary_version            (4..=6 supported: typed variables with byte counts)
//! str spec_name                 (u16 length incl. trailing NUL, then bytes)
//! u32 spec_revision
//! u32 n_variables
//!   per variable: str name, u8 rank, u32 dims[rank], u8 dtype, u32 n_bytes, data[n_bytes]
//! u32 n_aliases
//!   per alias:    str alias, str target
//! ```
//!
//! The whole file is read into memory once (no `mmap`: the project forbids `unsafe`, and
//! `memmap2::Mmap::map` is an `unsafe fn`). Every length, count and byte range is checked
//! against the bytes that remain, so a truncated or corrupt file yields a [`Ct2Error`] that
//! names the offset and what was being read — never a panic or a huge allocation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Oldest `binary_version` we read: version 4 introduced the per-variable dtype + byte count.
pub const MIN_BINARY_VERSION: u32 = 4;
/// Newest `binary_version` we know about (faster-whisper conversions write 6).
pub const MAX_BINARY_VERSION: u32 = 6;

/// Errors from reading a CTranslate2 model file.
#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    /// The file could not be read.
    #[error("cannot read CTranslate2 model {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file ended before a field that the layout requires.
    #[error(
        "CTranslate2 model truncated at byte {offset}: need {needed} bytes for {what}, {available} left"
    )]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
        what: &'static str,
    },
    /// The `binary_version` field is outside the supported range.
    #[error(
        "unsupported CTranslate2 binary version {0} (supported {MIN_BINARY_VERSION}..={MAX_BINARY_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// A string field is not valid UTF-8.
    #[error("CTranslate2 model: string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    /// A variable uses a dtype code this reader does not know.
    #[error("CTranslate2 variable {name:?}: unknown dtype code {code}")]
    UnknownDType { name: String, code: u8 },
    /// The byte count does not match dims × dtype size (or overflows).
    #[error(
        "CTranslate2 variable {name:?}: {actual} data bytes, but shape {dims:?} × {dtype:?} needs {expected:?}"
    )]
    SizeMismatch {
        name: String,
        dims: Vec<usize>,
        dtype: Ct2DType,
        expected: Option<usize>,
        actual: usize,
    },
    /// Two variables (or an alias and a variable) share a name.
    #[error("CTranslate2 model: duplicate name {0:?}")]
    DuplicateName(String),
    /// An alias points at a variable that does not exist.
    #[error("CTranslate2 alias {alias:?} points at missing variable {target:?}")]
    DanglingAlias { alias: String, target: String },
    /// Bytes remain after the alias table.
    #[error("CTranslate2 model: {remaining} unexpected trailing bytes at byte {offset}")]
    TrailingBytes { offset: usize, remaining: usize },
    /// A variable was requested that the file does not hold.
    #[error("CTranslate2 model has no variable {0:?}")]
    MissingVariable(String),
    /// A variable was converted to a type it cannot be converted to.
    #[error("CTranslate2 variable {name:?} has dtype {dtype:?}, cannot convert to f32")]
    NotFloat { name: String, dtype: Ct2DType },
    /// A float variable was read as integers.
    #[error("CTranslate2 variable {name:?} has dtype {dtype:?}, cannot convert to integers")]
    NotInteger { name: String, dtype: Ct2DType },
}

/// Element types CTranslate2 stores (codes from `ctranslate2::DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Ct2DType {
    /// Decodes the on-disk dtype code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// Position of one variable's metadata and data inside the file buffer.
#[derive(Debug, Clone)]
struct VarEntry {
    name: String,
    dims: Vec<usize>,
    dtype: Ct2DType,
    data: std::ops::Range<usize>,
}

/// A borrowed view of one variable.
#[derive(Debug, Clone, Copy)]
pub struct Ct2Variable<'a> {
    pub name: &'a str,
    pub dims: &'a [usize],
    pub dtype: Ct2DType,
    /// Raw little-endian element bytes; length is `dims.product() * dtype.size()`.
    pub data: &'a [u8],
}

impl Ct2Variable<'_> {
    /// Number of elements (1 for a rank-0 scalar).
    pub fn elem_count(&self) -> usize {
        self.dims.iter().product()
    }

    /// Converts a float variable (f32, f16, bf16) to `f32` values.
    pub fn to_f32(&self) -> Result<Vec<f32>, Ct2Error> {
        let two = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
        Ok(match self.dtype {
            Ct2DType::F32 => self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Ct2DType::F16 => self
                .data
                .chunks_exact(2)
                .map(|c| f16_to_f32(two(c)))
                .collect(),
            Ct2DType::BF16 => self
                .data
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(two(c)) << 16))
                .collect(),
            other => {
                return Err(Ct2Error::NotFloat {
                    name: self.name.to_owned(),
                    dtype: other,
                });
            }
        })
    }
}

impl Ct2Variable<'_> {
    /// Converts an integer variable (i8, i16, i32) to `i64` values (e.g. the `num_heads` scalar).
    pub fn to_i64(&self) -> Result<Vec<i64>, Ct2Error> {
        Ok(match self.dtype {
            Ct2DType::I8 => self.data.iter().map(|&b| i64::from(b as i8)).collect(),
            Ct2DType::I16 => self
                .data
                .chunks_exact(2)
                .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Ct2DType::I32 => self
                .data
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            other => {
                return Err(Ct2Error::NotInteger {
                    name: self.name.to_owned(),
                    dtype: other,
                });
            }
        })
    }
}

/// IEEE 754 binary16 → binary32, exact for every input (subnormals, inf, NaN included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = man × 2^-24, exactly representable in f32.
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (0x1f, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// A parsed CTranslate2 model: header fields, variables and aliases, backed by the file bytes.
#[derive(Debug)]
pub struct Ct2Model {
    /// `binary_version` from the header.
    pub binary_version: u32,
    /// Spec name, e.g. `WhisperSpec`.
    pub spec: String,
    /// Spec revision number.
    pub revision: u32,
    bytes: Vec<u8>,
    vars: Vec<VarEntry>,
    index: HashMap<String, usize>,
    aliases: Vec<(String, String)>,
}

/// Bounds-checked little-endian cursor over the file bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Ct2Error> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(Ct2Error::Truncated {
                offset: self.pos,
                needed: n,
                available,
                what,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Ct2Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Ct2Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Ct2Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// CTranslate2 string: u16 length (including a trailing NUL), then the bytes.
    fn string(&mut self, what: &'static str) -> Result<String, Ct2Error> {
        let len = usize::from(self.u16(what)?);
        let offset = self.pos;
        let raw = self.take(len, what)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| Ct2Error::InvalidUtf8 { offset })
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

impl Ct2Model {
    /// Reads and parses a `model.bin` file.
    pub fn open(path: &Path) -> Result<Self, Ct2Error> {
        let bytes = std::fs::read(path).map_err(|source| Ct2Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(bytes)
    }

    /// Parses a model held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Ct2Error> {
        let mut c = Cursor {
            buf: &bytes,
            pos: 0,
        };
        let binary_version = c.u32("binary version")?;
        if !(MIN_BINARY_VERSION..=MAX_BINARY_VERSION).contains(&binary_version) {
            return Err(Ct2Error::UnsupportedVersion(binary_version));
        }
        let spec = c.string("spec name")?;
        let revision = c.u32("spec revision")?;
        let n_vars = c.u32("variable count")? as usize;
        // Each variable needs at least 2 (name len) + 1 (rank) + 1 (dtype) + 4 (bytes) bytes,
        // so a corrupt count cannot make us reserve more than the file could hold.
        let mut vars = Vec::with_capacity(n_vars.min(c.remaining() / 8));
        let mut index = HashMap::new();
        for _ in 0..n_vars {
            let name = c.string("variable name")?;
            let rank = usize::from(c.u8("variable rank")?);
            let mut dims = Vec::with_capacity(rank);
            for _ in 0..rank {
                dims.push(c.u32("variable dimension")? as usize);
            }
            let code = c.u8("variable dtype")?;
            let dtype = Ct2DType::from_code(code).ok_or_else(|| Ct2Error::UnknownDType {
                name: name.clone(),
                code,
            })?;
            let n_bytes = c.u32("variable byte count")? as usize;
            let expected = dims
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
            if expected != Some(n_bytes) {
                return Err(Ct2Error::SizeMismatch {
                    name,
                    dims,
                    dtype,
                    expected,
                    actual: n_bytes,
                });
            }
            let start = c.pos;
            c.take(n_bytes, "variable data")?;
            if index.insert(name.clone(), vars.len()).is_some() {
                return Err(Ct2Error::DuplicateName(name));
            }
            vars.push(VarEntry {
                name,
                dims,
                dtype,
                data: start..start + n_bytes,
            });
        }
        let n_aliases = c.u32("alias count")? as usize;
        let mut aliases = Vec::with_capacity(n_aliases.min(c.remaining() / 4));
        for _ in 0..n_aliases {
            let alias = c.string("alias name")?;
            let target = c.string("alias target")?;
            if !index.contains_key(&target) {
                return Err(Ct2Error::DanglingAlias { alias, target });
            }
            if index.contains_key(&alias) || aliases.iter().any(|(a, _)| *a == alias) {
                return Err(Ct2Error::DuplicateName(alias));
            }
            aliases.push((alias, target));
        }
        if c.remaining() != 0 {
            return Err(Ct2Error::TrailingBytes {
                offset: c.pos,
                remaining: c.remaining(),
            });
        }
        Ok(Self {
            binary_version,
            spec,
            revision,
            bytes,
            vars,
            index,
            aliases,
        })
    }

    fn view<'a>(&'a self, e: &'a VarEntry) -> Ct2Variable<'a> {
        Ct2Variable {
            name: &e.name,
            dims: &e.dims,
            dtype: e.dtype,
            data: &self.bytes[e.data.clone()],
        }
    }

    /// Looks a variable up by name, following aliases.
    pub fn get(&self, name: &str) -> Option<Ct2Variable<'_>> {
        let name = self
            .aliases
            .iter()
            .find(|(a, _)| a == name)
            .map_or(name, |(_, t)| t.as_str());
        self.index.get(name).map(|&i| self.view(&self.vars[i]))
    }

    /// Like [`Ct2Model::get`], but a missing name is an error.
    pub fn require(&self, name: &str) -> Result<Ct2Variable<'_>, Ct2Error> {
        self.get(name)
            .ok_or_else(|| Ct2Error::MissingVariable(name.to_owned()))
    }

    /// All variables in file order.
    pub fn variables(&self) -> impl Iterator<Item = Ct2Variable<'_>> {
        self.vars.iter().map(|e| self.view(e))
    }

    /// `(alias, target)` pairs in file order.
    pub fn aliases(&self) -> &[(String, String)] {
        &self.aliases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    /// A tiny valid file: one f16 [2,2] variable, one i32 scalar, one alias.
    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        push_str(&mut b, "TestSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        push_str(&mut b, "w");
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.push(4);
        b.extend_from_slice(&8u32.to_le_bytes());
        for h in [0x3c00u16, 0xc000, 0x0001, 0x7bff] {
            b.extend_from_slice(&h.to_le_bytes());
        }
        push_str(&mut b, "n");
        b.push(0);
        b.push(3);
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&7i32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        push_str(&mut b, "w_alias");
        push_str(&mut b, "w");
        b
    }

    #[test]
    fn parses_sample() {
        let m = Ct2Model::from_bytes(sample()).unwrap();
        assert_eq!(m.spec, "TestSpec");
        assert_eq!(m.revision, 3);
        let w = m.get("w_alias").unwrap();
        assert_eq!(w.dims, &[2, 2]);
        let v = w.to_f32().unwrap();
        assert_eq!(v[0], 1.0);
        assert_eq!(v[1], -2.0);
        assert_eq!(v[2], 2f32.powi(-24));
        assert_eq!(v[3], 65504.0);
        assert_eq!(m.get("n").unwrap().elem_count(), 1);
        assert_eq!(m.get("n").unwrap().to_i64().unwrap(), [7]);
        assert!(m.get("missing").is_none());
        assert!(matches!(
            m.get("n").unwrap().to_f32(),
            Err(Ct2Error::NotFloat { .. })
        ));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let full = sample();
        for len in 0..full.len() {
            let err = Ct2Model::from_bytes(full[..len].to_vec()).unwrap_err();
            assert!(
                matches!(
                    err,
                    Ct2Error::Truncated { .. } | Ct2Error::UnsupportedVersion(_)
                ),
                "len {len}: {err}"
            );
        }
    }

    #[test]
    fn corrupt_fields_are_errors() {
        let mut b = sample();
        b.push(0);
        assert!(matches!(
            Ct2Model::from_bytes(b),
            Err(Ct2Error::TrailingBytes { .. })
        ));
        let mut b = sample();
        b[0] = 99;
        assert!(matches!(
            Ct2Model::from_bytes(b),
            Err(Ct2Error::UnsupportedVersion(99))
        ));
        // Byte count of "w" (offset: 4 + 2+9 + 4 + 4 + 2+2 + 1 + 8 + 1 = 37).
        let mut b = sample();
        b[37] = 9;
        assert!(matches!(
            Ct2Model::from_bytes(b),
            Err(Ct2Error::SizeMismatch { .. })
        ));
        // dtype code of "w".
        let mut b = sample();
        b[36] = 42;
        assert!(matches!(
            Ct2Model::from_bytes(b),
            Err(Ct2Error::UnknownDType { code: 42, .. })
        ));
        // Huge dims overflow instead of wrapping.
        let mut b = sample();
        b[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
        b[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Ct2Model::from_bytes(b),
            Err(Ct2Error::SizeMismatch { .. })
        ));
    }
}
