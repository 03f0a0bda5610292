//! Whisper's log-mel front end, reproduced in Rust.
//!
//! Matches `whisper.audio.log_mel_spectrogram`: 16 kHz audio, a periodic Hann window of 400
//! samples, hop 160, centred frames with reflect padding, power spectrum, 80 Slaney-normalised
//! mel filters (librosa's `filters.mel(sr=16000, n_fft=400, n_mels=80)`, computed here rather
//! than shipped as a blob), `log10(max(x, 1e-10))`, floor at `max − 8`, then `(x + 4) / 4`.
//! Like `whisper.transcribe`, the caller pads the audio with 30 s of zeros before computing
//! the features so that every 30 s window slice is complete.

use rustfft::{FftPlanner, num_complex::Complex};

/// Sample rate the model expects.
pub const SAMPLE_RATE: usize = 16_000;
/// FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP_LENGTH: usize = 160;
/// Mel bins of whisper-base.
pub const N_MELS: usize = 80;
/// Frequency bins of one frame (`N_FFT / 2 + 1`).
pub const N_FREQS: usize = N_FFT / 2 + 1;
/// Samples in one 30 s window.
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Frames in one 30 s window.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;

/// Slaney mel scale (librosa `htk=False`): linear below 1 kHz, logarithmic above.
fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

/// Inverse of [`hz_to_mel`].
fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// Slaney-normalised triangular mel filters, `n_mels × N_FREQS` row-major, for 16 kHz /
/// `N_FFT` (computed in f64 like librosa, then stored as f32 like Whisper's asset).
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    let sr = SAMPLE_RATE as f64;
    let fft_freqs: Vec<f64> = (0..N_FREQS)
        .map(|i| i as f64 * (sr / 2.0) / (N_FREQS - 1) as f64)
        .collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * N_FREQS];
    for m in 0..n_mels {
        let (lo, mid, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            let w = lower.min(upper).max(0.0);
            out[m * N_FREQS + k] = (w * enorm) as f32;
        }
    }
    out
}

/// A normalised log-mel spectrogram, `n_mels × n_frames` row-major.
#[derive(Debug, Clone)]
pub struct LogMel {
    pub n_mels: usize,
    pub n_frames: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    /// Copies `N_FRAMES` frames starting at `start` (zero-filled past the end, like
    /// `whisper.audio.pad_or_trim`), `n_mels × N_FRAMES` row-major.
    pub fn window(&self, start: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.n_mels * N_FRAMES];
        let avail = self.n_frames.saturating_sub(start).min(N_FRAMES);
        for m in 0..self.n_mels {
            let src = &self.data[m * self.n_frames + start..][..avail];
            out[m * N_FRAMES..][..avail].copy_from_slice(src);
        }
        out
    }
}

/// Computes Whisper's log-mel features of `pcm` (16 kHz mono) followed by `pad_samples` zeros.
///
/// `filters` comes from [`mel_filters`] (`n_mels × N_FREQS`). Non-finite samples must be
/// rejected by the caller. Frames: `(pcm.len() + pad_samples) / HOP_LENGTH`.
pub fn log_mel_spectrogram(pcm: &[f32], pad_samples: usize, filters: &[f32]) -> LogMel {
    let n_mels = filters.len() / N_FREQS;
    let total = pcm.len() + pad_samples;
    let n_frames = total / HOP_LENGTH;
    // Centre padding by N_FFT/2 on each side, reflect mode (torch.stft center=True).
    let half = N_FFT / 2;
    let sample = |i: usize| pcm.get(i).copied().unwrap_or(0.0);
    let mut padded = Vec::with_capacity(total + N_FFT);
    // Out-of-range mirror indices (audio shorter than half a window) read as zeros.
    padded.extend((1..=half).rev().map(sample));
    padded.extend((0..total).map(sample));
    padded.extend((1..=half).map(|k| total.checked_sub(1 + k).map_or(0.0, sample)));

    let window: Vec<f32> = (0..N_FFT)
        .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
        .collect();
    let fft = FftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let mut buf = vec![Complex::new(0f32, 0f32); N_FFT];
    let mut scratch = vec![Complex::new(0f32, 0f32); fft.get_inplace_scratch_len()];
    // Power spectra, frames × N_FREQS. All-zero frames (the 30 s padding, digital silence)
    // skip the FFT.
    let mut power = vec![0f32; n_frames * N_FREQS];
    for (t, out) in power.chunks_exact_mut(N_FREQS).enumerate() {
        let frame = &padded[t * HOP_LENGTH..t * HOP_LENGTH + N_FFT];
        if frame.iter().all(|&x| x == 0.0) {
            continue;
        }
        for ((b, &x), &w) in buf.iter_mut().zip(frame).zip(&window) {
            *b = Complex::new(x * w, 0.0);
        }
        fft.process_with_scratch(&mut buf, &mut scratch);
        for (p, c) in out.iter_mut().zip(&buf) {
            *p = c.norm_sqr();
        }
    }
    let mut mel = filter_bank(filters, n_mels, &power, n_frames);
    for v in &mut mel {
        *v = v.max(1e-10).log10();
    }
    let max = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in &mut mel {
        *v = (v.max(max - 8.0) + 4.0) / 4.0;
    }
    LogMel {
        n_mels,
        n_frames,
        data: mel,
    }
}

