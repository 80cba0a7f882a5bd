"""The endpoint under test: its pre-flight check and the target's resource sampling."""
