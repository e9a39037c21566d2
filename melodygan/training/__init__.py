"""Training: one explicit, resumable loop per model family (``ar``: the transformer, ``gan``: the GAN)."""
