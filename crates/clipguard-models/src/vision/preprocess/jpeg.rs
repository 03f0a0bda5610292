//! The lossy half of a libjpeg-turbo JPEG save + load, as PIL does it with default settings
//! (quality 75, 4:2:0, baseline, ISLOW DCT, "fancy" upsampling), without the bitstream.
//!
//! Why not a JPEG crate: Huffman coding is lossless, so only colour conversion, chroma
//! down/upsampling, DCT and quantisation shape the pixels, and the crates differ from libjpeg in
//! exactly those (jpeg-encoder point-samples chroma and quantises with a 15-bit reciprocal;
//! jpeg-decoder/zune-jpeg use stb_image's IDCT and colour maths), giving errors up to 14 levels
//! on high-contrast frames. These are straight ports of libjpeg-turbo's jccolor.c, jcsample.c,
//! jfdctint.c, jcdctmgr.c (reciprocal quantiser), jidctint.c, jdsample.c and jdcolor.c, whose
//! SIMD paths are bit-exact with the C ones, so the output matches PIL pixel for pixel.

/// IJG Annex K tables in natural order, scaled like `jpeg_set_quality(75)`.
const LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA: [u16; 64] = {
    let mut t = [99u16; 64];
    let head = [
        [17, 18, 24, 47],
        [18, 21, 26, 66],
        [24, 26, 56, 99],
        [47, 66, 99, 99],
    ];
    let mut i = 0;
    while i < 16 {
        t[(i / 4) * 8 + i % 4] = head[i / 4][i % 4];
        i += 1;
    }
    t
};

/// Round-trip `w`×`h` RGB8 through JPEG at `quality`; returns RGB8. Edges of odd sizes are
/// replicated like libjpeg does, but only 256×256 is used (and verified against PIL).
pub(super) fn round_trip(rgb: &[u8], w: usize, h: usize, quality: u32) -> Vec<u8> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut planes = [vec![0u8; w * h], vec![0u8; w * h], vec![0u8; w * h]];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        const HALF: i32 = 1 << 15;
        const OFFSET: i32 = 128 << 16;
        planes[0][i] = ((19595 * r + 38470 * g + 7471 * b + HALF) >> 16) as u8;
        planes[1][i] = ((-11059 * r - 21709 * g + 32768 * b + OFFSET + HALF - 1) >> 16) as u8;
        planes[2][i] = ((32768 * r - 27439 * g - 5329 * b + OFFSET + HALF - 1) >> 16) as u8;
    }
    let [y, cb, cr] = planes;
    let y = lossy_plane(&y, w, h, &LUMA, quality);
    let cb = upsample_h2v2(
        &lossy_plane(&downsample_h2v2(&cb, w, h), cw, ch, &CHROMA, quality),
        cw,
        ch,
    );
    let cr = upsample_h2v2(
        &lossy_plane(&downsample_h2v2(&cr, w, h), cw, ch, &CHROMA, quality),
        cw,
        ch,
    );
    let mut out = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        for col in 0..w {
            let (yv, i) = (i32::from(y[row * w + col]), row * cw * 2 + col);
            let (cbv, crv) = (i32::from(cb[i]) - 128, i32::from(cr[i]) - 128);
            let r = yv + ((91881 * crv + (1 << 15)) >> 16);
            let g = yv + ((-22554 * cbv + (1 << 15) - 46802 * crv) >> 16);
            let b = yv + ((116130 * cbv + (1 << 15)) >> 16);
            out.extend([r, g, b].map(|v| v.clamp(0, 255) as u8));
        }
    }
    out
}

/// `h2v2_downsample`: 2×2 box average with alternating 1,2 rounding bias (edges replicated).
fn downsample_h2v2(plane: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity(cw * ch);
    for y in 0..ch {
        let (r0, r1) = (2 * y * w, (2 * y + 1).min(h - 1) * w);
        for x in 0..cw {
            let (c0, c1) = (2 * x, (2 * x + 1).min(w - 1));
            let sum: u32 = [r0 + c0, r0 + c1, r1 + c0, r1 + c1]
                .iter()
                .map(|&i| u32::from(plane[i]))
                .sum();
            out.push(((sum + 1 + (x as u32 & 1)) >> 2) as u8);
        }
    }
    out
}

