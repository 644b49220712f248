"""What the dashboard writes on a user's behalf: orders signed with the user's custodial wallet key, and meters.

Orders go through the same door as the API's: `trading.services.order_place` with the canonical signed order
(trading.order_message), so the signature check, the market's rules, the pause and the escrow are the API's own.
The difference is only who signs: a browser has no key, so the server unseals the user's custodial key
(registry.wallets) for the one signature, after Django has checked the session and the form's CSRF token.
docs/DASHBOARD.md says why that is safe enough.
"""

from __future__ import annotations

from ledger.crypto import Keypair
from registry import services as registry_services
from registry.models import Meter, Participant
from registry.wallets import unseal
from trading import matcher
from trading import services as trading_services
from trading.models import Order
from trading.order_message import OrderMessage


def order_submit(*, participant: Participant, nonce: int, side: str, zone: str, quantity: int, price: int,
                 tif: str = "gtc", cross_zone: bool = False, life_ms: int = 0) -> tuple[Order, bool]:
    """Sign an order with the participant's wallet key and place it; returns (order, created).

    Idempotent per nonce, as the API: the form carries a nonce chosen when it was rendered, so a form sent twice
    places one order. Raises the trading service's errors (a paused market, a rule, insufficient funds)."""
    key = unseal(participant.wallet_secret)
    expires_at = trading_services.now_ms() + life_ms if life_ms else 0
    message = OrderMessage(owner=key.pubkey, nonce=nonce, side=side, kind="limit", tif=tif, cross_zone=cross_zone,
                           zone=zone, quantity=quantity, price=price, expires_at=expires_at)
    order, created = trading_services.order_place(participant=participant, body=message.to_json(message.sign(key)))
    if created:
        matcher.kick()
        order.refresh_from_db()  # the matcher may have run already (inline), or not yet
    return order, created


def meter_add(*, owner: Participant, serial: str, type: str, zone_code: str, latitude: float, longitude: float,
              capacity_w: int, max_import_w: int, public_key: str = "") -> tuple[Meter, Keypair | None]:
    """Register a meter with the public key its owner gives, or, with none given, with a new key pair made here;
    returns the meter and that new key pair (whose seed the caller shows once and nobody stores)."""
    generated = None if public_key else Keypair.generate()
    meter = registry_services.meter_register(
        owner=owner, serial=serial, type=type, zone_code=zone_code, latitude=latitude, longitude=longitude,
        capacity_w=capacity_w, max_import_w=max_import_w,
        public_key=public_key or generated.address)
    return meter, generated
