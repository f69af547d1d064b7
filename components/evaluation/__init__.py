"""How good a model is: the Evaluator's TFMA metrics and blessing (``evaluator``), and the offline
quality report of ``colornet evaluate`` (``report`` with per-photo ``metrics`` and a ``gallery``)."""
