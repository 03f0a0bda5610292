#!/usr/bin/env bash
# make-samples.sh — generate deterministic sample TikTok-style posts for ClipGuard tests/demos.
#
# Usage: scripts/make-samples.sh OUT_DIR
#
# Writes into OUT_DIR, laid out the way yt-dlp writes them:
#   ID.mp4 | ID.mp3        media (one corrupt, one zero-byte, one audio-only)
#   ID.info.json           yt-dlp style metadata (most with inline "comments")
#   ID.description         the caption alone
#   ID.comments.json       separate comment list (two samples, instead of inline "comments")
#   links.csv              seed-style list: hashtag,link,description,label
#   MANIFEST.tsv           one line per sample: what it is and what the pipeline should conclude
#   .complete              version stamp; when it matches, a re-run exits immediately
#
# Everything is deterministic: lavfi sources with fixed seeds, espeak-ng speech, fixed metadata.
# No network. Requires ffmpeg (libx264, libx265, aac, libmp3lame, drawtext), ffprobe, espeak-ng,
# python3 and the DejaVu fonts (fonts-dejavu-core). Env: SAMPLES_JOBS=N parallel encodes.
set -euo pipefail

VERSION="clipguard-make-samples v1"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

die() { echo "make-samples: error: $*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT=$1

if [[ -f "$OUT/.complete" && "$(cat "$OUT/.complete")" == "$VERSION" ]]; then
    echo "make-samples: $OUT is up to date ($VERSION)"
    exit 0
fi

for tool in ffmpeg ffprobe espeak-ng python3; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found in PATH (Debian: apt-get install ffmpeg espeak-ng python3)"
done
[[ -r "$FONT" ]] || die "font $FONT missing (Debian: apt-get install fonts-dejavu-core)"
encoders=$(ffmpeg -hide_banner -loglevel error -nostdin -encoders 2>/dev/null || true)
for enc in libx264 libx265 libmp3lame aac; do
    grep -qw "$enc" <<<"$encoders" || die "ffmpeg lacks the '$enc' encoder"
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMP="$OUT/.tmp"
rm -f "$OUT/.complete"
rm -rf "$TMP"
# Remove only what this script owns (stale files from an older version or an interrupted run).
rm -f "$OUT"/74000000000000000[0-9][0-9].* "$OUT/links.csv" "$OUT/MANIFEST.tsv"
mkdir -p "$TMP"

PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            pkill -TERM -P "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START=$(date +%s)

# ---------------------------------------------------------------------------------------------
# 1. Sample table (single source of truth) -> metadata files + a plan for the media encoder.
# ---------------------------------------------------------------------------------------------
python3 - "$OUT" "$TMP" <<'PY' || die "writing metadata (python3) failed"
import csv, json, os, sys

out, tmp = sys.argv[1], sys.argv[2]
BASE_TS = 1717200000  # 2024-06-01T00:00:00Z, fixed

def P(n):
    return "74000000000000000%02d" % n

def c(text, author, likes):
    return {"text": text, "author": author, "like_count": likes}

# Video source graphs: {W} {H} are substituted. All sources are deterministic (fixed seeds).
SRC = {
    "testsrc2":   "testsrc2=s={W}x{H}:r=30",
    "testsrc2hue": "testsrc2=s={W}x{H}:r=30,hue=h=t*40",
    "smptehd":    "smptehdbars=s={W}x{H}:r=30",
    "pal100":     "pal100bars=s={W}x{H}:r=30,hue=h=t*45",
    "testsrc2neg": "testsrc2=s={W}x{H}:r=30,negate",
    "smpte":      "smptebars=s={W}x{H}:r=30,hue=h=t*30",
    "mandel":     "mandelbrot=s=270x480:r=30,scale={W}:{H}",
    "life":       "life=s=180x320:r=30:mold=10:ratio=0.15:seed=42:life_color=#00ff66:death_color=#402060,scale={W}:{H}:flags=neighbor",
    "cellauto":   "cellauto=s=180x320:r=30:rule=110:seed=7:scroll=1:full=1,scale={W}:{H}:flags=neighbor",
    "gradients":  "gradients=s=270x480:r=30:seed=1:n=3:c0=0x1e3c72:c1=0xff6a00:c2=0x2a9d8f:speed=0.05,scale={W}:{H}",
    "gradients2": "gradients=s=270x480:r=30:seed=2:n=2:c0=0x0f2027:c1=0xf8b500:speed=0.03,scale={W}:{H}",
    "rgbtest":    "rgbtestsrc=s=360x640:r=30,scale={W}:{H},hue=h=t*50",
    "box":        "color=c=0x102040:s={W}x{H}:r=30[bg{N}];color=c=0xffcc00:s=240x240:r=30[bx{N}];"
                  "[bg{N}][bx{N}]overlay=x='mod(t*300,W-w)':y='H/2+400*sin(t*2)'",
    "box2":       "color=c=0x3a0ca3:s={W}x{H}:r=30[bg{N}];color=c=0x4cc9f0:s=160x160:r=30[bx{N}];"
                  "[bg{N}][bx{N}]overlay=x='(W-w)/2+250*cos(t*3)':y='mod(t*400,H-h)'",
}

# kind: video | corrupt | empty | audio
S = [
    dict(n=1, kind="video", w=720, h=1280, dur=6, codec="h264", src="testsrc2",
         speech=("vi", "Xin chào các bạn, hôm nay chúng ta nấu phở."),
         expected="benign", notes="vi speech; a comment carries HTML/script (must be shown escaped)",
         user="bepnhaminh", channel="Bếp Nhà Mình",
         caption="Review quán phở gia truyền ở phố cổ Hà Nội, nước dùng ngọt thanh 🍜 #review_an_uong #pho #hanoi",
         tags=["review_an_uong", "pho", "hanoi"],
         counts=(15230, 1204, 87, 12),
         comments=[c("Nhìn ngon quá, cuối tuần phải đi ăn thử", "lan.nguyen", 34),
                   c("Quán này mở đến mấy giờ vậy bạn?", "minhtuan_99", 5),
                   c("<script>alert('xss')</script> ngon quá <b>10/10</b>", "<img src=x onerror=alert(1)>", 0)]),
    dict(n=2, kind="video", w=1080, h=1920, dur=6, codec="h264", src="smptehd",
         speech=("en", "Welcome to our cooking channel, today we make noodle soup."),
         expected="benign", notes="en speech",
         user="noodle.kitchen", channel="Noodle Kitchen",
         caption="Easy homemade noodle soup in 20 minutes! Full recipe in comments #cooking #recipe #noodles",
         tags=["cooking", "recipe", "noodles"],
         counts=(48800, 5120, 310, 95),
         comments=[c("Made this tonight, my kids loved it", "sarah_cooks", 120),
                   c("What broth did you use?", "hungry.dev", 8)]),
    dict(n=3, kind="video", w=720, h=1280, dur=5, codec="hevc", src="mandel",
         text="GIẢM GIÁ 50%", text_y="h*0.15", tone=660,
         expected="benign", notes="on-screen text (sale, benign); H.265",
         user="shopcuaem", channel="Shop Của Em",
         caption="Săn sale cuối tuần, giảm giá 50% toàn bộ áo thun 👕 #sale #muasam #thoitrang",
         tags=["sale", "muasam", "thoitrang"],
         counts=(9100, 402, 51, 7),
         comments=[c("Còn size M không shop ơi", "hoa.tran", 3),
                   c("Ship về Đà Nẵng bao lâu vậy?", "quanghuy", 1)]),
    dict(n=4, kind="video", w=1080, h=1920, dur=6, codec="h264", src="box",
         text="Vay tiền nhanh\nlãi suất 0%", text_y="h*0.15",
         speech=("vi", "Vay tiền nhanh, không cần thế chấp, nhận ngay năm mươi triệu."),
         expected="harmful-caption", notes="loan scam + gambling; also in on-screen text and vi speech",
         user="taichinh.nhanh247", channel="Tài Chính Nhanh 247",
         caption="Vay tiền nhanh không cần thế chấp, nhận ngay 50 triệu, tải app cá độ bóng đá nạp lần đầu x2 #vaytien #cado #kiemtienonline",
         tags=["vaytien", "cado", "kiemtienonline"],
         counts=(3300, 45, 19, 2),
         comments=[c("App tên gì vậy ad", "user8812734", 0),
                   c("Lừa đảo đấy mọi người đừng tin", "canhgiac.vn", 41)]),
    dict(n=5, kind="video", w=720, h=1280, dur=6, codec="h264", src="gradients",
         text="Hello from\nClipGuard", text_y="(h-text_h)/2",
         speech=("en", "Hello from ClipGuard. Today: three study tips for your exams."),
         expected="benign", notes="on-screen text + en speech",
         user="studywithlinh", channel="Study with Linh",
         caption="Study tips: học 25 phút, nghỉ 5 phút (Pomodoro) và ôn lại bằng flashcards 📚 #studytips #hoctap #pomodoro",
         tags=["studytips", "hoctap", "pomodoro"],
         counts=(22000, 3100, 140, 260),
         comments=[c("Cảm ơn chị, mai em thi rồi", "be.na", 12),
                   c("Pomodoro works for me too!", "alex.k", 6)]),
    dict(n=6, kind="video", w=720, h=1280, dur=5, codec="h264", src="life", tone=330,
         expected="harmful-caption", notes="violence (fight) caption with diacritics",
         user="tintuc.hocduong", channel="Tin Tức Học Đường",
         caption="Đánh nhau to ở cổng trường, cả chục học sinh lao vào nhau #danhnhau #hocduong",
         tags=["danhnhau", "hocduong"],
         counts=(120500, 2300, 980, 410),
         comments=[c("Trường nào vậy mọi người", "hieu_2k7", 55),
                   c("Báo công an đi chứ quay làm gì", "me.bim", 130)]),
    dict(n=7, kind="video", w=720, h=1280, dur=5, codec="hevc", src="cellauto", tone=None,
         expected="harmful-caption-nodiacritics", notes="fight caption typed without diacritics; no comments; H.265",
         user="clip.nong.24h", channel="Clip Nong 24h",
         caption="danh nhau o cong truong luc tan hoc, clip full o binh luan #xuhuong #fyp",
         tags=["xuhuong", "fyp"],
         counts=(56000, 1500, 620, 300),
         comments=None),
    dict(n=8, kind="video", w=720, h=1280, dur=5, codec="h264", src="smpte", tone=550,
         expected="harmful-comments", notes="benign caption; drugs offered in a comment",
         user="nightlife.sg", channel="Nightlife Sài Gòn",
         caption="Đi bar cuối tuần cùng hội bạn thân 🎉 #nightlife #cuoituan",
         tags=["nightlife", "cuoituan"],
         counts=(7400, 610, 33, 4),
         comments=[c("Nhạc hay quá, quán ở quận mấy vậy?", "thu.ha", 9),
                   c("bán ma túy, thuốc lắc giá rẻ, ai cần inbox mình nhé", "acc.clone.123", 0),
                   c("Đi chung lần sau nha", "ducanh", 2)]),
    dict(n=9, kind="video", w=720, h=1280, dur=5, codec="h264", src="rgbtest", tone=880,
         expected="harmful-caption", notes="sexual service solicitation",
         user="bao.nuoi.vip", channel="VIP Connect",
         caption="Tìm sugar baby, inbox kín, bao nuôi hàng tháng, không ràng buộc #sugarbaby",
         tags=["sugarbaby"],
         counts=(2100, 30, 12, 1),
         comments=[c("ib rồi nha", "user99120031", 0)]),
    dict(n=10, kind="video", w=1080, h=1920, dur=6, codec="h264", src="testsrc2hue", tone=440,
         expected="benign", notes="info.json carries http_headers/cookies with a fake secret (must be dropped); comments in ID.comments.json",
         user="dulich.cungnam", channel="Du Lịch Cùng Nam",
         caption="Du lịch Đà Lạt 3 ngày 2 đêm chỉ với 2 triệu, săn mây ở đồi chè Cầu Đất ☁️ #dulich #dalat #travel",
         tags=["dulich", "dalat", "travel"],
         counts=(88000, 9800, 450, 1200),
         comments_file=[c("Lưu lại để tháng sau đi", "my.le", 44),
                        c("Beautiful! Is it cold in December?", "travel.jo", 7),
                        c("Homestay tên gì vậy anh", "kien.pham", 3)],
         secrets=True),
    dict(n=11, kind="video", w=720, h=1280, dur=5, codec="h264", src="box2", tone=None,
         expected="benign", notes="decoy: words containing risky substrings (ke, kẹo, kế, pod, kill, cỏ); substring rules must not fire",
         user="an.vat.sinhvien", channel="Ăn Vặt Sinh Viên",
         caption="Kẹo dẻo ngon, kem kéo sợi 🍦 picnic trên bãi cỏ. Podcast tuần này: kế hoạch học tập, kỹ năng (skills) quản lý thời gian, quay bằng tripod mới #anvat #podcast #hoctap",
         tags=["anvat", "podcast", "hoctap"],
         counts=(12000, 900, 60, 25),
         comments=[c("Kem ở đâu vậy bạn, nhìn mê quá", "ngoc.anh", 4),
                   c("Podcast hay, mong tập sau nói về kỹ năng thuyết trình", "tuan.podcast", 2)]),
    dict(n=12, kind="video", w=720, h=1280, dur=30, codec="h264", src="testsrc2neg", tone=None, bitrate="250k",
         expected="benign", notes="30 s, low bitrate; 'bóng đá' without gambling",
         user="bongda.santruong", channel="Bóng Đá Sân Trường",
         caption="Highlight bóng đá sân trường: 12A1 thắng 3-1 ở chung kết ⚽ #bongda #thethao",
         tags=["bongda", "thethao"],
         counts=(30500, 2700, 190, 80),
         comments=[c("Bàn thứ 2 đẹp quá", "thanh.tung", 21),
                   c("12A1 vô địch!!!", "lop12a1", 15)]),
    dict(n=13, kind="corrupt", from_n=12, w=720, h=1280, dur=30, codec="h264",
         expected="failed", notes="first 3000 bytes of sample 12 + 2000 bytes of 0x5A: must fail to decode",
         user="vlog.hocsinh", channel="Vlog Học Sinh",
         caption="Vlog một ngày đi học của mình #vlog #hocsinh",
         tags=["vlog", "hocsinh"],
         counts=(1500, 120, 6, 0),
         comments=[c("Dễ thương quá", "ha.vy", 1)]),
    dict(n=14, kind="empty", w=720, h=1280, dur=7, codec="h264",
         expected="failed", notes="zero-byte media file",
         user="hoctienganh.moingay", channel="Học Tiếng Anh Mỗi Ngày",
         caption="Mẹo học tiếng Anh mỗi ngày: 10 từ mới trước khi ngủ #hoctienganh #english",
         tags=["hoctienganh", "english"],
         counts=(4200, 380, 14, 30),
         comments=None),
    dict(n=15, kind="audio", dur=6,
         speech=("vi", "Tin tức buổi sáng. Hôm nay trời nắng đẹp, các bạn nhớ mang theo nước khi ra ngoài."),
         expected="benign", notes="audio-only post (mp3), vi speech",
         user="radio.buoisang", channel="Radio Buổi Sáng",
         caption="Bản tin buổi sáng 🎧 thời tiết hôm nay #tintuc #thoitiet",
         tags=["tintuc", "thoitiet"],
         counts=(2600, 150, 8, 3),
         comments=[c("Giọng đọc dễ nghe ghê", "bac.tu", 2)]),
    dict(n=16, kind="video", w=1080, h=1920, dur=5, codec="h264", src="gradients2", tone=523,
         expected="benign", notes="comments in ID.comments.json",
         user="run.with.mai", channel="Run with Mai",
         caption="Morning run 5km, new personal best! Chạy bộ mỗi sáng cho khỏe 🏃‍♀️ #running #fitness #chaybo",
         tags=["running", "fitness", "chaybo"],
         counts=(6700, 820, 40, 9),
         comments_file=[c("Great pace, keep it up!", "coach.dan", 18),
                        c("Chị chạy ở công viên nào vậy?", "linh.run", 3)]),
    dict(n=17, kind="video", w=720, h=1280, dur=5, codec="h264", src="pal100", tone=None,
         text="CÁ ĐỘ BÓNG ĐÁ\nNạp 100k tặng 200k", text_y="h*0.35",
         expected="harmful-onscreen", notes="neutral caption; gambling ad only in on-screen text (needs OCR)",
         user="keo.thom.vip", channel="Kèo Thơm VIP",
         caption="Xem đến cuối nhé 😉 #fyp #xuhuong",
         tags=["fyp", "xuhuong"],
         counts=(5100, 70, 22, 5),
         comments=[c("link đâu ad", "user77120", 0)]),
]

def fmt_date(ts):
    import datetime
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y%m%d")

def wjson(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")

FAKE_SECRET = "sessionid=SECRET-DO-NOT-STORE"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

plan, manifest = [], []
for s in S:
    n = s["n"]
    vid = P(n)
    ext = "mp3" if s["kind"] == "audio" else "mp4"
    url = "https://www.tiktok.com/@%s/video/%s" % (s["user"], vid)
    ts = BASE_TS + n * 3671
    views, likes, ncom, reposts = s["counts"]
    info = {
        "id": vid,
        "title": s["caption"],
        "description": s["caption"],
        "uploader": s["user"],
        "uploader_id": "68%017d" % (n * 1000003),
        "uploader_url": "https://www.tiktok.com/@" + s["user"],
        "channel": s["channel"],
        "channel_id": "MS4wLjABAAAA-clipguard-sample-%02d" % n,
        "webpage_url": url,
        "original_url": url,
        "extractor": "TikTok",
        "extractor_key": "TikTok",
        "duration": s["dur"],
        "view_count": views,
        "like_count": likes,
        "comment_count": ncom,
        "repost_count": reposts,
        "tags": s["tags"],
        "ext": ext,
        "timestamp": ts,
        "upload_date": fmt_date(ts),
        "track": "original sound - " + s["user"],
    }
    if s["kind"] == "audio":
        info.update({"vcodec": "none", "acodec": "mp3"})
    else:
        info.update({"width": s["w"], "height": s["h"], "fps": 30,
                     "vcodec": s["codec"], "acodec": "aac"})
    if s.get("comments"):
        info["comments"] = s["comments"]
    if s.get("secrets"):
        hdrs = {"User-Agent": UA, "Accept": "*/*", "Referer": "https://www.tiktok.com/",
                "Cookie": FAKE_SECRET}
        info["http_headers"] = hdrs
        info["cookies"] = FAKE_SECRET + "; Domain=.tiktok.com; Path=/; Secure; HttpOnly"
        info["formats"] = [{
            "format_id": "h264_1080p_0",
            "url": "https://v16-webapp-prime.tiktok.com/video/tos/fake/%s/?a=1988" % vid,
            "ext": "mp4", "width": s["w"], "height": s["h"], "vcodec": "h264", "acodec": "aac",
            "http_headers": hdrs,
            "cookies": FAKE_SECRET + "; Domain=.tiktok.com; Path=/; Secure; HttpOnly",
        }]
    wjson(os.path.join(out, vid + ".info.json"), info)
    with open(os.path.join(out, vid + ".description"), "w", encoding="utf-8") as f:
        f.write(s["caption"])
    if s.get("comments_file"):
        wjson(os.path.join(out, vid + ".comments.json"), s["comments_file"])

    text = s.get("text")
    if text:
        with open(os.path.join(tmp, vid + ".txt"), "w", encoding="utf-8") as f:
            f.write(text)
    speech = s.get("speech")
    if speech:
        with open(os.path.join(tmp, vid + ".speech.txt"), "w", encoding="utf-8") as f:
            f.write(speech[1] + "\n")

    if s["kind"] == "video":
        W, H = s["w"], s["h"]
        g = SRC[s["src"]].replace("{W}", str(W)).replace("{H}", str(H)).replace("{N}", str(n))
        g += ",format=yuv420p"
        if text:
            fs = W // 11
            g += (",drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
                  ":textfile=%s.txt:expansion=none:fontsize=%d:fontcolor=white"
                  ":box=1:boxcolor=black@0.8:boxborderw=%d:line_spacing=%d"
                  ":x=(w-text_w)/2:y=%s") % (vid, fs, fs // 3, fs // 6, s["text_y"])
        if speech:
            audio = "speech:" + speech[0]
        elif s.get("tone"):
            audio = "tone:%d" % s["tone"]
        else:
            audio = "silence"
        cost = W * H * s["dur"] * (4 if s["codec"] == "hevc" else 1)
        plan.append((cost, [vid, "video", str(W), str(H), str(s["dur"]), s["codec"], g,
                            audio, s.get("bitrate", "-"), "-"]))
    elif s["kind"] == "audio":
        plan.append((0, [vid, "audio", "-", "-", str(s["dur"]), "mp3", "-",
                         "speech:" + speech[0], "-", "-"]))
    elif s["kind"] == "corrupt":
        plan.append((-1, [vid, "corrupt", "-", "-", "-", "-", "-", "-", "-", P(s["from_n"])]))
    elif s["kind"] == "empty":
        plan.append((-1, [vid, "empty", "-", "-", "-", "-", "-", "-", "-", "-"]))

    if s["kind"] == "audio":
        res, codec, audio_desc = "-", "mp3", "speech-" + speech[0]
    elif s["kind"] == "empty":
        res, codec, audio_desc = "-", "-", "-"
    else:
        res = "%dx%d" % (s["w"], s["h"])
        codec = s["codec"] + "/aac"
        if s["kind"] == "corrupt":
            codec += "(truncated)"
            audio_desc = "-"
        elif speech:
            audio_desc = "speech-" + speech[0]
        elif s.get("tone"):
            audio_desc = "sine-%dHz" % s["tone"]
        else:
            audio_desc = "silence"
    manifest.append([vid, vid + "." + ext, s["kind"], s["expected"], res, codec, str(s["dur"]),
                     audio_desc, (text or "-").replace("\n", " / "),
                     speech[1] if speech else "-", s["notes"]])

# Plan: most expensive encodes first (better packing on few cores); derived files last.
plan.sort(key=lambda p: -p[0])
with open(os.path.join(tmp, "plan.tsv"), "w", encoding="utf-8") as f:
    for _, row in plan:
        assert all(r and "\t" not in r and "\n" not in r for r in row), row
        f.write("\t".join(row) + "\n")

with open(os.path.join(out, "MANIFEST.tsv"), "w", encoding="utf-8") as f:
    f.write("\t".join(["id", "file", "kind", "expected", "resolution", "codec", "duration",
                       "audio", "onscreen_text", "speech", "notes"]) + "\n")
    for row in manifest:
        f.write("\t".join(row) + "\n")

by_n = {s["n"]: s for s in S}
links = [(1, "review_an_uong", "not_harmful"), (4, "vaytien", "harmful"),
         (6, "danhnhau", "harmful"), (7, "danhnhau", "harmful"), (9, "sugarbaby", "harmful"),
         (10, "dulich", "not_harmful"), (11, "podcast", "not_harmful")]
with open(os.path.join(out, "links.csv"), "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["hashtag", "link", "description", "label"])
    for n, tag, label in links:
        s = by_n[n]
        w.writerow(["#" + tag, "https://www.tiktok.com/@%s/video/%s" % (s["user"], P(n)),
                    s["caption"], label])
PY

# ---------------------------------------------------------------------------------------------
# 2. Media. Each job runs in $TMP (relative file names: no filter-graph escaping of OUT_DIR).
# ---------------------------------------------------------------------------------------------
FF=(ffmpeg -loglevel error -nostdin -y)

speech_wav() { # id lang -> $TMP/id.wav
    espeak-ng -v "$2" -s 150 -f "$1.speech.txt" -w "$1.wav"
}

gen_video() { # id w h dur codec graph audio bitrate (w h: informational, the graph sets the size)
    local id=$1 dur=$4 codec=$5 graph=$6 audio=$7 bitrate=$8
    cd "$TMP"
    local in=() agraph vopts=()
    case $audio in
        speech:*) speech_wav "$id" "${audio#speech:}"
                  in=(-i "$id.wav"); agraph="[0:a]aresample=44100,apad" ;;
        tone:*)   agraph="sine=f=${audio#tone:}:r=44100,volume=0.25" ;;
        silence)  agraph="anullsrc=r=44100:cl=stereo" ;;
        *) echo "bad audio spec '$audio'" >&2; return 1 ;;
    esac
    case $codec in
        h264) vopts=(-c:v libx264 -preset ultrafast) ;;
        hevc) vopts=(-c:v libx265 -preset ultrafast -tag:v hvc1 -x265-params log-level=error) ;;
        *) echo "bad codec '$codec'" >&2; return 1 ;;
    esac
    if [[ $bitrate != - ]]; then
        vopts+=(-b:v "$bitrate" -maxrate "$bitrate" -bufsize 500k)
        # Multithreaded x264 with bitrate/VBV control is not bit-reproducible; one thread is.
        if [[ $codec == h264 ]]; then vopts+=(-x264-params threads=1); fi
    else
        vopts+=(-crf 28)
    fi
    "${FF[@]}" "${in[@]}" -filter_complex "${graph}[vout];${agraph}[aout]" \
        -map '[vout]' -map '[aout]' -t "$dur" -r 30 \
        "${vopts[@]}" -pix_fmt yuv420p \
        -c:a aac -b:a 96k -ar 44100 -ac 2 \
        -map_metadata -1 -movflags +faststart "$id.part.mp4"
    mv -f "$id.part.mp4" "$OUT/$id.mp4"
    touch "$id.ok"
}

