#!/usr/bin/env bash
# Creates (once) the Python venv that holds the crawler's yt-dlp (pinned version and sha256,
# no dependencies: its optional extras are not needed for discovery and download) and prints
# the path of its `yt-dlp` executable on stdout (progress goes to stderr). `[crawl] ytdlp`
# or CLIPGUARD_CRAWL__YTDLP points ClipGuard at another one.
#
# Idempotent (scripts/lib/venv.sh): reused while its stamp matches the pin.
# Location: ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-ytdlp.
set -euo pipefail
pin="yt-dlp==2026.11.23"
sha="e9188e0c559905f7ee05acc1ba0b6fb3f310e7565bf6dea5f62b5300e0775e35"

source "$(dirname "${BASH_SOURCE[0]}")/lib/venv.sh"
reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
printf '%s --hash=sha256:%s\n' "$pin" "$sha" >"$reqs"
check() { "$venv/bin/yt-dlp" --version; }
venv_ensure ytdlp "$pin $sha" check --no-deps --require-hashes -r "$reqs"
echo "$venv/bin/yt-dlp"
