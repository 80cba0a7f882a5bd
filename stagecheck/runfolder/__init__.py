"""The run folder: its layout and the one reader/writer of results.jsonl lines."""
