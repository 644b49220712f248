"""How orders and trades look in the REST API (and in the order desk's answers)."""

from rest_framework import serializers

from trading.models import Order, Trade


class OrderSerializer(serializers.ModelSerializer):
    zone = serializers.CharField(source="zone.code")
    owner = serializers.CharField(source="owner.user.username")

    class Meta:
        model = Order
        fields = ["id", "owner", "nonce", "side", "kind", "tif", "cross_zone", "zone", "quantity", "price", "remaining",
                  "expires_at", "status", "reason", "escrowed", "refunded", "signature", "ledger_signature",
                  "created_at"]


class TradeSerializer(serializers.ModelSerializer):
    buyer_zone = serializers.CharField(source="buyer_zone.code")
    seller_zone = serializers.CharField(source="seller_zone.code")

    class Meta:
        model = Trade
        fields = ["id", "buy_order", "sell_order", "buyer_zone", "seller_zone", "quantity", "effective", "loss",
                  "price", "value", "fee", "wheeling", "loss_value", "ledger_signature", "block_height", "created_at"]
