"""The language everything speaks: event envelopes, field schemas, verdicts.

Imports nothing of ours. Table models live in `infra.db`, built from these.
"""
