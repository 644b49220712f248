"""Orders as the matching engine and the auction see them, and the rules an order must meet to be accepted."""

from __future__ import annotations

from ledger.errors import InvalidInput
from trading.params import MarketParams

BUY = "buy"
SELL = "sell"
LIMIT = "limit"
MARKET = "market"
GTC = "gtc"  # good till cancelled (or expired)
IOC = "ioc"  # immediate or cancel: whatever does not fill at once is cancelled
FOK = "fok"  # fill or kill: fills completely at once, or is cancelled without touching the book


class OrderRejected(InvalidInput):
    """An order the engine refuses; nothing changed. `code` names the rule, e.g. `market_sell_refused`."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(message, **details)
        self.code = code


class Order:
    """One order. The caller assigns `id`, increasing with arrival (the id is the order's time priority), and
    hands the order to the engine, which owns it from then on and keeps `remaining` and `filled` up to date.

    `price` is the most the buyer pays per kWh delivered, by landed cost (see `trading.tariffs`), or the least the
    seller takes per kWh sent. A market buy carries its price cap in `price`. `cross_zone` lets a buy take asks
    from other zones when it arrives. `expires_at` is in milliseconds; None means the market's default life.

    The constructor checks the types and the enumerations (normalised to this module's constants, so the engine
    compares them by identity); `order_check` applies the market's rules.
    """

    __slots__ = ("id", "owner", "side", "zone", "quantity", "price", "kind", "tif", "expires_at", "cross_zone",
                 "remaining", "filled")

    def __init__(self, *, id: int, owner: int | str, side: str, zone: int, quantity: int, price: int,
                 kind: str = LIMIT, tif: str = GTC, expires_at: int | None = None, cross_zone: bool = False):
        for name, value in (("id", id), ("zone", zone), ("quantity", quantity), ("price", price)):
            if type(value) is not int:
                raise OrderRejected(f"invalid_{name}", f"{name} must be an integer, not {value!r}")
        if expires_at is not None and type(expires_at) is not int:
            raise OrderRejected("invalid_expires_at", "expires_at must be an integer (milliseconds) or None")
        if type(owner) not in (int, str):
            raise OrderRejected("invalid_owner", "owner must be an integer or a string")
        self.id = id
        self.owner = owner
        self.side = _one_of(side, (BUY, SELL), "side")
        self.zone = zone
        self.quantity = quantity
        self.price = price
        self.kind = _one_of(kind, (LIMIT, MARKET), "kind")
        self.tif = _one_of(tif, (GTC, IOC, FOK), "time_in_force")
        self.expires_at = expires_at
        self.cross_zone = bool(cross_zone)
        self.remaining = quantity
        self.filled = 0

    def __repr__(self) -> str:
        return (f"Order(id={self.id}, owner={self.owner!r}, {self.side} {self.kind} {self.tif}, zone={self.zone}, "
                f"quantity={self.quantity}, price={self.price}, remaining={self.remaining}, filled={self.filled})")


def _one_of(value: str, choices: tuple[str, ...], name: str) -> str:
    for choice in choices:
        if value == choice:
            return choice
    raise OrderRejected(f"invalid_{name}", f"{name.replace('_', ' ')} must be one of {', '.join(choices)}, "
                                           f"not {value!r}")


def order_check(order: Order, *, now: int, params: MarketParams, zones: int) -> None:
    """Raise OrderRejected naming the first market rule `order` breaks. Fills in the default expiry, and
    normalises the enumerations again in case they were set after construction."""
    o = order
    o.side = _one_of(o.side, (BUY, SELL), "side")
    o.kind = _one_of(o.kind, (LIMIT, MARKET), "kind")
    o.tif = _one_of(o.tif, (GTC, IOC, FOK), "time_in_force")
    if o.kind is MARKET:
        if o.side is SELL:
            raise OrderRejected("market_sell_refused", "market sells are refused; place a limit sell")
        if o.tif is GTC:
            raise OrderRejected("market_order_cannot_rest", "a market order is IOC or FOK; it never rests")
    if o.cross_zone and o.side is SELL:
        raise OrderRejected("cross_zone_sell", "only buys reach into other zones; a sell is offered in its own zone")
    if not 0 <= o.zone < zones:
        raise OrderRejected("unknown_zone", f"zone must be an index in 0..{zones - 1}")
    if o.quantity < params.min_trade:
        raise OrderRejected("below_min_trade", f"quantity must be at least {params.min_trade} "
                                               "GXT base units (the minimum trade)")
    if not params.min_price <= o.price <= params.max_price:
        raise OrderRejected("price_out_of_range", f"price must be in {params.min_price}.."
                                                  f"{params.max_price} THB base units per kWh")
    if o.expires_at is None:
        o.expires_at = now + params.default_life_ms
    elif o.expires_at <= now:
        raise OrderRejected("already_expired", "the order expires before it arrives")
    elif o.expires_at > now + params.max_life_ms:
        raise OrderRejected("life_too_long", f"an order lives at most {params.max_life_ms // 1000} s")