gen_audio() { # id dur lang
    local id=$1 dur=$2 lang=$3
    cd "$TMP"
    speech_wav "$id" "$lang"
    "${FF[@]}" -i "$id.wav" -af "aresample=44100,apad" -t "$dur" \
        -c:a libmp3lame -b:a 64k -ac 1 -map_metadata -1 -f mp3 "$id.part.mp3"
    mv -f "$id.part.mp3" "$OUT/$id.mp3"
    touch "$id.ok"
}

JOBS=${SAMPLES_JOBS:-$(nproc 2>/dev/null || echo 2)}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || JOBS=2
EXPECT=() DERIVED=()
while IFS=$'\t' read -r id kind w h dur codec graph audio bitrate from; do
    case $kind in
        video|audio)
            while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
            if [[ $kind == video ]]; then
                gen_video "$id" "$w" "$h" "$dur" "$codec" "$graph" "$audio" "$bitrate" >"$TMP/$id.log" 2>&1 &
            else
                gen_audio "$id" "$dur" "${audio#speech:}" >"$TMP/$id.log" 2>&1 &
            fi
            PIDS+=($!)
            EXPECT+=("$id") ;;
        corrupt|empty) DERIVED+=("$id:$kind:$from") ;;
        *) die "bad plan line for $id" ;;
    esac
