"""Old pricing rules. No test imports this module: invisible."""


def legacy_price(cents):
    """Price with the pre-2020 flat tax."""
    return cents * 119 // 100


def legacy_discount(cents, percent):
    """Old discount rule, rounded down."""
    return cents - cents * percent // 100
