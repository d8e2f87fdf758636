"""Model catalog: discovery sources, classification, caching and the curated fallback list.

Entry point: ``CatalogService`` (one per provider). The pieces are usable alone: ``sources``
(HTTP listings), ``records`` (merged discovery facts), ``classify`` (pure classification),
``cache`` (TTL cache on disk), ``curated`` (the shipped list) and ``suggest`` (model-not-found
help).
"""

from __future__ import annotations

from lakecode.databricks.catalog.cache import DEFAULT_TTL, CatalogCache
from lakecode.databricks.catalog.classify import ModelTraits, classify_record, traits_for
from lakecode.databricks.catalog.curated import CuratedEntry, CuratedList, load_curated
from lakecode.databricks.catalog.records import EndpointRecord, merge_records
from lakecode.databricks.catalog.service import CatalogResult, CatalogService
from lakecode.databricks.catalog.sources import ALL_SOURCES, DiscoveryOptions, SourceResult
from lakecode.databricks.catalog.suggest import suggest_models

__all__ = [
    "ALL_SOURCES",
    "DEFAULT_TTL",
    "CatalogCache",
    "CatalogResult",
    "CatalogService",
    "CuratedEntry",
    "CuratedList",
    "DiscoveryOptions",
    "EndpointRecord",
    "ModelTraits",
    "SourceResult",
    "classify_record",
    "load_curated",
    "merge_records",
    "suggest_models",
    "traits_for",
]
