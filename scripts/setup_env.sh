# Sourced by demo.sh and test.sh: create .venv, install melodygan (and an extra, if given), and
# the FluidSynth system library where apt-get is available. Re-runs are quick: the install is
# skipped while pyproject.toml is unchanged.
extra=${1:-}
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
source .venv/bin/activate
stamp=".venv/.melodygan-installed${extra:+-$extra}"
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # torch first, pinned: this release is a CPU wheel on local disk on our machines; an
    # unpinned torch would download a multi-GB CUDA build.
    python -m pip install -q "torch==2.13.0" 2>/dev/null || python -m pip install -q "torch>=2.2,<2.15"
    python -m pip install -q -e ".${extra:+[$extra]}"
    echo "$want" > "$stamp"
fi
# FluidSynth's C library makes WAVs sound like instruments; without it melodygan falls back to
# a plain synth with a warning.
if ! ldconfig -p 2>/dev/null | grep -q libfluidsynth; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q libfluidsynth3 >/dev/null 2>&1 || \
         (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libfluidsynth3 >/dev/null 2>&1)) \
            || echo "note: could not install libfluidsynth3; WAVs will use the plain fallback synth" >&2
    else
        echo "note: install FluidSynth (Debian/Ubuntu: apt-get install libfluidsynth3; macOS: brew install fluid-synth) for real instrument sounds" >&2
    fi
fi
