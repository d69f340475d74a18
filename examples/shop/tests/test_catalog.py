import asyncio

from shop import catalog


def test_lookup_price_normalizes():
    # 40 calls to normalize_sku over 4 distinct raw SKUs.
    for _ in range(10):
        assert catalog.lookup_price("apple") == 120
        assert catalog.lookup_price(" banana ") == 45
        assert catalog.lookup_price("Cherry") == 900
        assert catalog.lookup_price("APRICOT ") == 300


def test_fetch_price():
    assert asyncio.run(catalog.fetch_price(" cherry")) == 900


def test_iter_skus():
    assert list(catalog.iter_skus("ap")) == ["APPLE", "APRICOT"]
    assert list(catalog.iter_skus()) == ["APPLE", "APRICOT", "BANANA", "CHERRY"]


def test_category_names():
    assert catalog.category_names() == ("berry", "fruit")


def test_delivery_days():
    # 30 calls over 3 zones, each a shortest-path search.
    for _ in range(10):
        assert catalog.delivery_days("north") == 29
        assert catalog.delivery_days("east") == 61
        assert catalog.delivery_days("south") == 29
