//! HTML escaping for text from outside. Captions, comments and reasons are attacker-controlled:
//! nothing reaches a page without going through here.

/// Escapes the five characters that matter in HTML text and attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment (a video id like `tiktok:123` in `/videos/…`).
pub fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A UTC timestamp as `<time>`: the page script shows it in the viewer's time zone.
pub fn time(iso: &str) -> String {
    let iso = html(iso);
    format!("<time datetime=\"{iso}\">{iso}</time>")
}

/// `text` escaped, with every case-insensitive occurrence of a needle wrapped in `<mark>`.
/// When lowercasing would change the text's byte layout (a few scripts), the text is shown
/// unmarked rather than mis-marked.
pub fn highlight(text: &str, needles: &[&str]) -> String {
    let lower = text.to_lowercase();
    if lower.len() != text.len() || needles.iter().all(|n| n.is_empty()) {
        return html(text);
    }
    let mut marks = vec![false; text.len()];
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let needle = needle.to_lowercase();
        let mut from = 0;
        while let Some(at) = lower[from..].find(&needle) {
            let (start, end) = (from + at, from + at + needle.len());
            if text.is_char_boundary(start) && text.is_char_boundary(end) {
                marks[start..end].iter_mut().for_each(|m| *m = true);
            }
            from = end;
        }
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut open = false;
    for (i, c) in text.char_indices() {
        if marks[i] != open {
            out.push_str(if marks[i] { "<mark>" } else { "</mark>" });
            open = marks[i];
        }
        out.push_str(&html(c.encode_utf8(&mut [0; 4])));
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_are_case_insensitive_and_escaped() {
        assert_eq!(
            highlight("Đánh nhau <b>ở</b> trường", &["đÁnh nhau"]),
            "<mark>Đánh nhau</mark> &lt;b&gt;ở&lt;/b&gt; trường"
        );
        assert_eq!(highlight("a<b", &[]), "a&lt;b");
        assert_eq!(highlight("x", &["y"]), "x");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(url_segment("tiktok:123"), "tiktok:123");
        assert_eq!(url_segment("a/b c?<"), "a%2Fb%20c%3F%3C");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            super::html(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(super::html("Phở ngon"), "Phở ngon");
    }
}
