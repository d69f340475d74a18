"""A tiny shop used to demonstrate cachescan.

Deliberately imports nothing, so that importing ``shop`` does not load
``shop.legacy`` (which must stay invisible to the test suite).
"""

__version__ = "0.1.0"
