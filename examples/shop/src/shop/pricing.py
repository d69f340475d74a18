"""Prices, tags and carts."""


def price_with_tax(cents, rate):
    """Gross price in cents, rounded half up. Pure and hot: safe to cache."""
    return _round_half_up(cents * (1 + rate))


def _round_half_up(value):
    """Private helper: excluded from the scan by the `_*` pattern."""
    return int(value + 0.5)


def default_tags():
    """A fresh list of default tags on every call.

    Callers are allowed to mutate the result, so caching this function
    makes every caller share (and corrupt) one list: unsafe.
    """
    return ["sale"]


def tag_product(name):
    """Default tags plus the product name. Mutates default_tags()' result."""
    tags = default_tags()
    tags.append(name)
    return tags


def order_reference(order_id):
    """Human-readable order reference. Every order id is distinct: low hit rate."""
    return "ORD-%06d" % order_id


class Cart:
    """An immutable cart: its lines are fixed at construction time.

    Keeps the default identity ``__hash__``/``__eq__``, so an
    ``lru_cache`` on ``total`` keys on the cart object itself.
    """

    def __init__(self, lines, rate=0.2):
        self.lines = tuple(lines)  # (unit_cents, quantity) pairs
        self.rate = rate

    def total(self):
        """Gross total of the cart in cents."""
        return sum(price_with_tax(cents, self.rate) * qty for cents, qty in self.lines)
