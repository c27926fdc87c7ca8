"""Probabilistic linkage model (issue #3): Splink 5 settings, training, prediction, explanations.

Input frames (pandas) carry these text columns, any optional one may be absent:

    unique_id (required, unique within a frame) · family_name · given_name · full_name
    · birth_date (ISO ``YYYY-MM-DD`` text, impossible dates kept as text) · national_id · phone
    (E.164) · occurred_at (ISO date of a record) · phone_from / phone_to (ISO validity interval
    of ``phone`` on the subjects side, ``phone_to`` null = still valid) · address · postcode
    · suburb · state

A trained model (:class:`LinkageModel`) keeps Splink's full JSON settings with the trained
m/u probabilities. :func:`predict` rebuilds the settings for the target backend's dialect from
:func:`linkage_settings` and copies the trained parameters into them, so a model trained on
DuckDB scores identically on Spark.

Method: Fellegi-Sunter with EM (Splink, https://moj-analytical-services.github.io/splink/).

The package is split by facet, as Splink's ``linker_components`` are; this module only gathers
the public names:

* :mod:`.settings` — the comparisons, their levels and labels, :func:`linkage_settings`;
* :mod:`.backends` — DuckDB and Spark database APIs (:func:`backend_api`,
  :func:`local_spark`) and the registration of frames on them;
* :mod:`.trained` — :class:`LinkageModel` and its file;
* :mod:`.training` — :func:`train`;
* :mod:`.inference` — :func:`predict` and :func:`best_links`;
* :mod:`.block_sizes` — :func:`blocking_warnings` for oversize blocks.
"""

from __future__ import annotations

from socialcredit.identity.model.backends import backend_api, local_spark
from socialcredit.identity.model.block_sizes import blocking_warnings
from socialcredit.identity.model.inference import best_links, predict
from socialcredit.identity.model.settings import COLUMNS, linkage_settings
from socialcredit.identity.model.trained import LinkageModel
from socialcredit.identity.model.training import train

__all__ = [
    "COLUMNS",
    "LinkageModel",
    "backend_api",
    "best_links",
    "blocking_warnings",
    "linkage_settings",
    "local_spark",
    "predict",
    "train",
]
