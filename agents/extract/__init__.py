"""The local field extractor: a candidate ranker trained on labelled documents.

Public surface: `train_local_extractor` writes a versioned artifact directory,
`LocalExtractor.load` reads one back and implements `agents.ports.Extractor`.
"""

from agents.extract.errors import ExtractError, ModelArtifactError, TrainingDataError
from agents.extract.local import LocalExtractor, train_local_extractor

__all__ = [
    "ExtractError",
    "LocalExtractor",
    "ModelArtifactError",
    "TrainingDataError",
    "train_local_extractor",
]
