# Shared by scripts/*-venv.sh: a private Python venv built once under
# ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-NAME and reused while its stamp (written last)
# matches what the caller wants; otherwise rebuilt from scratch under a lock, so concurrent
# callers wait instead of seeing half a venv, and an interrupted build is simply redone.
# Python: $CLIPGUARD_PYTHON, else /usr/bin/python3, else python3 on PATH.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/venv.sh"
#   venv_ensure NAME "WANTED STAMP TEXT" CHECK_FUNCTION PIP_INSTALL_ARGS...
#
# Sets $venv. CHECK_FUNCTION is called (stdout and stderr silenced) to tell a working venv.

venv_ensure() {
  local name="$1" wanted="$2" check="$3"
  shift 3
  local cache="${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}"
  local python="${CLIPGUARD_PYTHON:-}"
  if [ -z "$python" ]; then
    if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi
  fi
  venv="$cache/venv-$name"
  local stamp="$venv/.clipguard-pins"
  _venv_ready() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && "$check" >/dev/null 2>&1
  }
  mkdir -p "$cache"
  if _venv_ready; then
    return 0
  fi
  exec 9>"$cache/venv-$name.lock"
  flock 9
  if ! _venv_ready; then
    echo "$name-venv: building $venv with $python ($1)" >&2
    local start
    start=$(date +%s)
    # Built where it will live: a venv is not relocatable.
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    "$check" >&2
    printf '%s\n' "$wanted" >"$stamp"
    echo "$name-venv: ready in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
  fi
  exec 9>&-
}
