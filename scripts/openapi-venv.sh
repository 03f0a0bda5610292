#!/usr/bin/env bash
# Creates (once) the Python venv with openapi-spec-validator, which the API tests run on the
# served `/api/v1/openapi.json`, and prints the path of its executable on stdout.
# Idempotent (scripts/lib/venv.sh). Location: ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-openapi.
set -euo pipefail
pins=("openapi-spec-validator==0.9.0")
source "$(dirname "${BASH_SOURCE[0]}")/lib/venv.sh"
check() { "$venv/bin/openapi-spec-validator" --help; }
venv_ensure openapi "$(printf '%s\n' "${pins[@]}")" check "${pins[@]}"
echo "$venv/bin/openapi-spec-validator"
