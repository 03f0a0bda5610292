//! Deterministic synthetic RGB8 frames, defined with integer arithmetic only so that
//! `scripts/golden_open_nsfw.py` reproduces them bit for bit (keep the two in sync).

/// Kinds of synthetic frames, in fixture order.
pub const KINDS: [&str; 6] = [
    "gradient",
    "checker",
    "skin",
    "noise",
    "stripes",
    "skin_noise",
];

/// Render `kind` as row-major RGB8 of `w`×`h` (w, h ≥ 2).
pub fn render(kind: &str, w: u32, h: u32) -> Vec<u8> {
    let mut lcg = 12345u32;
    let mut next = move || {
        lcg = lcg.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        lcg >> 24
    };
    let (wi, hi) = (i64::from(w), i64::from(h));
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..hi {
        for x in 0..wi {
            let px: [i64; 3] = match kind {
                "gradient" => [
                    x * 255 / (wi - 1),
                    y * 255 / (hi - 1),
                    (x + y) * 255 / (wi + hi - 2),
                ],
                "checker" => {
                    let s = wi.max(hi) / 14 + 1;
                    if (x / s + y / s) % 2 == 0 {
                        [230, 40, 40]
                    } else {
                        [20, 60, 200]
                    }
                }
                "skin" => skin(x, y, wi, hi).unwrap_or([40, 90, 60]),
                "noise" => [0, 0, 0].map(|_: i64| i64::from(next())),
                "stripes" => {
                    let on = ((x * 3 + y * 5) / 7) % 2 == 0;
                    let ramp = x * 200 / wi;
                    if on {
                        [250 - ramp, 200, 30 + ramp]
                    } else {
                        [10, 30 + ramp, 90]
                    }
                }
                "skin_noise" => {
                    let base = skin(x, y, wi, hi).unwrap_or([120, 110, 100]);
                    base.map(|v| (v + i64::from(next() >> 4) - 8).clamp(0, 255))
                }
                _ => [0, 0, 0],
            };
            out.extend(px.map(|v| v as u8));
        }
    }
    out
}

/// Three shaded skin-tone ellipses; `None` outside them.
fn skin(x: i64, y: i64, w: i64, h: i64) -> Option<[i64; 3]> {
    let blobs = [
        (w * 3 / 10, h * 2 / 5, w / 5, h / 3, [224, 172, 140]),
        (w * 3 / 5, h / 2, w / 4, h / 4, [198, 134, 66]),
        (w * 4 / 5, h * 4 / 5, w / 8, h / 6, [141, 85, 36]),
    ];
    for (cx, cy, a, b, tone) in blobs {
        let (dx, dy) = (x - cx, y - cy);
        if dx * dx * b * b + dy * dy * a * a <= a * a * b * b {
            let shade = (dx + dy) * 30 / (a + b);
            return Some(tone.map(|v: i64| (v - shade).clamp(0, 255)));
        }
    }
    None
}
