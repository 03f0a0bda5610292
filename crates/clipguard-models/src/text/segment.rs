//! Cutting a long text into the chunks the text model scores.
//!
//! A video's comments reach the model as one text joined by ` [SEP] ` (the seed's format; the
//! seed's training table joins them with ` . `). One 512-token window would see only the first
//! few comments, so the text is split into its comments, repeated comments are dropped (spam
//! is often posted many times), and the comments are packed in order into chunks of at most
//! `chunk_chars` characters, keeping at most `max_chunks` chunks. The model embeds every chunk
//! and averages the chunk embeddings: training and serving use exactly this function.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Separators between comments, tried in this order (the first one present wins).
pub const SEPARATORS: [&str; 2] = ["[SEP]", " . "];
/// Joins comments packed into one chunk.
pub const JOINER: &str = " | ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentOptions {
    /// Longest chunk in characters (a longer single comment is cut at this length).
    pub chunk_chars: usize,
    /// Chunks kept per text (the first ones, in text order).
    pub max_chunks: usize,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            chunk_chars: 400,
            max_chunks: 16,
        }
    }
}

/// The distinct comments of a text, in order, trimmed, empty ones dropped.
pub fn comments(text: &str) -> Vec<&str> {
    let parts: Vec<&str> = match SEPARATORS.iter().find(|s| text.contains(**s)) {
        Some(sep) => text.split(*sep).collect(),
        None => vec![text],
    };
    let mut seen = HashSet::new();
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty() && seen.insert(*p))
        .collect()
}

/// `s` cut to at most `n` characters (on a char boundary).
fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The chunks of `text` (at least one, possibly empty, so every text gets a score).
pub fn chunks(text: &str, options: SegmentOptions) -> Vec<String> {
    let max_chars = options.chunk_chars.max(1);
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0usize;
    for comment in comments(text) {
        if out.len() >= options.max_chunks.max(1) {
            break;
        }
        let comment = prefix_chars(comment, max_chars);
        let n = comment.chars().count();
        if !current.is_empty() && current_chars + JOINER.len() + n > max_chars {
            out.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if !current.is_empty() {
            current.push_str(JOINER);
            current_chars += JOINER.len();
        }
        current.push_str(comment);
        current_chars += n;
    }
    if !current.is_empty() && out.len() < options.max_chunks.max(1) {
        out.push(current);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_split_deduplicated_and_packed_in_order() {
        let text = "một [SEP] hai [SEP] một [SEP]  [SEP] ba bốn";
        assert_eq!(comments(text), vec!["một", "hai", "ba bốn"]);
        let o = SegmentOptions {
            chunk_chars: 12,
            max_chunks: 8,
        };
        assert_eq!(chunks(text, o), vec!["một | hai", "ba bốn"]);
        // The seed's training table joins with " . ".
        assert_eq!(comments("a . b . a"), vec!["a", "b"]);
        // No separator: one comment; a too-long comment is cut on a char boundary.
        assert_eq!(
            chunks(
                "ờờờờờ",
                SegmentOptions {
                    chunk_chars: 3,
                    max_chunks: 2
                }
            ),
            vec!["ờờờ"]
        );
    }

    #[test]
    fn chunk_count_is_bounded_and_never_zero() {
        let text = (0..100)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(" [SEP] ");
        let o = SegmentOptions {
            chunk_chars: 10,
            max_chunks: 3,
        };
        let c = chunks(&text, o);
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.chars().count() <= 10), "{c:?}");
        assert_eq!(c[0], "c0 | c1");
        assert_eq!(chunks("", o), vec![String::new()]);
        assert_eq!(chunks(" [SEP] ", o), vec![String::new()]);
    }
}
