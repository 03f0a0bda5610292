//! English and Vietnamese. The page's language comes from the `lang` cookie (set by the toggle
//! in the navigation bar), else from `Accept-Language`; English text is the key, and a phrase
//! without a translation stays English. Dates are sent as `<time datetime>` in UTC and shown in
//! the viewer's own time zone by `assets/common.js`.

use axum::http::{HeaderMap, header};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Vi,
}

impl Lang {
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        if let Some(v) = crate::auth::cookie(headers, "lang") {
            return if v == "vi" { Lang::Vi } else { Lang::En };
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.trim_start().starts_with("vi") {
            Lang::Vi
        } else {
            Lang::En
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Vi => "vi",
        }
    }
}

/// `text` in `lang`.
pub fn t(lang: Lang, text: &'static str) -> &'static str {
    if lang == Lang::En {
        return text;
    }
    match text {
        "Monitor" => "Giám sát",
        "Videos" => "Video",
        "Review" => "Kiểm duyệt",
        "Models" => "Mô hình",
        "Pipeline" => "Luồng xử lý",
        "Rules" => "Quy tắc",
        "Crawl" => "Thu thập",
        "Crawl jobs" => "Tác vụ thu thập",
        "signed in as" => "đăng nhập với tên",
        "Sign out" => "Đăng xuất",
        "Sign in" => "Đăng nhập",
        "Name" => "Tên",
        "Password" => "Mật khẩu",
        "Wrong name or password." => "Sai tên hoặc mật khẩu.",
        "ClipGuard — live" => "ClipGuard — trực tiếp",
        "videos" => "video",
        "processed" => "đã xử lý",
        "harmful" => "có hại",
        "safe" => "an toàn",
        "failed" => "lỗi",
        "queued" => "đang chờ",
        "in flight" => "đang xử lý",
        "dead letters" => "thư chết",
        "harmful rate" => "tỉ lệ có hại",
        "verdicts / min" => "kết luận / phút",
        "latency p50" => "độ trễ p50",
        "latency p95" => "độ trễ p95",
        "queue lag" => "độ trễ hàng đợi",
        "modalities agree" => "các kênh đồng thuận",
        "Harmful (h)" => "Có hại (h)",
        "Safe (s)" => "An toàn (s)",
        "Next (n)" => "Tiếp (n)",
        "Note" => "Ghi chú",
        "Caption" => "Chú thích",
        "Reviews" => "Kiểm duyệt",
        "History" => "Lịch sử",
        "Search" => "Tìm kiếm",
        "Verdict" => "Kết luận",
        "Category" => "Danh mục",
        "Source" => "Nguồn",
        "From" => "Từ",
        "To" => "Đến",
        "Model" => "Mô hình",
        "Filter" => "Lọc",
        "Promote" => "Thăng hạng",
        "Retrain now" => "Huấn luyện lại ngay",
        "Check and save" => "Kiểm tra và lưu",
        "Rules and thresholds" => "Quy tắc và ngưỡng",
        "Events" => "Sự kiện",
        "Dead letters" => "Thư chết",
        "Retry" => "Thử lại",
        "Discard" => "Bỏ",
        "Gate decisions" => "Quyết định của cổng",
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_then_accept_language_then_english() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(header::ACCEPT_LANGUAGE, "vi-VN,vi;q=0.9".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Vi);
        h.insert(header::COOKIE, "lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
        assert_eq!(t(Lang::Vi, "Monitor"), "Giám sát");
        assert_eq!(t(Lang::Vi, "untranslated"), "untranslated");
        assert_eq!(t(Lang::En, "Monitor"), "Monitor");
    }
}
