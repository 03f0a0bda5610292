//! The seed's CSV link lists: `hashtag,link,label` or `hashtag,link,description,label`, labels
//! `harmful | not_harmful | safe`. A link whose media already sits next to the CSV (as
//! `<video id>.mp4` etc., the way the seed's downloader saved it) is ingested from there; a
//! direct media URL is fetched; a TikTok page link without local media waits for the crawler.

use super::{Candidate, MediaRef, SourceError, folder, is_media_path, tiktok, url_candidate};
use clipguard_core::WeakLabel;
use std::path::Path;

pub fn read(path: &Path) -> Result<Vec<Candidate>, SourceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| SourceError::io(path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| SourceError::io(path, e))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(link_col), Some(label_col)) = (col("link"), col("label")) else {
        return Err(SourceError::Csv {
            path: path.display().to_string(),
            line: 1,
            message: format!(
                "expected columns `hashtag,link,label` or `hashtag,link,description,label`, found `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        });
    };
    let hashtag_col = col("hashtag");
    let desc_col = col("description");
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| SourceError::Csv {
            path: path.display().to_string(),
            line,
            message: e.to_string(),
        })?;
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        let link = field(Some(link_col));
        if link.is_empty() {
            continue;
        }
        let label_text = field(Some(label_col));
        let label = WeakLabel::parse(label_text).ok_or_else(|| SourceError::Csv {
            path: path.display().to_string(),
            line,
            message: format!("label `{label_text}` is not harmful, not_harmful or safe"),
        })?;
        let mut candidate = local_media_for(dir, link)?.unwrap_or_else(|| url_candidate(link));
        if candidate.meta.source_url.is_none() {
            candidate.meta.source_url = Some(link.to_string());
        }
        let description = field(desc_col);
        if candidate.meta.caption.is_empty() && !description.is_empty() {
            candidate.meta.caption = description.to_string();
        }
        candidate.meta.weak_label = Some(label);
        let hashtag = field(hashtag_col);
        candidate.meta.origin = format!("{}:{line} (hashtag {hashtag})", path.display());
        out.push(candidate);
    }
    Ok(out)
}

/// `<dir>/<video id>.<media ext>` for a TikTok link, if the file is there.
fn local_media_for(dir: &Path, link: &str) -> Result<Option<Candidate>, SourceError> {
    let Some(t) = tiktok::parse_video_url(link) else {
        return Ok(None);
    };
    for ext in super::MEDIA_EXTENSIONS {
        let p = dir.join(format!("{}.{ext}", t.video_id));
        if p.is_file() && is_media_path(&p) {
            let mut c = folder::file_candidate(&p)?;
            c.meta.platform.get_or_insert_with(|| "tiktok".into());
            c.meta.platform_id.get_or_insert(t.video_id.clone());
            c.meta.author.get_or_insert(t.user.clone());
            debug_assert!(matches!(c.media, MediaRef::File(_)));
            return Ok(Some(c));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_seed_formats() {
        let dir = tempfile::tempdir().unwrap();
        let three = dir.path().join("links.csv");
        std::fs::write(
            &three,
            "hashtag,link,label\nsport,https://www.tiktok.com/@u/video/1,not_harmful\n\
             danh_nhau,https://www.tiktok.com/@v/video/2,harmful\n",
        )
        .unwrap();
        let c = read(&three).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].meta.weak_label, Some(WeakLabel::Harmful));
        assert_eq!(c[1].meta.platform_id.as_deref(), Some("2"));
        assert!(matches!(c[0].media, MediaRef::Unavailable(_)));

        std::fs::write(dir.path().join("3.mp4"), b"x").unwrap();
        let four = dir.path().join("four.csv");
        std::fs::write(
            &four,
            "hashtag,link,description,label\nfood,https://www.tiktok.com/@w/video/3,\"Phở, ngon\",safe\n\
             x,http://127.0.0.1:9/v.mp4,,harmful\n",
        )
        .unwrap();
        let c = read(&four).unwrap();
        assert_eq!(c[0].meta.caption, "Phở, ngon");
        assert!(matches!(&c[0].media, MediaRef::File(p) if p.ends_with("3.mp4")));
        assert!(matches!(&c[1].media, MediaRef::Url(u) if u.ends_with("v.mp4")));
    }

    #[test]
    fn a_bad_label_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, "hashtag,link,label\na,https://x.example/v.mp4,maybe\n").unwrap();
        let err = read(&p).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("maybe"), "{err}");
    }
}
