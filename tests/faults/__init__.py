"""Faults users hit: platform errors, Telegram outages, crashes, hostile input, leaked secrets."""