/// `h2v2_fancy_upsample`: triangular filter, context rows/columns replicated at the edges.
fn upsample_h2v2(plane: &[u8], cw: usize, ch: usize) -> Vec<u8> {
    let mut out = vec![0u8; 4 * cw * ch];
    let at = |x: usize, y: usize| i32::from(plane[y * cw + x]);
    for y in 0..ch {
        for (v, far) in [(0, y.saturating_sub(1)), (1, (y + 1).min(ch - 1))] {
            let colsum = |x: usize| at(x, y) * 3 + at(x, far);
            let row = &mut out[(2 * y + v) * 2 * cw..][..2 * cw];
            for x in 0..cw {
                let this = colsum(x);
                let last = if x == 0 { this } else { colsum(x - 1) };
                let next = if x + 1 == cw { this } else { colsum(x + 1) };
                row[2 * x] = ((this * 3 + last + 8) >> 4) as u8;
                row[2 * x + 1] = ((this * 3 + next + 7) >> 4) as u8;
            }
        }
    }
    out
}

/// Forward DCT, quantise, dequantise and inverse DCT every 8×8 block of one plane.
fn lossy_plane(plane: &[u8], w: usize, h: usize, base: &[u16; 64], quality: u32) -> Vec<u8> {
    let scale = if quality < 50 {
        5000 / quality.max(1)
    } else {
        200 - 2 * quality.min(100)
    };
    let q: Vec<i32> = base
        .iter()
        .map(|&v| ((u32::from(v) * scale + 50) / 100).clamp(1, 255) as i32)
        .collect();
    let mut out = vec![0u8; w * h];
    for by in (0..h).step_by(8) {
        for bx in (0..w).step_by(8) {
            let mut block = [0i32; 64];
            for (i, v) in block.iter_mut().enumerate() {
                // Partial edge blocks replicate the last row/column, as libjpeg pads.
                let (y, x) = ((by + i / 8).min(h - 1), (bx + i % 8).min(w - 1));
                *v = i32::from(plane[y * w + x]) - 128;
            }
            fdct_islow(&mut block);
            for (v, &qv) in block.iter_mut().zip(&q) {
                *v = quantize(*v, qv) * qv;
            }
            let pixels = idct_islow(&block);
            for (i, p) in pixels.iter().enumerate() {
                let (y, x) = (by + i / 8, bx + i % 8);
                if y < h && x < w {
                    out[y * w + x] = *p;
                }
            }
        }
    }
    out
}

/// libjpeg-turbo's reciprocal quantiser for divisor `q << 3` (`compute_reciprocal`, 16-bit DCTELEM).
fn quantize(coef: i32, q: i32) -> i32 {
    let divisor = (q as u32) << 3;
    let b = 31 - divisor.leading_zeros();
    let mut r = 16 + b;
    let (mut fq, fr) = (
        (1u64 << r) / u64::from(divisor),
        (1u64 << r) % u64::from(divisor),
    );
    let mut c = u64::from(divisor / 2);
    if fr == 0 {
        fq >>= 1;
        r -= 1;
    } else if fr <= u64::from(divisor / 2) {
        c += 1;
    } else {
        fq += 1;
    }
    let magnitude = (((u64::from(coef.unsigned_abs()) + c) * fq) >> r) as i32;
    if coef < 0 { -magnitude } else { magnitude }
}

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// The LL&M odd part shared by both DCTs: inputs (i0..i3) = (x7, x5, x3, x1) for the IDCT or
/// (tmp4..tmp7) for the FDCT; returns the four rotated outputs in the same order.
fn odd_part(t0: i64, t1: i64, t2: i64, t3: i64) -> [i64; 4] {
    let (z1, z2, z3, z4) = (t0 + t3, t1 + t2, t0 + t2, t1 + t3);
    let z5 = (z3 + z4) * 9633;
    let (z1, z2) = (z1 * -7373, z2 * -20995);
    let (z3, z4) = (z3 * -16069 + z5, z4 * -3196 + z5);
    [
        t0 * 2446 + z1 + z3,
        t1 * 16819 + z2 + z4,
        t2 * 25172 + z2 + z3,
        t3 * 12299 + z1 + z4,
    ]
}

