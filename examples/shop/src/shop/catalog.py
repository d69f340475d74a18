"""The product catalog."""

import asyncio
import functools

PRICES = {
    "APPLE": 120,
    "BANANA": 45,
    "CHERRY": 900,
    "APRICOT": 300,
}

CATEGORIES = {
    "APPLE": "fruit",
    "BANANA": "fruit",
    "CHERRY": "berry",
    "APRICOT": "fruit",
}


def normalize_sku(raw):
    """Canonical SKU: trimmed and upper-cased. Pure and hot: safe to cache."""
    return raw.strip().upper()


def lookup_price(raw_sku):
    """Unit price in cents of a SKU as typed by a user."""
    return PRICES[normalize_sku(raw_sku)]


async def fetch_price(raw_sku):
    """Async lookup. Caching would hand out one coroutine twice: skipped."""
    await asyncio.sleep(0)
    return lookup_price(raw_sku)


def iter_skus(prefix=""):
    """Generator over SKUs. A cached generator is exhausted after one use: skipped."""
    for sku in sorted(PRICES):
        if sku.startswith(normalize_sku(prefix)):
            yield sku


@functools.lru_cache(maxsize=None)
def category_names():
    """Already cached: skipped."""
    return tuple(sorted(set(CATEGORIES.values())))


def discontinued_skus():
    """Nothing calls this, although the module is imported: not-called."""
    return [sku for sku, cents in PRICES.items() if cents == 0]
