"""Engines: the models put to work — sampling, generation, harmonization, accompaniment.

``sampling`` draws tokens from the transformer under constraints, ``leadsheet`` is the
transformer engine (checkpoint loading and the segment-by-segment search), ``gan`` the GAN engine,
``generate`` and ``harmonize`` the two jobs users run, ``arrange`` the chord and bass tracks, and
``rules`` the rule-based harmonizers every learned one is measured against.
"""
