"""Real-browser tests (marker ``browser``). A package so that its module names (e.g.
``test_report_html``) do not clash with the unit tests of the same name."""
