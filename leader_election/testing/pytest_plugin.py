"""pytest plugin (entry point ``leader_election``): fixtures for testing leader-only code."""
