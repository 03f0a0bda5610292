//! What a crawl starts from: a TikTok hashtag or user, any URL yt-dlp knows (a TikTok tag,
//! user or video page, a short `vm.tiktok.com` link, another site, an HTML page linking media),
//! or a keyword search on a site yt-dlp can search (`ytsearch20:review phim`: yt-dlp's own
//! search prefixes; it has no TikTok search, so TikTok keywords go through hashtags).
//! Only parsing and URL building: nothing here connects anywhere.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Hashtag(String),
    User(String),
    Url(String),
    /// `<site>search[N|all|date]:<terms>`, handed to yt-dlp as is.
    Search(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(String);

impl Target {
    /// `#name` or `name`: letters, digits and `_` (Vietnamese letters included).
    pub fn hashtag(s: &str) -> Result<Target, TargetError> {
        let tag = s.trim().trim_start_matches('#');
        if tag.is_empty() || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(TargetError(format!("`{s}` is not a hashtag")));
        }
        Ok(Target::Hashtag(tag.to_string()))
    }

    /// `@name` or `name`: ASCII letters, digits, `.` and `_` (TikTok's rule).
    pub fn user(s: &str) -> Result<Target, TargetError> {
        let user = s.trim().trim_start_matches('@');
        let ok = !user.is_empty()
            && user.len() <= 64
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
        if !ok {
            return Err(TargetError(format!("`{s}` is not a TikTok user name")));
        }
        Ok(Target::User(user.to_string()))
    }

    /// An http(s) URL (other schemes are refused: yt-dlp would read files or run protocols).
    pub fn url(s: &str) -> Result<Target, TargetError> {
        let parsed = url::Url::parse(s.trim()).map_err(|e| TargetError(format!("`{s}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(TargetError(format!(
                "`{s}`: only http(s) URLs can be crawled"
            )));
        }
        Ok(Target::Url(parsed.to_string()))
    }

    /// A yt-dlp search: `ytsearch20:terms` (a site key, `search`, an optional count, `all` or
    /// `date`, a colon, the terms).
    pub fn search(s: &str) -> Result<Target, TargetError> {
        let bad = || {
            TargetError(format!(
                "`{s}` is not a yt-dlp search: write it as `ytsearch20:terms` (the site's search \
                 prefix and a count); yt-dlp has no TikTok search, use --hashtag for TikTok"
            ))
        };
        let (key, terms) = s.trim().split_once(':').ok_or_else(bad)?;
        let (site, count) = key.split_once("search").ok_or_else(bad)?;
        let site_ok = !site.is_empty() && site.bytes().all(|b| b.is_ascii_lowercase());
        let count_ok = count.is_empty()
            || count == "all"
            || count == "date"
            || (count.len() <= 4 && count.bytes().all(|b| b.is_ascii_digit()));
        if !site_ok || !count_ok || terms.trim().is_empty() || terms.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Target::Search(format!("{key}:{}", terms.trim())))
    }

    /// What yt-dlp is given: a URL, or a search for [`Target::Search`].
    pub fn to_url(&self) -> String {
        match self {
            Target::Hashtag(tag) => format!(
                "https://www.tiktok.com/tag/{}",
                url::form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()
            ),
            Target::User(user) => format!("https://www.tiktok.com/@{user}"),
            Target::Url(url) | Target::Search(url) => url.clone(),
        }
    }

    /// Every target of a request: hashtags, then users, then URLs, then searches.
    pub fn all(
        hashtags: &[String],
        users: &[String],
        urls: &[String],
        searches: &[String],
    ) -> Result<Vec<Target>, TargetError> {
        let mut targets = Vec::new();
        for h in hashtags {
            targets.push(Target::hashtag(h)?);
        }
        for u in users {
            targets.push(Target::user(u)?);
        }
        for u in urls {
            targets.push(Target::url(u)?);
        }
        for q in searches {
            targets.push(Target::search(q)?);
        }
        Ok(targets)
    }

    /// A short name for reports and events.
    pub fn label(&self) -> String {
        match self {
            Target::Hashtag(tag) => format!("#{tag}"),
            Target::User(user) => format!("@{user}"),
            Target::Url(url) | Target::Search(url) => url.clone(),
        }
    }
}

