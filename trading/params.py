"""Market parameters the matching engine and the auction read. Governance replaces the whole object."""

from __future__ import annotations

from dataclasses import dataclass, field

from trading.tariffs import KWH, THB, TariffSchedule


@dataclass(frozen=True, slots=True)
class MarketParams:
    """Defaults from the original market: prices 0.50 to 20.00 THB/kWh, a minimum trade of 0.001 kWh, an order
    life of 900 s by default and 7 days at most. Prices in THB base units per kWh, quantities in GXT base units,
    times in milliseconds."""

    min_price: int = THB // 2
    max_price: int = 20 * THB
    min_trade: int = KWH // 1000
    default_life_ms: int = 900_000
    max_life_ms: int = 7 * 86_400_000
    tariffs: TariffSchedule = field(default_factory=TariffSchedule)

    def __post_init__(self):
        if not 0 < self.min_price <= self.max_price:
            raise ValueError("prices must satisfy 0 < min_price <= max_price")
        if self.min_trade < 1:
            raise ValueError("min_trade must be at least one base unit")
        if not 0 < self.default_life_ms <= self.max_life_ms:
            raise ValueError("order lives must satisfy 0 < default_life_ms <= max_life_ms")
