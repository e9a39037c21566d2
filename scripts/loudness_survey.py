"""How loud generated clips are, and how far their peaks stand above their loudness.

Generates clips with the shipped transformer across genres, meters and accompaniment styles,
renders each with FluidSynth twice (peak-normalised to -1 dBFS, the old default, and at the
-18 LUFS default) and prints, per clip, the integrated loudness (pyloudnorm) and the
peak-to-loudness ratio. The ratio decides which loudness target a -1 dBFS peak ceiling allows
for every clip: the default target must sit under -1 dBFS minus the largest ratio.

    python scripts/loudness_survey.py --out /tmp/survey
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile

import melodygan
from melodygan.formats.audio import render_wav


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the clips and WAVs")
    parser.add_argument("--seeds", type=int, default=2, help="clips per setting")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    settings = itertools.product(("folk", "pop"), ((4, 4), (3, 4), (6, 8)), ("block", "arpeggio", "waltz"))
    for genre, meter, style in settings:
        for seed in range(1, args.seeds + 1):
            piece = melodygan.generate(num=1, bars=8, time_signature=meter, genre=genre, seed=seed)[0]
            band = melodygan.arrange(piece, style=style)
            name = f"{genre}-{meter[0]}{meter[1]}-{style}-{seed}"
            levels = []
            for tag, lufs in (("peak", None), ("lufs", -18.0)):
                (wav,) = render_wav(band, out / f"{name}-{tag}.wav", loudness_lufs=lufs, force=True)
                y, sr = soundfile.read(str(wav), dtype="float64")
                levels.append((pyloudnorm.Meter(sr).integrated_loudness(y), 20 * np.log10(np.abs(y).max()),
                               20 * np.log10(np.sqrt((y ** 2).mean()))))
            (l_peak, p_peak, rms_peak), (l_lufs, p_lufs, _) = levels
            rows.append((name, l_peak, rms_peak, p_peak - l_peak, l_lufs, p_lufs))
            print(f"{name:28s} peak-normalised: {l_peak:6.1f} LUFS, RMS {rms_peak:6.1f} dBFS, "
                  f"peak-to-loudness {p_peak - l_peak:5.1f} dB | default: {l_lufs:6.1f} LUFS, peak {p_lufs:5.1f} dBFS")
    a = np.array([r[1:] for r in rows])
    print(f"\n{len(rows)} clips. Peak-normalised: loudness {a[:, 0].min():.1f} to {a[:, 0].max():.1f} LUFS, "
          f"RMS {a[:, 1].min():.1f} to {a[:, 1].max():.1f} dBFS; peak-to-loudness ratio {a[:, 2].min():.1f} to "
          f"{a[:, 2].max():.1f} dB (median {np.median(a[:, 2]):.1f}). At the default: {a[:, 3].min():.2f} to "
          f"{a[:, 3].max():.2f} LUFS, peaks {a[:, 4].min():.1f} to {a[:, 4].max():.1f} dBFS.")


if __name__ == "__main__":
    main()
