//! TikTok URL forms. Only parsing: nothing here talks to TikTok.

/// The parts of a `https://www.tiktok.com/@user/video/<id>` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TikTokVideo {
    pub user: String,
    pub video_id: String,
}

/// Parses a TikTok video page URL (www., m., or bare host; query and fragment ignored).
pub fn parse_video_url(link: &str) -> Option<TikTokVideo> {
    let url = url::Url::parse(link.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if !(host == "tiktok.com" || host.ends_with(".tiktok.com")) {
        return None;
    }
    let mut parts = url.path_segments()?.filter(|s| !s.is_empty());
    let user = parts.next()?.strip_prefix('@')?.to_string();
    if parts.next()? != "video" {
        return None;
    }
    let video_id = parts.next()?.to_string();
    if video_id.is_empty() || !video_id.bytes().all(|b| b.is_ascii_digit()) || user.is_empty() {
        return None;
    }
    Some(TikTokVideo { user, video_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_link_forms() {
        let v = parse_video_url("https://www.tiktok.com/@erlinatrieu/video/7518242500994239752")
            .unwrap();
        assert_eq!(v.user, "erlinatrieu");
        assert_eq!(v.video_id, "7518242500994239752");
        let v = parse_video_url("https://m.tiktok.com/@a.b_c/video/123?lang=vi#x").unwrap();
        assert_eq!((v.user.as_str(), v.video_id.as_str()), ("a.b_c", "123"));
    }

    #[test]
    fn refuses_other_hosts_and_shapes() {
        assert!(parse_video_url("https://tiktok.com.evil.example/@a/video/1").is_none());
        assert!(parse_video_url("https://www.tiktok.com/tag/danh_nhau").is_none());
        assert!(parse_video_url("https://www.tiktok.com/@a/video/12ab").is_none());
        assert!(parse_video_url("not a url").is_none());
    }
}
