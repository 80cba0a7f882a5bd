"""Representativeness against a production sample (``--against PROD``), and a run's figures
re-weighted to production's mix.

A room of its own: it reads a production file (with the dataset's reader), compares it with the
validation set, keeps the sample's weights in the run folder (``production.json``) and turns a
run's results into production-weighted figures for the summary's ``production`` section. Other
rooms call it at three places only: the CLI (the flag), the summary pipeline (the section, before
the thresholds are judged) and the views.

- :mod:`.sample`: reading the production file, fields mapped like the dataset's;
- :mod:`.compare`: distributions side by side, PSI, tests (Holm), regions, far inputs;
- :mod:`.nearest`: nearest-neighbour distance on character trigrams (sampled, rapidfuzz);
- :mod:`.strata`: post-stratification weights, cells validation lacks merged into coarser ones;
- :mod:`.weighted`: accuracy, macro-F1, per-class recall re-weighted, with a bootstrap interval;
- :mod:`.store`: ``production.json`` and the summary section;
- :mod:`.view`: console and Markdown lines;
- :mod:`.schema`: the typed values (the summary section and production.json).
"""
