"""Helpers for tests: a whole portal as processes (`portal.py`), reading mails (`mail.py`)."""
