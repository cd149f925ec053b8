#!/usr/bin/env bash
# Idempotent set-up: a .venv on Python 3.11, torch (CPU 2.13.0 unless one is importable), the suite
# in editable mode with its dev extras, and the GL libraries MuJoCo needs to render headless.
set -euo pipefail
PY=${PY:-python3.11}
VENV=${VENV:-.venv}

if ! command -v "$PY" >/dev/null; then
  echo "error: $PY not found; the suite needs Python 3.11 (LIBERO's MuJoCo 2.3.7 pin)." >&2; exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  if "$PY" -c "import torch" 2>/dev/null; then
    echo "[install] $PY already has torch: the venv will see it (--system-site-packages)"
    "$PY" -m venv --system-site-packages "$VENV"
  else
    "$PY" -m venv "$VENV"
  fi
fi
# (this machine's pip.conf names index folders that may not exist: drop pip's warnings about them)
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "[install] torch==2.13.0 (CPU wheel; GPU users: install your torch first and re-run)"
  pip install "torch==2.13.0"
fi
echo "[install] hilam and its dependencies"
pip install -e ".[dev]"

# Headless rendering: EGL (preferred) or OSMesa.
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
if ! { have_lib libEGL.so.1 && [ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] || have_lib libOSMesa.so; }; then
  PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[install] apt-get install $PKGS"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PKGS >/dev/null
  else
    echo "warning: no headless GL library found; rendering will fail. Install with:" >&2
    echo "  sudo apt-get install -y $PKGS" >&2
  fi
fi
echo "[install] done"
