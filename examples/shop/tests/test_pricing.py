from shop.pricing import Cart, default_tags, order_reference, price_with_tax, tag_product


def test_price_with_tax_table():
    # 60 calls over 6 distinct (cents, rate) pairs.
    expected = {
        (100, 0.2): 120,
        (250, 0.2): 300,
        (999, 0.2): 1199,
        (100, 0.1): 110,
        (250, 0.1): 275,
        (999, 0.0): 999,
    }
    for _ in range(10):
        for (cents, rate), gross in expected.items():
            assert price_with_tax(cents, rate) == gross


def test_default_tags():
    assert default_tags() == ["sale"]


def test_tag_product_twice():
    # Fails only when default_tags is cached: the second call would see
    # the "apple" appended by the first one.
    assert tag_product("apple") == ["sale", "apple"]
    assert tag_product("pear") == ["sale", "pear"]


def test_order_references_are_unique():
    # 20 calls, 20 distinct arguments.
    refs = [order_reference(i) for i in range(1, 21)]
    assert refs[0] == "ORD-000001"
    assert refs[-1] == "ORD-000020"
    assert len(set(refs)) == 20


def test_cart_total_is_stable():
    small = Cart([(100, 2), (250, 1)])
    big = Cart([(999, 3), (100, 10)], rate=0.1)
    # 20 calls on 2 carts.
    for _ in range(10):
        assert small.total() == 540
        assert big.total() == 3297 + 1100


def test_carts_with_equal_lines_are_distinct_objects():
    a = Cart([(100, 1)])
    b = Cart([(100, 1)])
    assert a is not b
    assert a.total() == b.total() == 120
