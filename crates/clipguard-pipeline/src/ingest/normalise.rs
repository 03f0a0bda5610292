//! Metadata normalisation: the same shape whatever the source, bounded sizes, no control
//! characters, hashtags lower-cased and deduplicated (from the tag list and from `#tags` in the
//! caption). Text stays as written otherwise: analysers do their own Unicode normalisation, and
//! the dashboard escapes everything on output.

use crate::sources::Metadata;
use clipguard_core::Comment;

/// Caps that keep one hostile video from costing unbounded memory or analysis time.
pub const MAX_CAPTION_CHARS: usize = 20_000;
pub const MAX_COMMENTS: usize = 2_000;
pub const MAX_COMMENT_CHARS: usize = 5_000;
pub const MAX_HASHTAGS: usize = 100;

pub fn clean_text(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_string()
}

/// `#tags` as written in a caption (letters, digits, `_`, any script).
pub fn hashtags_in(caption: &str) -> Vec<String> {
    caption
        .split('#')
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

pub fn normalise(meta: &mut Metadata) {
    meta.caption = clean_text(&meta.caption, MAX_CAPTION_CHARS);
    let mut tags: Vec<String> = Vec::new();
    for tag in meta
        .hashtags
        .iter()
        .cloned()
        .chain(hashtags_in(&meta.caption))
    {
        let tag = clean_text(tag.trim_start_matches('#'), 100).to_lowercase();
        if !tag.is_empty() && !tags.contains(&tag) && tags.len() < MAX_HASHTAGS {
            tags.push(tag);
        }
    }
    meta.hashtags = tags;
    meta.comments = meta
        .comments
        .iter()
        .filter_map(|c| {
            let text = clean_text(&c.text, MAX_COMMENT_CHARS);
            (!text.is_empty()).then(|| Comment {
                text,
                author: c.author.as_deref().map(|a| clean_text(a, 200)),
                likes: c.likes,
            })
        })
        .take(MAX_COMMENTS)
        .collect();
    meta.author = meta
        .author
        .as_deref()
        .map(|a| clean_text(a, 200))
        .filter(|a| !a.is_empty());
    meta.duration_s = meta.duration_s.filter(|d| d.is_finite() && *d >= 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_come_from_tags_and_caption_deduplicated() {
        let mut m = Metadata {
            caption: "Phở ngon\u{0007} #Review_An_Uong #ẩmthực, #review_an_uong".into(),
            hashtags: vec!["#review_an_uong".into(), "Food".into()],
            comments: vec![
                Comment {
                    text: "  ".into(),
                    ..Comment::default()
                },
                Comment {
                    text: "ok\u{0000}".into(),
                    ..Comment::default()
                },
            ],
            ..Metadata::default()
        };
        normalise(&mut m);
        assert_eq!(m.hashtags, vec!["review_an_uong", "food", "ẩmthực"]);
        assert!(!m.caption.contains('\u{0007}'));
        assert_eq!(m.comments.len(), 1);
        assert_eq!(m.comments[0].text, "ok");
    }

    #[test]
    fn huge_inputs_are_capped() {
        let mut m = Metadata {
            caption: "a".repeat(MAX_CAPTION_CHARS * 3),
            comments: vec![
                Comment {
                    text: "x".into(),
                    ..Comment::default()
                };
                MAX_COMMENTS + 10
            ],
            ..Metadata::default()
        };
        normalise(&mut m);
        assert_eq!(m.caption.chars().count(), MAX_CAPTION_CHARS);
        assert_eq!(m.comments.len(), MAX_COMMENTS);
    }
}
