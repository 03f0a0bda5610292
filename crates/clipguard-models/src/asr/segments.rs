//! Turns one window's sampled tokens into timed segments and the next seek position.
//!
//! Follows `whisper.transcribe`: each pair of consecutive timestamp tokens closes a segment;
//! if the window ends with a single timestamp, all of it was consumed, otherwise decoding
//! resumes at the last closing timestamp. A window cut short (repetition guard, token cap)
//! keeps its trailing text as a last segment and consumes the whole window, so a loop is
//! never decoded twice.

use super::rules::TIME_PRECISION;

/// Frames (10 ms) per timestamp step (20 ms): the encoder halves the time resolution.
const FRAMES_PER_TIMESTAMP: usize = 2;

/// A segment before its tokens are turned into text.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSegment {
    pub start_s: f32,
    pub end_s: f32,
    pub tokens: Vec<u32>,
}

/// Segments of one window and how many frames of audio it consumed.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    pub segments: Vec<RawSegment>,
    pub advance_frames: usize,
}

/// Splits `sampled` (no EOT) of a window starting at `offset_s` that holds
/// `window_frames` frames of real audio. `cut_short` marks a window stopped by a guard.
pub fn split(
    sampled: &[u32],
    timestamp_begin: u32,
    offset_s: f32,
    window_frames: usize,
    cut_short: bool,
) -> WindowResult {
    let is_ts = |t: u32| t >= timestamp_begin;
    let at = |t: u32| offset_s + (t - timestamp_begin) as f32 * TIME_PRECISION;
    let text = |s: &[u32]| -> Vec<u32> { s.iter().copied().filter(|&t| !is_ts(t)).collect() };
    let window_end = offset_s + window_frames as f32 * 0.01;
    let n = sampled.len();
    let single_ending = n >= 2 && !is_ts(sampled[n - 2]) && is_ts(sampled[n - 1]);
    let consecutive: Vec<usize> = (1..n)
        .filter(|&i| is_ts(sampled[i]) && is_ts(sampled[i - 1]))
        .collect();

    let mut segments = Vec::new();
    if consecutive.is_empty() {
        let end = sampled
            .iter()
            .rev()
            .find(|&&t| is_ts(t) && t != timestamp_begin)
            .map_or(window_end, |&t| at(t));
        segments.push(RawSegment {
            start_s: offset_s,
            end_s: end,
            tokens: text(sampled),
        });
        return WindowResult {
            segments,
            advance_frames: window_frames,
        };
    }
    let mut bounds = consecutive;
    if single_ending {
        bounds.push(n);
    }
    let mut last = 0;
    for &cur in &bounds {
        let s = &sampled[last..cur];
        if let (Some(&first), Some(&end)) = (s.first(), s.last()) {
            let start = if is_ts(first) { at(first) } else { offset_s };
            let end = if is_ts(end) { at(end) } else { start };
            segments.push(RawSegment {
                start_s: start,
                end_s: end,
                tokens: text(s),
            });
        }
        last = cur;
    }
    let consumed_by_ts = sampled[last - 1]
        .checked_sub(timestamp_begin)
        .map_or(0, |p| p as usize * FRAMES_PER_TIMESTAMP);
    let advance_frames = if single_ending || cut_short {
        if cut_short && last < n {
            let tail = &sampled[last..];
            let start = tail
                .first()
                .filter(|&&t| is_ts(t))
                .map_or(offset_s, |&t| at(t));
            segments.push(RawSegment {
                start_s: start,
                end_s: window_end.max(start),
                tokens: text(tail),
            });
        }
        window_frames
    } else if consumed_by_ts == 0 {
        window_frames
    } else {
        consumed_by_ts.min(window_frames)
    };
    WindowResult {
        segments,
        advance_frames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 1000;

    #[test]
    fn pairs_and_single_ending() {
        let s = [TS, 1, 2, TS + 50, TS + 50, 3, TS + 100];
        let r = split(&s, TS, 30.0, 3000, false);
        assert_eq!(r.advance_frames, 3000);
        assert_eq!(r.segments.len(), 2);
        assert_eq!(r.segments[0].tokens, [1, 2]);
        assert!((r.segments[0].start_s - 30.0).abs() < 1e-4);
        assert!((r.segments[0].end_s - 31.0).abs() < 1e-4);
        assert!((r.segments[1].end_s - 32.0).abs() < 1e-4);
    }

    #[test]
    fn unfinished_tail_resumes_at_last_pair() {
        let s = [TS, 1, TS + 50, TS + 50, 3, 4];
        let r = split(&s, TS, 0.0, 3000, false);
        assert_eq!(r.segments.len(), 1);
        assert_eq!(r.advance_frames, 100);
        let r = split(&s, TS, 0.0, 3000, true);
        assert_eq!(r.segments.len(), 2);
        assert_eq!(r.segments[1].tokens, [3, 4]);
        assert_eq!(r.advance_frames, 3000);
    }

    #[test]
    fn no_pairs_is_one_segment() {
        let r = split(&[TS, 1, 2, TS + 20], TS, 0.0, 500, false);
        // A single timestamp ending with no pair: one segment to that timestamp.
        assert_eq!(r.segments.len(), 1);
        assert!((r.segments[0].end_s - 0.4).abs() < 1e-4);
        let r = split(&[], TS, 0.0, 500, false);
        assert_eq!(r.segments[0].tokens, Vec::<u32>::new());
        assert_eq!(r.advance_frames, 500);
    }
}
