"""The embedded staging endpoint: a small intent classifier served on loopback.

- ``make_dataset`` / ``templates`` / ``channels``: the bundled support-intents dataset;
- ``model``: the naive Bayes classifier trained from it at start-up;
- ``config``, ``payloads``, ``app``, ``server``: the WSGI endpoint and ``stagecheck demo-server``;
- ``testing``: start the endpoint as a subprocess from tests.

Nothing is imported here, so that ``python -m stagecheck.demo`` can monkey-patch first.
"""
