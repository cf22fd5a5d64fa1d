"""The 1-5 self-rating scale (the labels are from the product brief; the MLF draft prints none)."""

from __future__ import annotations

RATING_LABELS = ["Insufficient", "Essential", "Proficient", "Strong", "Exemplary"]