/// A crawl's weak label: `harmful`, `safe`, or nothing (empty).
pub fn weak_label(s: &str) -> Result<Option<clipguard_core::WeakLabel>, TargetError> {
    match s.trim() {
        "" => Ok(None),
        l => clipguard_core::WeakLabel::parse(l)
            .map(Some)
            .ok_or_else(|| TargetError(format!("label must be harmful or safe, not `{l}`"))),
    }
}

/// What kind of TikTok page a URL is (for reports; yt-dlp picks its own extractor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TikTokPage {
    Tag(String),
    User(String),
    Video { user: String, id: String },
    ShortLink,
}

pub fn tiktok_page(link: &str) -> Option<TikTokPage> {
    let url = url::Url::parse(link.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if host == "vm.tiktok.com" || host == "vt.tiktok.com" {
        return Some(TikTokPage::ShortLink);
    }
    if !(host == "tiktok.com" || host.ends_with(".tiktok.com")) {
        return None;
    }
    let parts: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        ["tag", tag] => Some(TikTokPage::Tag(tag.to_string())),
        [user] if user.starts_with('@') => Some(TikTokPage::User(user[1..].to_string())),
        [user, "video", id] if user.starts_with('@') && id.bytes().all(|b| b.is_ascii_digit()) => {
            Some(TikTokPage::Video {
                user: user[1..].to_string(),
                id: id.to_string(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_users_and_urls_become_the_pages_yt_dlp_reads() {
        assert_eq!(
            Target::hashtag("#review_an_uong").unwrap().to_url(),
            "https://www.tiktok.com/tag/review_an_uong"
        );
        assert_eq!(
            Target::hashtag("dulịch").unwrap().to_url(),
            "https://www.tiktok.com/tag/dul%E1%BB%8Bch"
        );
        assert_eq!(
            Target::user("@erlina.trieu").unwrap().to_url(),
            "https://www.tiktok.com/@erlina.trieu"
        );
        for bad in ["", "#", "a b", "x/../y", "tag?x=1"] {
            assert!(Target::hashtag(bad).is_err(), "{bad}");
        }
        assert!(Target::user("a/b").is_err());
        assert!(Target::url("file:///etc/passwd").is_err());
        assert!(Target::url("ftp://host/x").is_err());
        assert!(Target::url("https://www.tiktok.com/tag/x").is_ok());
    }

    #[test]
    fn searches_take_yt_dlp_search_prefixes_only() {
        assert_eq!(
            Target::search("ytsearch20: review phim ").unwrap().to_url(),
            "ytsearch20:review phim"
        );
        assert!(Target::search("scsearchall:lofi").is_ok());
        assert!(Target::search("ytsearchdate:tin tức").is_ok());
        for bad in [
            "review phim",
            "ytsearch20:",
            "search5:x",
            "YTsearch:x",
            "ytsearch99999:x",
            "https://x/search:y",
            "ytsearch:a\nb",
        ] {
            let e = Target::search(bad).unwrap_err().to_string();
            assert!(e.contains("--hashtag"), "{bad}: {e}");
        }
    }

    #[test]
    fn tiktok_url_forms_are_told_apart() {
        assert_eq!(
            tiktok_page("https://www.tiktok.com/tag/boc_phot?lang=vi"),
            Some(TikTokPage::Tag("boc_phot".into()))
        );
        assert_eq!(
            tiktok_page("https://m.tiktok.com/@user.name"),
            Some(TikTokPage::User("user.name".into()))
        );
        assert_eq!(
            tiktok_page("https://www.tiktok.com/@u/video/7518242500994239752"),
            Some(TikTokPage::Video {
                user: "u".into(),
                id: "7518242500994239752".into()
            })
        );
        assert_eq!(
            tiktok_page("https://vm.tiktok.com/ZMabc123/"),
            Some(TikTokPage::ShortLink)
        );
        assert_eq!(tiktok_page("https://www.tiktok.com/@u/video/abc"), None);
        assert_eq!(tiktok_page("https://example.com/tag/x"), None);
    }
}
