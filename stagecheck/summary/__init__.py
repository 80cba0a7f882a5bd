"""A run's summary: built from the aggregate (build), its schema, validity and verdict."""
