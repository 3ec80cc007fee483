"""The exercise catalog: one folder per exercise under ``exercises/``, checked at load.

Examples
--------
>>> catalog = load_catalog()
>>> "gd" in catalog.exercises and not catalog.errors
True
"""

from grader.catalog.loader import Catalog, CatalogError, default_directory, load_catalog
from grader.catalog.model import Case, Exercise, Mistake, Reference, Scoring

__all__ = [
    "Case", "Catalog", "CatalogError", "Exercise", "Mistake", "Reference", "Scoring",
    "default_directory", "load_catalog",
]
