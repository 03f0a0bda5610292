//! Frame-level nudity model: Yahoo's Open-NSFW (ResNet-50-1by2) in pure Rust.
//!
//! `preprocess` reproduces the Python package's image pipeline, `open_nsfw` runs the network.

pub mod model;
pub mod open_nsfw;
pub mod preprocess;

pub use open_nsfw::OpenNsfw;
pub use preprocess::{PreparedImage, prepare};

/// Everything that can go wrong loading the model or preparing/scoring images.
///
/// Typed so callers can tell a missing/corrupt model file (operator problem) from a bad frame
/// (skip it) without string matching.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// The model file could not be read at all.
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The bytes are not an ONNX protobuf (truncated download, wrong file).
    #[error("model file {path} is not a valid ONNX model: {message}")]
    Decode {
        path: std::path::PathBuf,
        message: String,
    },
    /// Valid ONNX, but not the Open-NSFW graph this loader understands.
    #[error("ONNX graph is not the expected Open-NSFW ResNet-50-1by2: {0}")]
    UnexpectedGraph(String),
    /// tract refused to build or run the network.
    #[error("inference engine error: {0}")]
    Engine(String),
    /// Width or height is zero.
    #[error("image has zero width or height ({width}x{height})")]
    EmptyImage { width: u32, height: u32 },
    /// The RGB8 buffer length does not match `width * height * 3`.
    #[error("RGB8 buffer for {width}x{height} must be {expected} bytes, got {actual}")]
    BufferSize {
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
    /// The JPEG round trip in preprocessing failed.
    #[error("JPEG round trip failed: {0}")]
    Jpeg(String),
}
