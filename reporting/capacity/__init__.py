"""The capacity search's report: console/Markdown view and HTML."""
