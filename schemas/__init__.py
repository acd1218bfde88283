"""The language everything speaks: event envelopes, field schemas, verdicts, the
catalogue of kinds and fields (`catalogue`), and the value normalisers and parsers
every layer shares (`values`).

Imports nothing of ours. Table models live in `infra.db`, built from these.
"""
