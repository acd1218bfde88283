"""Errors raised by the rules package.

    RulesError
    ├── GraphLoadError        permanent: a graph file is missing, unreadable or not valid JDM;
    │                         raised by `ZenRulesEvaluator.load`, fix the file and redeploy
    └── CaseFileError         permanent: a `<graph>.cases.json` file is malformed

Evaluation never raises for a bad document: an engine failure on one graph becomes a
`RULES_ERROR` reason with severity "review", so the document goes to a person.
"""

from __future__ import annotations


class RulesError(Exception):
    """Base of every error raised by `rules`."""


class GraphLoadError(RulesError):
    """A decision graph could not be read or compiled."""


class CaseFileError(RulesError):
    """A case table beside a graph is malformed."""
