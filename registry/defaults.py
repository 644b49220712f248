"""The zones a new GridTokenX installation starts with: five distribution zones of the Bangkok metropolitan area
(centre and bounding box in degrees). Operators add or change zones through the API or the admin."""

from __future__ import annotations

from registry.models import Zone

# code, name, (centre lat, lon), (south, west, north, east)
DEFAULT_ZONES = (
    ("BKK-C", "Bangkok Central", (13.745, 100.530), (13.68, 100.45, 13.81, 100.61)),
    ("BKK-N", "Bangkok North", (13.900, 100.550), (13.81, 100.40, 14.05, 100.70)),
    ("BKK-E", "Bangkok East", (13.760, 100.720), (13.60, 100.61, 13.95, 100.95)),
    ("BKK-S", "Bangkok South", (13.620, 100.520), (13.45, 100.40, 13.68, 100.61)),
    ("BKK-W", "Bangkok West", (13.760, 100.350), (13.60, 100.20, 13.81, 100.45)),
)


def zones_seed() -> int:
    """Register the default zones that do not exist yet; returns how many were created."""
    from registry.services import zone_register

    created = 0
    for code, name, center, bbox in DEFAULT_ZONES:
        if not Zone.objects.filter(code=code).exists():
            zone_register(code=code, name=name, center=center, bbox=bbox)
            created += 1
    return created
