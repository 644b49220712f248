"""The dashboard's forms. Amounts are typed as decimals (kWh, baht) and become integer base units here, through
`ledger.units.parse_units`; no float touches an amount."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib.auth import get_user_model, password_validation

from ledger.errors import GridTokenXError
from ledger.token_program import GXT_DECIMALS, THB_DECIMALS
from ledger.units import parse_units
from registry.models import Meter, Participant, Zone

LIVES = [(15, "15 minutes"), (60, "1 hour"), (1440, "1 day"), (10080, "7 days")]


def add_service_error(form: forms.Form, exc: GridTokenXError) -> None:
    """Show a service's refusal on the form: on the field it names when the form has one, else above the form."""
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


class AmountField(forms.CharField):
    """A positive decimal amount typed by a person, cleaned to integer base units."""

    def __init__(self, *, decimals: int, unit: str, **kwargs):
        self.decimals, self.unit = decimals, unit
        super().__init__(max_length=32, **kwargs)

    def clean(self, value):
        text = super().clean(value)
        try:
            amount = parse_units(text, self.decimals)
        except ValueError as exc:
            raise forms.ValidationError(f"Enter an amount in {self.unit}, such as 1.5 ({exc}).") from None
        if amount <= 0:
            raise forms.ValidationError(f"Enter an amount of {self.unit} above zero.")
        if amount >= 2**63:
            raise forms.ValidationError("That amount is too large.")
        return amount


class SignUpForm(forms.Form):
    username = forms.RegexField(r"^[A-Za-z0-9_.@+-]{3,150}$", max_length=150,
                                error_messages={"invalid": "Use 3 to 150 letters, digits or _.@+-"})
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=[(Participant.Role.PROSUMER, "Prosumer: I generate and consume"),
                                      (Participant.Role.CONSUMER, "Consumer: I only buy")])
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("This username is taken.")
        return username

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2:
            if p1 != p2:
                self.add_error("password2", "The two passwords differ.")
            else:
                try:
                    password_validation.validate_password(p1, get_user_model()(username=data.get("username", "")))
                except forms.ValidationError as exc:
                    self.add_error("password1", exc)
        return data


class MeterForm(forms.Form):
    serial = forms.RegexField(r"^[A-Za-z0-9_.:-]{1,32}$", max_length=32,
                              error_messages={"invalid": "Use 1 to 32 letters, digits or _.:-"})
    type = forms.ChoiceField(choices=Meter.Type.choices)
    zone = forms.ModelChoiceField(queryset=Zone.objects.all(), to_field_name="code", empty_label=None)
    latitude = forms.DecimalField(required=False, min_value=-90, max_value=90, decimal_places=6,
                                  help_text="Leave empty for the zone's centre.")
    longitude = forms.DecimalField(required=False, min_value=-180, max_value=180, decimal_places=6)
    capacity_w = forms.IntegerField(label="Capacity (W)", min_value=0, max_value=10**9, initial=5000)
    max_import_w = forms.IntegerField(label="Largest import (W)", min_value=0, max_value=10**9, initial=15000)
    public_key = forms.CharField(required=False, max_length=44, label="Meter public key (base58)",
                                 help_text="The meter's own Ed25519 public key. Leave empty and a key pair is made "
                                           "for you: its seed is shown once, for the meter to sign with.")


class OrderForm(forms.Form):
    """An order as a person types it; `nonce` is chosen when the form is shown, so sending it twice places one
    order."""

    nonce = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**63 - 1)
    side = forms.ChoiceField(choices=[("sell", "Sell"), ("buy", "Buy")])
    zone = forms.ModelChoiceField(queryset=Zone.objects.all(), to_field_name="code", empty_label=None)
    quantity = AmountField(decimals=GXT_DECIMALS, unit="kWh", label="Quantity (kWh)")
    price = AmountField(decimals=THB_DECIMALS, unit="THB per kWh", label="Price (THB per kWh)",
                        help_text="A sell's ask; a buy's highest landed cost per kWh delivered.")
    tif = forms.ChoiceField(label="Time in force", choices=[("gtc", "Good till cancelled"),
                                                           ("ioc", "Immediate or cancel"),
                                                           ("fok", "Fill or kill")])
    cross_zone = forms.BooleanField(required=False, label="Buy from other zones too (wheeling and losses apply)")
    life = forms.TypedChoiceField(label="Lifetime", choices=LIVES, coerce=int, initial=60)

    @staticmethod
    def new_nonce() -> int:
        return secrets.randbits(63)

    def order_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"nonce": d["nonce"], "side": d["side"], "zone": d["zone"].code, "quantity": d["quantity"],
                "price": d["price"], "tif": d["tif"], "cross_zone": d["cross_zone"], "life_ms": d["life"] * 60_000}

    def quote_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"side": d["side"], "zone": d["zone"].code, "quantity": d["quantity"], "price": d["price"],
                "cross_zone": d["cross_zone"]}

