//! Media store backends over `object_store`. `local` is the embedded default (a folder under
//! the data dir); S3/MinIO (#6) uses the same crate with another builder.

pub mod local;

pub use local::LocalMediaStore;

/// Content-addressed key for media bytes: the same bytes always land on the same key, and a
/// label change never moves a file (the seed baked the label into its object keys).
pub fn media_key(content_hash: &str, extension: &str) -> String {
    let ext: String = extension
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let ext = if ext.is_empty() {
        "bin".to_string()
    } else {
        ext
    };
    format!(
        "media/{}/{content_hash}.{ext}",
        &content_hash[..2.min(content_hash.len())]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_content_addressed_and_sanitised() {
        assert_eq!(super::media_key("abcdef", "MP4"), "media/ab/abcdef.mp4");
        assert_eq!(super::media_key("abcdef", "../x"), "media/ab/abcdef.x");
        assert_eq!(super::media_key("abcdef", ""), "media/ab/abcdef.bin");
    }
}
