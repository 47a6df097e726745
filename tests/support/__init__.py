"""What the harness's own tests need beyond the fixtures: sessions and commands run from
outside, in subprocesses (outside.py)."""
