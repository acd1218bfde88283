"""The local field extractor: a candidate ranker trained on labelled documents.

Public surface: `LocalExtractor.load` reads a versioned artifact directory and
implements `agents.ports.Extractor`. Training (`agents.extract.train.train_local_extractor`)
is offline and imported from its module: serving never imports it.
"""

from agents.extract.errors import ExtractError, ModelArtifactError, TrainingDataError
from agents.extract.local import LocalExtractor

__all__ = [
    "ExtractError",
    "LocalExtractor",
    "ModelArtifactError",
    "TrainingDataError",
]