/// `filters (n_mels × N_FREQS) · powerᵀ (N_FREQS × n_frames)` → `n_mels × n_frames`.
///
/// Done with candle's matmul (gemm, optimised even when this crate is built without
/// optimisation); falls back to a plain loop if the tensor call fails.
fn filter_bank(filters: &[f32], n_mels: usize, power: &[f32], n_frames: usize) -> Vec<f32> {
    use candle_core::{Device, Tensor};
    let gemm = || -> candle_core::Result<Vec<f32>> {
        let f = Tensor::from_slice(filters, (n_mels, N_FREQS), &Device::Cpu)?;
        let p = Tensor::from_slice(power, (n_frames, N_FREQS), &Device::Cpu)?;
        f.matmul(&p.t()?)?.flatten_all()?.to_vec1()
    };
    if n_frames > 0
        && let Ok(v) = gemm()
    {
        return v;
    }
    let mut mel = vec![0f32; n_mels * n_frames];
    for m in 0..n_mels {
        let row = &filters[m * N_FREQS..(m + 1) * N_FREQS];
        for t in 0..n_frames {
            let p = &power[t * N_FREQS..(t + 1) * N_FREQS];
            mel[m * n_frames + t] = row.iter().zip(p).map(|(a, b)| a * b).sum();
        }
    }
    mel
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values read from Whisper's own `assets/mel_filters.npz` (`mel_80`).
    #[test]
    fn filters_match_whisper_asset() {
        let f = mel_filters(N_MELS);
        assert_eq!(f.len(), 80 * 201);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-7;
        assert!(close(f[1], 0.024_862_59));
        assert_eq!(f[0], 0.0);
        let row40: Vec<(usize, f32)> = (0..N_FREQS)
            .filter(|&k| f[40 * N_FREQS + k] > 0.0)
            .map(|k| (k, f[40 * N_FREQS + k]))
            .collect();
        assert_eq!(row40.iter().map(|r| r.0).collect::<Vec<_>>(), [42, 43, 44]);
        assert!(close(row40[0].1, 0.005_411_1));
        assert!(close(row40[1].1, 0.014_735_57));
        assert!(close(row40[2].1, 0.006_518_19));
        let total: f32 = f.iter().sum();
        assert!((total - 1.999_024_2).abs() < 1e-4, "{total}");
    }

    #[test]
    fn silence_and_tone() {
        let filters = mel_filters(N_MELS);
        let mel = log_mel_spectrogram(&[0.0; 1600], 0, &filters);
        assert_eq!(mel.n_frames, 10);
        // All-zero input: every value is log10(1e-10) = -10 → (-10 + 4) / 4.
        assert!(mel.data.iter().all(|&v| (v + 1.5).abs() < 1e-6));
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin() * 0.5)
            .collect();
        let mel = log_mel_spectrogram(&tone, 0, &filters);
        assert_eq!(mel.n_frames, 100);
        // The loudest mel bin of a middle frame is the one covering 440 Hz (filter ~11 of 80).
        let t = 50;
        let best = (0..N_MELS)
            .max_by(|&a, &b| mel.data[a * 100 + t].total_cmp(&mel.data[b * 100 + t]))
            .unwrap();
        assert!((9..=13).contains(&best), "{best}");
        let w = mel.window(90);
        assert_eq!(w.len(), N_MELS * N_FRAMES);
        assert_eq!(w[10], 0.0);
    }
}
