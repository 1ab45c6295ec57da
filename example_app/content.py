"""The clinic's published facts: treatments, prices and opening hours."""
from __future__ import annotations

from typing import NamedTuple


class Treatment(NamedTuple):
    slug: str
    name: str
    summary: str
    duration: str
    price_from: int


TREATMENTS = [
    Treatment("check-up", "Check-up & clean",
              "A full examination, digital X-rays when due, and a gentle scale and polish.",
              "45 min", 65),
    Treatment("whitening", "Teeth whitening",
              "Custom trays and a professional gel for a shade that still looks like you.",
              "2 visits", 290),
    Treatment("invisalign", "Clear aligners",
              "Straighter teeth with near-invisible aligners, planned on a 3D scan.",
              "6–18 months", 2400),
    Treatment("implants", "Dental implants",
              "A titanium root and a ceramic crown that replace a missing tooth for good.",
              "3–6 months", 1850),
    Treatment("fillings", "Tooth-coloured fillings",
              "Composite fillings matched to your enamel, done in a single visit.",
              "30–60 min", 95),
    Treatment("children", "Children's dentistry",
              "Calm first visits, fissure sealants and advice for parents.",
              "30 min", 40),
]

#: (day, hours) as shown on the prices page and in the footer.
OPENING_HOURS = [
    ("Monday", "8:00 – 18:00"),
    ("Tuesday", "8:00 – 18:00"),
    ("Wednesday", "8:00 – 20:00"),
    ("Thursday", "8:00 – 18:00"),
    ("Friday", "8:00 – 16:00"),
    ("Saturday", "9:00 – 13:00"),
    ("Sunday", "Closed"),
]

PRICE_LIST = [
    ("Check-up & clean", "€65"),
    ("Emergency appointment", "€80"),
    ("Digital X-ray (each)", "€25"),
    ("Tooth-coloured filling", "from €95"),
    ("Root canal treatment", "from €450"),
    ("Teeth whitening (home kit + trays)", "€290"),
    ("Dental implant with crown", "from €1,850"),
    ("Clear aligners", "from €2,400"),
    ("Children under 12, check-up", "€40"),
]

CLINIC = {
    "name": "Brightsmile Dental",
    "street": "Lindenstraße 24",
    "city": "10969 Berlin",
    "phone": "+49 30 1234 5678",
    "email": "hello@brightsmile.example",
}