done <"$TMP/plan.tsv"
for pid in "${PIDS[@]}"; do wait "$pid" || true; done

failed=0
for id in "${EXPECT[@]}"; do
    if [[ ! -f "$TMP/$id.ok" ]]; then
        echo "make-samples: generating $id failed:" >&2
        sed 's/^/    /' "$TMP/$id.log" >&2 || true
        failed=1
    fi
done
(( failed == 0 )) || die "media generation failed"

for d in "${DERIVED[@]}"; do
    IFS=: read -r id kind from <<<"$d"
    case $kind in
        corrupt)
            [[ -s "$OUT/$from.mp4" ]] || die "corrupt sample $id needs $from.mp4"
            { head -c 3000 "$OUT/$from.mp4"; head -c 2000 /dev/zero | tr '\0' 'Z'; } >"$TMP/$id.part"
            mv -f "$TMP/$id.part" "$OUT/$id.mp4" ;;
        empty)
            : >"$OUT/$id.mp4" ;;
    esac
done

rm -rf "$TMP"
printf '%s\n' "$VERSION" >"$OUT/.complete.part"
mv -f "$OUT/.complete.part" "$OUT/.complete"
echo "make-samples: wrote $(( $(wc -l <"$OUT/MANIFEST.tsv") - 1 )) samples to $OUT in $(( $(date +%s) - START ))s"
