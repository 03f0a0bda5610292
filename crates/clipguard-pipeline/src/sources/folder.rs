//! A folder as yt-dlp leaves it: each media file with its sidecars, found recursively (hidden
//! folders skipped, depth bounded so a symlink loop cannot trap the scan).

use super::{Candidate, MediaRef, Metadata, SourceError, is_media_path, xlsx, ytdlp};
use std::path::{Path, PathBuf};

const MAX_DEPTH: usize = 6;

pub fn scan(root: &Path) -> Result<Vec<Candidate>, SourceError> {
    let mut media = Vec::new();
    walk(root, 0, &mut media)?;
    media.sort();
    // One broken sidecar fails that video (stored as `failed` with the reason), not the scan.
    Ok(media
        .iter()
        .map(|p| file_candidate(p).unwrap_or_else(|e| invalid_candidate(p, e)))
        .collect())
}

/// A media file whose metadata could not be read: ingest stores it as a failed video.
fn invalid_candidate(path: &Path, error: SourceError) -> Candidate {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    Candidate {
        meta: Metadata {
            platform: stem.as_ref().map(|_| "file".to_string()),
            platform_id: stem,
            origin: path.display().to_string(),
            ..Metadata::default()
        },
        media: MediaRef::Invalid(error.to_string()),
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))? {
        let entry = entry.map_err(|e| SourceError::io(dir, e))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let kind = entry.file_type().map_err(|e| SourceError::io(&path, e))?;
        if hidden {
            continue;
        }
        if kind.is_dir() {
            walk(&path, depth + 1, out)?;
        } else if is_media_path(&path) && !path.to_string_lossy().ends_with(".part") {
            out.push(path);
        }
    }
    Ok(())
}

/// `<dir>/<stem>.<ext>` → `<dir>/<stem><suffix>` (yt-dlp's sidecar naming).
fn sidecar(media: &Path, suffix: &str) -> PathBuf {
    let stem = media
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    media.with_file_name(format!("{stem}{suffix}"))
}

/// One media file plus whatever sidecars sit next to it.
pub fn file_candidate(path: &Path) -> Result<Candidate, SourceError> {
    let info = sidecar(path, ".info.json");
    let mut meta = if info.is_file() {
        ytdlp::read_info_json(&info)?
    } else {
        Metadata::default()
    };
    if let Some(desc) = ytdlp::read_description(&sidecar(path, ".description"))?
        && !desc.is_empty()
    {
        meta.caption = desc;
    }
    let comments = sidecar(path, ".comments.json");
    if comments.is_file() {
        meta.comments.extend(ytdlp::read_comments_json(&comments)?);
    }
    // The seed crawler's spreadsheet of comments; `<stem>.comments.xlsx` wins over `<stem>.xlsx`.
    if let Some(sheet) = [".comments.xlsx", ".xlsx"]
        .into_iter()
        .map(|suffix| sidecar(path, suffix))
        .find(|p| p.is_file())
    {
        meta.comments.extend(xlsx::read_comments_xlsx(&sheet)?);
    }
    meta.origin = path.display().to_string();
    Ok(Candidate {
        meta,
        media: MediaRef::File(path.to_path_buf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_media_with_sidecars_and_skips_hidden_and_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("42.mp4"), b"x").unwrap();
        std::fs::write(
            d.join("42.info.json"),
            r#"{"id":"42","extractor_key":"TikTok","description":"from info"}"#,
        )
        .unwrap();
        std::fs::write(d.join("42.description"), "from description\n").unwrap();
        std::fs::write(d.join("42.comments.json"), r#"[{"text":"hi"}]"#).unwrap();
        std::fs::create_dir(d.join(".tmp")).unwrap();
        std::fs::write(d.join(".tmp/9.mp4"), b"x").unwrap();
        std::fs::write(d.join("7.mp4.part"), b"x").unwrap();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/a b é.MP3"), b"x").unwrap();
        let found = scan(d).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        let c = &found[0];
        assert_eq!(c.meta.platform_id.as_deref(), Some("42"));
        assert_eq!(c.meta.caption, "from description");
        assert_eq!(c.meta.comments[0].text, "hi");
        assert!(matches!(&found[1].media, MediaRef::File(p) if p.ends_with("a b é.MP3")));
    }

    #[test]
    fn reads_comments_from_an_xlsx_sidecar() {
        use super::xlsx::test_support::{C, workbook};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("42.mp4"), b"x").unwrap();
        std::fs::write(d.join("42.comments.json"), r#"[{"text":"from json"}]"#).unwrap();
        std::fs::write(
            d.join("42.comments.xlsx"),
            workbook(&[
                &[C::S("Nội dung"), C::S("user")],
                &[C::S("Quá đỉnh 👏"), C::S("lan")],
            ]),
        )
        .unwrap();
        // Only one spreadsheet is read: `.comments.xlsx` wins over a plain `.xlsx`.
        std::fs::write(
            d.join("42.xlsx"),
            workbook(&[&[C::S("text")], &[C::S("no")]]),
        )
        .unwrap();
        std::fs::write(d.join("7.mp3"), b"x").unwrap();
        std::fs::write(
            d.join("7.xlsx"),
            workbook(&[&[C::S("text")], &[C::N(77.0)]]),
        )
        .unwrap();
        std::fs::write(d.join("8.mp4"), b"x").unwrap();
        std::fs::write(d.join("8.xlsx"), b"\x00not a workbook").unwrap();

        // The broken workbook fails its own video, not the scan.
        let found = scan(d).unwrap();
        let broken = found
            .iter()
            .find(|c| c.meta.platform_id.as_deref() == Some("8"))
            .unwrap();
        assert!(
            matches!(&broken.media, MediaRef::Invalid(e) if e.contains("8.xlsx")),
            "{broken:?}"
        );
        std::fs::remove_file(d.join("8.xlsx")).unwrap();

        let found = scan(d).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        let texts = |i: usize| -> Vec<&str> {
            found[i]
                .meta
                .comments
                .iter()
                .map(|c| c.text.as_str())
                .collect()
        };
        assert_eq!(texts(0), ["from json", "Quá đỉnh 👏"]);
        assert_eq!(found[0].meta.comments[1].author.as_deref(), Some("lan"));
        assert_eq!(texts(1), ["77"]);
        assert!(texts(2).is_empty());
    }

    #[test]
    fn a_broken_info_json_fails_that_video_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("1.info.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("2.mp4"), b"x").unwrap();
        let found = scan(dir.path()).unwrap();
        assert_eq!(found.len(), 2);
        assert!(
            matches!(&found[0].media, MediaRef::Invalid(e) if e.contains("1.info.json")),
            "{found:?}"
        );
        assert!(matches!(found[1].media, MediaRef::File(_)));
    }
}
