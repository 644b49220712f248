"""Network charges between zones, and the integer arithmetic of a trade's money and energy. Pure: no I/O.

Units: prices and charges are THB base units (10^-6 THB) per kWh; energy is GXT base units (10^-9 kWh, so one
kWh is `KWH`); loss factors are basis points of the energy sent.

A kWh sent from zone s to zone z arrives as (1 - loss) kWh, and the buyer also pays the wheeling charge on every
kWh that arrives. So the buyer's cost per kWh actually delivered, the *landed cost* of an ask at `price`, is

    landed = wheeling + price / (1 - loss)      = price + wheeling + loss_cost,
    loss_cost = price * loss_bps / (10_000 - loss_bps),

computed as `wheeling + ceil(price * 10_000 / (10_000 - loss_bps))`: rounded up, so a buyer's limit compared
with a landed cost is never exceeded by rounding. `ask_ceiling` is its exact inverse: the highest ask price
whose landed cost fits within a buyer's limit.

A trade of `quantity` at `price` splits, truncating every division (the ledger never moves a fraction of a base
unit, and never delivers more energy than physics allows):

    effective  = quantity * (10_000 - loss_bps) // 10_000      GXT delivered to the buyer
    loss       = quantity - effective                            GXT lost in transmission
    value      = quantity * price // KWH                         THB gross value, paid for every kWh sent
    wheeling   = effective * wheeling_rate // KWH                THB to the grid operator
    loss_value = value - effective * price // KWH                the part of `value` paid for lost energy

With a loss of at least one base unit (any trade above the minimum size), value + wheeling never exceeds
quantity * buyer's limit // KWH, so an escrow of quantity x limit always covers a fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

BPS = 10_000
KWH = 10**9  # GXT base units per kWh
THB = 10**6  # THB base units per baht


class Tariff(NamedTuple):
    """Charges for energy sent between one pair of zones."""

    wheeling: int  # THB base units per kWh delivered
    loss_bps: int  # basis points of the energy sent


@dataclass(frozen=True, slots=True)
class TariffSchedule:
    """The zone-pair tariff matrix as a function of distance (|index a - index b| in the market's zone order).

    Defaults are the original gateway's seeded matrix: same zone 0.50 THB/kWh and 1 %, adjacent 1.00 and 3 %,
    two apart 1.70 and 5 %, further 1.50 + 0.10 x distance and 3 % + 1 % x distance capped at 15 %, and a zone
    outside the market 2.00 and 5 %. Governance replaces the whole schedule; every charge is bounded by
    `max_wheeling` and `max_loss_bps`.
    """

    same_zone: Tariff = Tariff(500_000, 100)
    adjacent: Tariff = Tariff(1_000_000, 300)
    two_apart: Tariff = Tariff(1_700_000, 500)
    further_wheeling_base: int = 1_500_000
    further_wheeling_step: int = 100_000
    further_loss_base_bps: int = 300
    further_loss_step_bps: int = 100
    further_loss_cap_bps: int = 1_500
    unknown: Tariff = Tariff(2_000_000, 500)
    max_wheeling: int = 10_000_000
    max_loss_bps: int = 2_000

    def __post_init__(self):
        if not 0 <= self.max_loss_bps < BPS:
            raise ValueError(f"max_loss_bps must be in 0..{BPS - 1}")
        for name in ("same_zone", "adjacent", "two_apart", "unknown"):
            self._check(name, getattr(self, name))
        if min(self.further_wheeling_base, self.further_wheeling_step, self.further_loss_base_bps,
               self.further_loss_step_bps, self.further_loss_cap_bps) < 0:
            raise ValueError("the further-zone terms must not be negative")
        self._check("further (cap)", Tariff(0, self.further_loss_cap_bps))

    def _check(self, name: str, tariff: Tariff) -> None:
        if not 0 <= tariff.wheeling <= self.max_wheeling:
            raise ValueError(f"{name}: wheeling must be in 0..{self.max_wheeling} THB base units per kWh")
        if not 0 <= tariff.loss_bps <= self.max_loss_bps:
            raise ValueError(f"{name}: loss must be in 0..{self.max_loss_bps} bps")

    def between(self, distance: int | None) -> Tariff:
        """The tariff for two zones `distance` apart; None for a zone outside the market."""
        if distance is None or distance < 0:
            return self.unknown
        if distance == 0:
            return self.same_zone
        if distance == 1:
            return self.adjacent
        if distance == 2:
            return self.two_apart
        wheeling = min(self.further_wheeling_base + self.further_wheeling_step * distance, self.max_wheeling)
        loss = min(self.further_loss_base_bps + self.further_loss_step_bps * distance, self.further_loss_cap_bps,
                   self.max_loss_bps)
        return Tariff(wheeling, loss)

    def matrix(self, zones: int) -> tuple[tuple[Tariff, ...], ...]:
        """matrix[seller_zone][buyer_zone] for zones 0..zones-1."""
        return tuple(tuple(self.between(abs(s - b)) for b in range(zones)) for s in range(zones))


def landed_cost(price: int, tariff: Tariff) -> int:
    """THB base units the buyer pays per kWh delivered for an ask at `price`, rounded up."""
    return tariff.wheeling + -(-price * BPS // (BPS - tariff.loss_bps))


def ask_ceiling(limit: int, tariff: Tariff) -> int:
    """The highest ask price whose landed cost is at most `limit` (negative when even a free kWh is too dear)."""
    return (limit - tariff.wheeling) * (BPS - tariff.loss_bps) // BPS


class Amounts(NamedTuple):
    effective: int
    loss: int
    value: int
    wheeling: int
    loss_value: int


def trade_amounts(quantity: int, price: int, tariff: Tariff) -> Amounts:
    """Every component of a trade of `quantity` GXT base units at `price`; see the module docstring."""
    effective = quantity * (BPS - tariff.loss_bps) // BPS
    value = quantity * price // KWH
    return Amounts(effective, quantity - effective, value, effective * tariff.wheeling // KWH,
                   value - effective * price // KWH)
