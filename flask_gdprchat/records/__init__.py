"""Accountability records: the record of processing activities (Art. 30)."""