/// `jpeg_fdct_islow`; output scaled up by 8 like libjpeg's.
fn fdct_islow(data: &mut [i32; 64]) {
    for pass in 0..2 {
        let (stride, step) = if pass == 0 { (1, 8) } else { (8, 1) };
        for line in 0..8 {
            let at = |k: usize| line * step + k * stride;
            let d: [i64; 8] = std::array::from_fn(|k| i64::from(data[at(k)]));
            let (t0, t7, t1, t6) = (d[0] + d[7], d[0] - d[7], d[1] + d[6], d[1] - d[6]);
            let (t2, t5, t3, t4) = (d[2] + d[5], d[2] - d[5], d[3] + d[4], d[3] - d[4]);
            let (t10, t13, t11, t12) = (t0 + t3, t0 - t3, t1 + t2, t1 - t2);
            let z1 = (t12 + t13) * 4433;
            let odd = odd_part(t4, t5, t6, t7);
            let (even0, even4) = if pass == 0 {
                ((t10 + t11) << PASS1_BITS, (t10 - t11) << PASS1_BITS)
            } else {
                (
                    descale(t10 + t11, PASS1_BITS),
                    descale(t10 - t11, PASS1_BITS),
                )
            };
            let n = if pass == 0 {
                CONST_BITS - PASS1_BITS
            } else {
                CONST_BITS + PASS1_BITS
            };
            let out = [
                even0,
                descale(odd[3], n),
                descale(z1 + t13 * 6270, n),
                descale(odd[2], n),
                even4,
                descale(odd[1], n),
                descale(z1 - t12 * 15137, n),
                descale(odd[0], n),
            ];
            for (k, v) in out.iter().enumerate() {
                data[at(k)] = *v as i32;
            }
        }
    }
}

/// `jpeg_idct_islow` on dequantised coefficients, including its range-limit table.
fn idct_islow(coef: &[i32; 64]) -> [u8; 64] {
    let mut ws = [0i64; 64];
    let mut out = [0u8; 64];
    for pass in 0..2 {
        let (stride, step) = if pass == 0 { (8, 1) } else { (1, 8) };
        for line in 0..8 {
            let at = |k: usize| line * step + k * stride;
            let d: [i64; 8] = std::array::from_fn(|k| {
                if pass == 0 {
                    i64::from(coef[at(k)])
                } else {
                    ws[at(k)]
                }
            });
            let z1 = (d[2] + d[6]) * 4433;
            let (t2, t3) = (z1 - d[6] * 15137, z1 + d[2] * 6270);
            let (t0, t1) = ((d[0] + d[4]) << CONST_BITS, (d[0] - d[4]) << CONST_BITS);
            let (t10, t13, t11, t12) = (t0 + t3, t0 - t3, t1 + t2, t1 - t2);
            let [o0, o1, o2, o3] = odd_part(d[7], d[5], d[3], d[1]);
            let vals = [
                t10 + o3,
                t11 + o2,
                t12 + o1,
                t13 + o0,
                t13 - o0,
                t12 - o1,
                t11 - o2,
                t10 - o3,
            ];
            for (k, v) in vals.iter().enumerate() {
                if pass == 0 {
                    ws[at(k)] = descale(*v, CONST_BITS - PASS1_BITS);
                } else {
                    out[at(k)] = range_limit(descale(*v, CONST_BITS + PASS1_BITS + 3));
                }
            }
        }
    }
    out
}

/// libjpeg's post-IDCT `range_limit[x & 1023]` (+128 centre), which wraps for wild values.
fn range_limit(x: i64) -> u8 {
    match x & 1023 {
        i @ 0..128 => (i + 128) as u8,
        128..512 => 255,
        512..896 => 0,
        i => (i - 896) as u8,
    }
}
