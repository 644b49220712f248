"""The trading program: orders with escrow on the ledger, and atomic settlement of matched trades.

Accounts (owned by the trading program, at program-derived addresses):

| account | seeds | layout (little-endian) |
|---|---|---|
| market | `"market"` | kind u8 = 1, authority 32, fee_bps u16, paused u8, fee owner 32, grid owner 32, loss owner 32, min_price u64, max_price u64, min_trade u64, orders u64, trades u64, tariff schedule (see `_TARIFF`) |
| order | `"order"`, order id (u64) | kind u8 = 2, order id u64, owner 32, side u8 (1 buy, 2 sell), zone u16, price u64, quantity u64, remaining u64, escrowed u64, status u8 (1 open, 2 filled, 3 cancelled, 4 closed), expires_ms i64, digest 32 |

An order's escrow is the associated token account of the order's address: THB for a buy, GXT for a sell. Only
this program can move it, signing with the order's seeds. Amounts follow `trading.tariffs` exactly (the engine
and the ledger share one implementation): a buy escrows ceil(quantity x limit / 10^9) THB base units, which
covers the gross value and the wheeling charge of any fill within its limit; a sell escrows its quantity of GXT.

`settle` (data: quantity u64, price u64, and an optional close flag u8) moves, in one instruction, THB from the
buyer's escrow (the value, less the platform fee, to the seller; the fee to the fee collector; the wheeling charge
to the grid operator) and GXT from the seller's escrow (the effective energy to the buyer, the transmission loss
to the loss account). It checks both limits against the landed cost of the zone pair's tariff, so no trade the
orders did not allow can settle; if any leg fails, nothing moves. With the close flag (and the buyer's THB account
as a twelfth account), a fill that completes the buy also refunds what its escrow has left to the buyer and closes
it. `close` refunds what is left in an order's escrow to its owner: the unfilled remainder of a cancelled or
expired order, or the price improvement left by a filled buy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import lru_cache

from ledger.crypto import b58, find_program_address, sha256
from ledger.encoding import AccountMeta, Instruction
from ledger.errors import InstructionError
from ledger.runtime import AccountView, Invocation, Program, checked_add, checked_sub
from ledger.token_program import (
    IX_CREATE_ACCOUNT,
    IX_TRANSFER,
    IX_TRANSFER_SPLIT,
    TOKEN_PROGRAM_ID,
    Mint,
    associated_token_address,
    mint_address,
)
from trading.tariffs import BPS, KWH, Tariff, TariffSchedule, landed_cost, trade_amounts

TRADING_PROGRAM_ID = sha256(b"GridTokenX program: trading")


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderStatus(IntEnum):
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    CLOSED = 4  # filled, and its escrow's remainder refunded


IX_INITIALIZE = 1
IX_PLACE = 2
IX_CLOSE = 3
IX_SETTLE = 4
IX_SET_PAUSED = 5

_TARIFF = struct.Struct("<QH QH QH QH QQHHH QH")
_MARKET_HEAD = struct.Struct("<B32sHB32s32s32sQQQQQ")
_ORDERS_AT = struct.calcsize("<B32sHB32s32s32sQQQ")  # where the market's order counter lies, then its trade counter
_TRADES_AT = _ORDERS_AT + 8
_ORDER = struct.Struct("<BQ32sBHQQQQBq32s")
_PLACE = struct.Struct("<QBHQQQq32s")
_U64x2 = struct.Struct("<QQ")


def pack_tariffs(s: TariffSchedule) -> bytes:
    return _TARIFF.pack(*s.same_zone, *s.adjacent, *s.two_apart, *s.unknown, s.further_wheeling_base,
                        s.further_wheeling_step, s.further_loss_base_bps, s.further_loss_step_bps,
                        s.further_loss_cap_bps, s.max_wheeling, s.max_loss_bps)


@lru_cache(maxsize=64)
def unpack_tariffs(raw: bytes) -> TariffSchedule:
    v = _TARIFF.unpack(raw)
    return TariffSchedule(Tariff(v[0], v[1]), Tariff(v[2], v[3]), Tariff(v[4], v[5]), v[8], v[9], v[10], v[11],
                          v[12], Tariff(v[6], v[7]), v[13], v[14])


@dataclass(frozen=True, slots=True)
class Market:
    authority: bytes
    fee_bps: int
    paused: bool
    fee_owner: bytes
    grid_owner: bytes
    loss_owner: bytes
    min_price: int
    max_price: int
    min_trade: int
    orders: int
    trades: int
    tariffs: TariffSchedule

    def pack(self) -> bytes:
        return _MARKET_HEAD.pack(1, self.authority, self.fee_bps, int(self.paused), self.fee_owner, self.grid_owner,
                                 self.loss_owner, self.min_price, self.max_price, self.min_trade, self.orders,
                                 self.trades) + pack_tariffs(self.tariffs)

    @classmethod
    def unpack(cls, data: bytes) -> Market:
        if len(data) != _MARKET_HEAD.size + _TARIFF.size or data[0] != 1:
            raise InstructionError("invalid_market", "account is not the market")
        head = _MARKET_HEAD.unpack_from(data)
        return cls(head[1], head[2], bool(head[3]), *head[4:12], unpack_tariffs(data[_MARKET_HEAD.size:]))


@dataclass(frozen=True, slots=True)
class Order:
    order_id: int
    owner: bytes
    side: Side
    zone: int
    price: int
    quantity: int
    remaining: int
    escrowed: int
    status: OrderStatus
    expires_ms: int
    digest: bytes

    def pack(self) -> bytes:
        return self.packed_with(self.remaining, self.escrowed, self.status)

    def packed_with(self, remaining: int, escrowed: int, status: OrderStatus) -> bytes:
        """The account data of this order with its progress changed (packed directly: settlement's hot path)."""
        return _ORDER.pack(2, self.order_id, self.owner, self.side, self.zone, self.price, self.quantity,
                           remaining, escrowed, status, self.expires_ms, self.digest)

    @classmethod
    def unpack(cls, data: bytes) -> Order:
        if len(data) != _ORDER.size or data[0] != 2:
            raise InstructionError("invalid_order", "account is not an order")
        v = _ORDER.unpack(data)
        return cls(v[1], v[2], Side(v[3]), v[4], v[5], v[6], v[7], v[8], OrderStatus(v[9]), v[10], v[11])

    @property
    def mint(self) -> bytes:
        return mint_address("THB" if self.side == Side.BUY else "GXT")


@lru_cache(maxsize=1)
def market_address() -> bytes:
    return find_program_address([b"market"], TRADING_PROGRAM_ID)[0]


@lru_cache(maxsize=1 << 16)
def order_address(order_id: int) -> bytes:
    return find_program_address([b"order", order_id.to_bytes(8, "little")], TRADING_PROGRAM_ID)[0]


@lru_cache(maxsize=1 << 16)
def escrow_address(order_id: int, side: Side) -> bytes:
    return associated_token_address(order_address(order_id), mint_address("THB" if side == Side.BUY else "GXT"))


def buy_escrow(quantity: int, limit: int) -> int:
    """THB base units a buy of `quantity` at `limit` locks: enough for value + wheeling of any fill, rounded up."""
    return -(-quantity * limit // KWH)


def fee_of(value: int, fee_bps: int) -> int:
    """The platform fee on a trade's gross value, truncated."""
    return value * fee_bps // BPS


# -- instruction builders -----------------------------------------------------------------------------------

def _ix(tag: int, metas: list[tuple[bytes, bool, bool]], body: bytes = b"") -> Instruction:
    return Instruction(TRADING_PROGRAM_ID, tuple(AccountMeta(*m) for m in metas), bytes((tag,)) + body)


def initialize_ix(*, authority: bytes, fee_bps: int, fee_owner: bytes, grid_owner: bytes, loss_owner: bytes,
                  min_price: int, max_price: int, min_trade: int, tariffs: TariffSchedule) -> Instruction:
    body = struct.pack("<H32s32s32sQQQ", fee_bps, fee_owner, grid_owner, loss_owner, min_price, max_price,
                       min_trade) + pack_tariffs(tariffs)
    return _ix(IX_INITIALIZE, [(authority, True, True), (market_address(), False, True),
                               (mint_address("GXT"), False, False)], body)


def place_ix(*, owner: bytes, authority: bytes, order_id: int, side: Side, zone: int, price: int, quantity: int,
             escrow: int, expires_ms: int, digest: bytes) -> Instruction:
    mint = mint_address("THB" if side == Side.BUY else "GXT")
    return _ix(IX_PLACE, [
        (owner, True, False), (authority, True, True), (market_address(), False, True),
        (order_address(order_id), False, True), (associated_token_address(owner, mint), False, True),
        (escrow_address(order_id, side), False, True), (mint, False, False),
    ], _PLACE.pack(order_id, side, zone, price, quantity, escrow, expires_ms, digest))


def close_ix(*, signer: bytes, order_id: int, owner: bytes, side: Side) -> Instruction:
    mint = mint_address("THB" if side == Side.BUY else "GXT")
    return _ix(IX_CLOSE, [
        (signer, True, False), (market_address(), False, False), (order_address(order_id), False, True),
        (escrow_address(order_id, side), False, True), (associated_token_address(owner, mint), False, True),
    ])


def settle_ix(*, authority: bytes, buy_id: int, buyer: bytes, sell_id: int, seller: bytes, quantity: int,
              price: int, fee_owner: bytes, grid_owner: bytes, loss_owner: bytes,
              close_buy: bool = False) -> Instruction:
    """With `close_buy`, a fill that completes the buy also refunds what its escrow has left (its price
    improvement) to the buyer and closes it, as `close` would in a second instruction."""
    thb, gxt = mint_address("THB"), mint_address("GXT")
    metas = [
        (authority, True, False), (market_address(), False, True),
        (order_address(buy_id), False, True), (order_address(sell_id), False, True),
        (escrow_address(buy_id, Side.BUY), False, True), (escrow_address(sell_id, Side.SELL), False, True),
        (associated_token_address(buyer, gxt), False, True), (associated_token_address(seller, thb), False, True),
        (associated_token_address(fee_owner, thb), False, True), (associated_token_address(grid_owner, thb), False, True),
        (associated_token_address(loss_owner, gxt), False, True),
    ]
    if close_buy:
        metas.append((associated_token_address(buyer, thb), False, True))
    return _ix(IX_SETTLE, metas, _U64x2.pack(quantity, price) + (b"\x01" if close_buy else b""))


def settle_closes_buy(data: bytes) -> bool:
    """Whether a settle instruction's data (tag included) asks to close the buy its fill completes."""
    return len(data) == 1 + _U64x2.size + 1 and data[-1] == 1


def set_paused_ix(*, authority: bytes, paused: bool) -> Instruction:
    return _ix(IX_SET_PAUSED, [(authority, True, False), (market_address(), False, True)], bytes((int(paused),)))


# -- the program ------------------------------------------------------------------------------------------

def _counted(data: bytes, at: int) -> bytes:
    """The market's data with the counter at `at` one higher (the rest of the account unchanged)."""
    count = checked_add(int.from_bytes(data[at:at + 8], "little"), 1)
    return data[:at] + count.to_bytes(8, "little") + data[at + 8:]


def _market(view: AccountView) -> Market:
    if view.owner != TRADING_PROGRAM_ID or view.key != market_address():
        raise InstructionError("invalid_market", "the market account is not the trading program's market")
    return Market.unpack(view.data)


@lru_cache(maxsize=1 << 14)
def _order_seeds(order_id: int) -> tuple[bytes, ...]:
    seed = order_id.to_bytes(8, "little")
    return (b"order", seed, bytes((find_program_address([b"order", seed], TRADING_PROGRAM_ID)[1],)))


def _order(view: AccountView) -> Order:
    if view.owner != TRADING_PROGRAM_ID:
        raise InstructionError("unknown_order", f"{b58(view.key)} is not an order")
    order = Order.unpack(view.data)
    if view.key != order_address(order.order_id):
        raise InstructionError("invalid_account_address", "order account is not at its derived address")
    return order


def _pay_split(inv: Invocation, order: Order, escrow: AccountView, legs: tuple[tuple[AccountView, int], ...]) -> None:
    """Move amounts out of `order`'s escrow, signed with the order's seeds, in one call to the token program;
    nothing if all are zero."""
    if any(amount for _, amount in legs):
        inv.invoke(TOKEN_PROGRAM_ID, (AccountMeta(escrow.key, False, True),
                                      AccountMeta(order_address(order.order_id), True, False),
                                      *(AccountMeta(view.key, False, True) for view, _ in legs)),
                   bytes((IX_TRANSFER_SPLIT,)) + b"".join(amount.to_bytes(8, "little") for _, amount in legs),
                   signer_seeds=[_order_seeds(order.order_id)])


class TradingProgram(Program):
    program_id = TRADING_PROGRAM_ID
    name = "trading"

    def process(self, inv: Invocation) -> None:
        if not inv.data:
            raise InstructionError("invalid_instruction_data", "empty instruction data")
        handler = {IX_INITIALIZE: self._initialize, IX_PLACE: self._place, IX_CLOSE: self._close,
                   IX_SETTLE: self._settle, IX_SET_PAUSED: self._set_paused}.get(inv.data[0])
        if handler is None:
            raise InstructionError("invalid_instruction", f"unknown trading instruction {inv.data[0]}")
        handler(inv, inv.data[1:])

    def _initialize(self, inv: Invocation, body: bytes) -> None:
        inv.need(3)
        authority, market, mint_view = inv.accounts[:3]
        head = struct.calcsize("<H32s32s32sQQQ")
        if len(body) != head + _TARIFF.size:
            raise InstructionError("invalid_instruction_data", "initialize takes the fee, collectors, limits and tariffs")
        if mint_view.owner != TOKEN_PROGRAM_ID or mint_view.key != mint_address("GXT"):
            raise InstructionError("invalid_mint", "the third account must be the GXT mint")
        if not authority.is_signer or authority.key != Mint.unpack(mint_view.data).authority:
            raise InstructionError("unauthorized", "only the GXT mint authority may initialize the market")
        fee_bps, fee_owner, grid_owner, loss_owner, min_price, max_price, min_trade = struct.unpack_from(
            "<H32s32s32sQQQ", body)
        if fee_bps >= BPS or not 0 < min_price <= max_price or min_trade < 1:
            raise InstructionError("invalid_parameters", "fee below 100 %, 0 < min price <= max price, min trade >= 1")
        try:
            tariffs = unpack_tariffs(body[head:])
        except ValueError as exc:
            raise InstructionError("invalid_parameters", str(exc)) from None
        address, bump = find_program_address([b"market"], TRADING_PROGRAM_ID)
        if market.key != address:
            raise InstructionError("invalid_account_address", "the second account must be the market")
        inv.claim(market, [b"market", bytes((bump,))])
        market.data = Market(authority.key, fee_bps, False, fee_owner, grid_owner, loss_owner, min_price, max_price,
                             min_trade, 0, 0, tariffs).pack()

    def _set_paused(self, inv: Invocation, body: bytes) -> None:
        inv.need(2)
        authority, market_view = inv.accounts[:2]
        market = _market(market_view)
        if not authority.is_signer or authority.key != market.authority:
            raise InstructionError("unauthorized", "only the market authority may pause or resume the market")
        if len(body) != 1 or body[0] > 1:
            raise InstructionError("invalid_instruction_data", "set-paused takes one byte, 0 or 1")
        market_view.data = replace(market, paused=bool(body[0])).pack()

    def _place(self, inv: Invocation, body: bytes) -> None:
        inv.need(7)
        owner, authority, market_view, order_view, source, escrow, mint_view = inv.accounts[:7]
        market = _market(market_view)
        if not authority.is_signer or authority.key != market.authority:
            raise InstructionError("unauthorized", "the market authority must co-sign an order")
        if not owner.is_signer:
            raise InstructionError("missing_signature", "the order's owner must sign")
        if market.paused:
            raise InstructionError("market_paused", "the market is paused: no new orders")
        if len(body) != _PLACE.size:
            raise InstructionError("invalid_instruction_data", f"place takes {_PLACE.size} bytes")
        order_id, side, zone, price, quantity, escrow_amount, expires_ms, digest = _PLACE.unpack(body)
        if side not in (Side.BUY, Side.SELL):
            raise InstructionError("invalid_side", "side is 1 (buy) or 2 (sell)")
        side = Side(side)
        if not market.min_price <= price <= market.max_price:
            raise InstructionError("price_out_of_range", f"price must be {market.min_price} to {market.max_price}")
        if quantity < market.min_trade:
            raise InstructionError("quantity_too_small", f"quantity must be at least {market.min_trade}")
        need = buy_escrow(quantity, price) if side == Side.BUY else quantity
        if escrow_amount != need:
            raise InstructionError("wrong_escrow", f"this order escrows exactly {need} base units")
        mint = mint_address("THB" if side == Side.BUY else "GXT")
        if mint_view.key != mint or escrow.key != escrow_address(order_id, side):
            raise InstructionError("invalid_account_address", "mint or escrow account does not match the order")
        inv.claim(order_view, _order_seeds(order_id))
        inv.invoke(TOKEN_PROGRAM_ID, (AccountMeta(authority.key, True, True), AccountMeta(escrow.key, False, True),
                                      AccountMeta(order_view.key, False, False), AccountMeta(mint, False, False)),
                   bytes((IX_CREATE_ACCOUNT,)))
        inv.invoke(TOKEN_PROGRAM_ID, (AccountMeta(source.key, False, True), AccountMeta(escrow.key, False, True),
                                      AccountMeta(owner.key, True, False)),
                   bytes((IX_TRANSFER,)) + escrow_amount.to_bytes(8, "little"))
        order_view.data = Order(order_id, owner.key, side, zone, price, quantity, quantity, escrow_amount,
                                OrderStatus.OPEN, expires_ms, digest).pack()
        market_view.data = _counted(market_view.data, _ORDERS_AT)

    def _close(self, inv: Invocation, body: bytes) -> None:
        inv.need(5)
        signer, market_view, order_view, escrow, destination = inv.accounts[:5]
        market = _market(market_view)
        order = _order(order_view)
        if not signer.is_signer or signer.key not in (order.owner, market.authority):
            raise InstructionError("unauthorized", "only the order's owner or the market authority may close it")
        if order.status in (OrderStatus.CANCELLED, OrderStatus.CLOSED):
            raise InstructionError("order_closed", f"order {order.order_id} is already closed")
        if escrow.key != escrow_address(order.order_id, order.side):
            raise InstructionError("invalid_account_address", "not the order's escrow")
        if destination.key != associated_token_address(order.owner, order.mint):
            raise InstructionError("invalid_account_address", "refunds go to the owner's own token account")
        _pay_split(inv, order, escrow, ((destination, order.escrowed),))
        status = OrderStatus.CLOSED if order.status == OrderStatus.FILLED else OrderStatus.CANCELLED
        order_view.data = order.packed_with(order.remaining, 0, status)

    def _settle(self, inv: Invocation, body: bytes) -> None:
        inv.need(11)
        (authority, market_view, buy_view, sell_view, buy_escrow_view, sell_escrow_view, buyer_gxt, seller_thb,
         fee_thb, grid_thb, loss_gxt) = inv.accounts[:11]
        market = _market(market_view)
        if not authority.is_signer or authority.key != market.authority:
            raise InstructionError("unauthorized", "only the market authority settles trades")
        if len(body) not in (_U64x2.size, _U64x2.size + 1) or body[_U64x2.size:] not in (b"", b"\x00", b"\x01"):
            raise InstructionError("invalid_instruction_data", "settle takes quantity, price and an optional close flag")
        quantity, price = _U64x2.unpack_from(body)
        close_buy = settle_closes_buy(inv.data)
        buy, sell = _order(buy_view), _order(sell_view)
        if buy.side != Side.BUY or sell.side != Side.SELL:
            raise InstructionError("wrong_side", "the first order must be a buy, the second a sell")
        if buy.status != OrderStatus.OPEN or sell.status != OrderStatus.OPEN:
            raise InstructionError("order_not_open", "both orders must be open")
        if buy.owner == sell.owner:
            raise InstructionError("self_trade", "an owner cannot trade with itself")
        if inv.clock.timestamp_ms > min(buy.expires_ms, sell.expires_ms):
            raise InstructionError("order_expired", "an order has expired")
        if not 0 < quantity <= min(buy.remaining, sell.remaining):
            raise InstructionError("quantity_exceeds_remaining", "quantity exceeds what the orders have left")
        if quantity < market.min_trade and quantity not in (buy.remaining, sell.remaining):
            raise InstructionError("quantity_too_small", f"a fill is at least {market.min_trade} base units")
        tariff = market.tariffs.between(abs(buy.zone - sell.zone))
        if price < sell.price:
            raise InstructionError("price_below_ask", "the price is below the seller's limit")
        if landed_cost(price, tariff) > buy.price:
            raise InstructionError("price_above_bid", "the landed cost exceeds the buyer's limit")
        # Each account checked in its own place (pairs, not a dict keyed by the account given: one account passed
        # in two places must not pass the check of only one of them).
        expected = [
            (buy_escrow_view, escrow_address(buy.order_id, Side.BUY)),
            (sell_escrow_view, escrow_address(sell.order_id, Side.SELL)),
            (buyer_gxt, associated_token_address(buy.owner, mint_address("GXT"))),
            (seller_thb, associated_token_address(sell.owner, mint_address("THB"))),
            (fee_thb, associated_token_address(market.fee_owner, mint_address("THB"))),
            (grid_thb, associated_token_address(market.grid_owner, mint_address("THB"))),
            (loss_gxt, associated_token_address(market.loss_owner, mint_address("GXT"))),
        ]
        if close_buy:
            inv.need(12)
            buyer_thb = inv.accounts[11]
            expected.append((buyer_thb, associated_token_address(buy.owner, mint_address("THB"))))
        for view, wanted in expected:
            if view.key != wanted:
                raise InstructionError("invalid_account_address", f"account {b58(view.key)} is not the one this trade needs")
        a = trade_amounts(quantity, price, tariff)
        fee = fee_of(a.value, market.fee_bps)
        paid = checked_add(a.value, a.wheeling)
        buy_left = checked_sub(buy.escrowed, paid, "insufficient_escrow", "the buyer's escrow cannot cover this fill")
        sell_left = checked_sub(sell.escrowed, quantity, "insufficient_escrow", "the seller's escrow cannot cover this fill")
        buy_remaining, sell_remaining = buy.remaining - quantity, sell.remaining - quantity
        buy_status = OrderStatus.FILLED if buy_remaining == 0 else OrderStatus.OPEN
        legs = ((seller_thb, a.value - fee), (fee_thb, fee), (grid_thb, a.wheeling))
        refund = 0
        if close_buy and buy_remaining == 0:  # the price improvement goes back in the same call, and the buy closes
            refund, buy_left, buy_status = buy_left, 0, OrderStatus.CLOSED
            legs += ((buyer_thb, refund),)
        _pay_split(inv, buy, buy_escrow_view, legs)
        _pay_split(inv, sell, sell_escrow_view, ((buyer_gxt, a.effective), (loss_gxt, a.loss)))
        buy_view.data = buy.packed_with(buy_remaining, buy_left, buy_status)
        sell_view.data = sell.packed_with(sell_remaining, sell_left,
                                          OrderStatus.FILLED if sell_remaining == 0 else OrderStatus.OPEN)
        market_view.data = _counted(market_view.data, _TRADES_AT)
        inv.log(f"trade {buy.order_id}x{sell.order_id}: {quantity} at {price}, effective {a.effective}, "
                f"value {a.value}, fee {fee}, wheeling {a.wheeling}, loss {a.loss}"
                + (f"; buy closed, refund {refund}" if buy_status == OrderStatus.CLOSED else ""))

