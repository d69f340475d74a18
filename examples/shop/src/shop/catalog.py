"""The product catalog."""

import asyncio
import functools
import heapq

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


# The delivery network: a 30 x 30 grid of depots, the warehouse at (0, 0), each road
# taking 1 to 3 days.
GRID = 30
ZONES = {"north": (GRID - 1, 0), "east": (GRID - 1, GRID - 1), "south": (0, GRID - 1)}


def delivery_days(zone):
    """Fewest days from the warehouse to a zone's depot: a shortest-path search over the
    grid on every call. Pure, hot and costly: the function a cache pays most for."""
    goal = ZONES[zone]
    best = {(0, 0): 0}
    queue = [(0, (0, 0))]
    while queue:
        days, (x, y) = heapq.heappop(queue)
        if (x, y) == goal:
            return days
        if days > best[(x, y)]:
            continue
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < GRID and 0 <= ny < GRID:
                step = days + 1 + (nx * ny) % 3
                if step < best.get((nx, ny), step + 1):
                    best[(nx, ny)] = step
                    heapq.heappush(queue, (step, (nx, ny)))
    raise KeyError(zone)


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
