"""The one place that turns integer base units into display strings. Integer arithmetic only: no float touches
an amount, and nothing is rounded (every base unit is shown)."""


def format_units(amount: int, decimals: int) -> str:
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(int(amount)), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole:,}"
    frac_text = f"{frac:0{decimals}d}".rstrip("0")
    return f"{sign}{whole:,}.{frac_text}" if frac_text else f"{sign}{whole:,}"


def parse_units(text: str, decimals: int) -> int:
    """'12.5' with 9 decimals -> 12_500_000_000. Refuses more fractional digits than the token has."""
    text = text.strip().replace(",", "").replace("_", "")
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    whole, _, frac = text.partition(".")
    if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"{text!r} is not a decimal amount")
    if len(frac) > decimals:
        raise ValueError(f"at most {decimals} decimal places")
    value = int(whole or "0") * 10**decimals + int((frac or "0").ljust(decimals, "0"))
    return -value if negative else value
