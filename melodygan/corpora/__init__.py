"""Corpora: datasets → Pieces → cached arrays for training and evaluation.

``sources`` turns ``KIND:ARG`` specs into per-file jobs, one module per collection
(``nottingham``, ``jsb``), ``labelling`` labels chords where a source has none, and
``preprocess`` writes the arrays plus ``meta.json`` and loads them back.
"""
