"""What business names look like on a receipt header: suffixes, registration lines.

Evidence for the ranker that a header line is the vendor and not a slogan ("WELCOME
TO THE FAMILY", "TAX INVOICE"), and that a name block ends here ("… HARDWARE &" does
not; "… SDN BHD" followed by "(1179227A)" does).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Words that end Malaysian (and most English-speaking) business names: evidence that a
# header line is the vendor and not a slogan, and that a name block ends here.
_SUFFIX = (
    r"\b(SDN\.?\s*BHD|S/B|BHD|BERHAD|ENTERPRISES?|TRADING|RESTAURANT|RESTORAN|HARDWARE|"
    r"MART|MARKET|STORES?|SHOP|CO|COMPANY|RESOURCES|HOLDINGS|CAFE|BAKERY|KITCHEN|FOODS?|"
    r"PHARMACY|STATIONERY|SUPPL(Y|IES)|INDUSTRIES|CORPORATION|LTD|PLT|GROUP|HYPERMARKET|"
    r"SUPERMARKET|MINI ?MARKET|ELECTRICAL|MACHINERY|BOOKS?|GIFTS?|MOTOR|AUTO|CENTRE|CENTER)\b"
)
_SUFFIX_ANY = re.compile(_SUFFIX)
_SUFFIX_END = re.compile(_SUFFIX + r"[\s.)\]]*$")
_OPEN_END = re.compile(r"(&|\(|-|,|\bAND|\bOF|\bTHE)\s*$")
_BOILERPLATE = re.compile(
    r"\b(INVOICE|RECEIPT|WELCOME|THANK|TAX|CASH|SALES?|BILL|GST|TEL|FAX|TABLE|ORDER|DATE|TIME|"
    r"CASHIER|TOTAL|SIMPLIFIED|PLEASE|AGAIN|SHOPPING|MEMBER|OFFICIAL|COPY|NO|REG|OWNED|BY)\b"
)
# a line that is only a company registration number: "(1179227A)", "CO NO : 1174703-K"
_REGISTRATION_LINE = re.compile(
    r"^\W*((CO(MPANY)?|ROC|REG(ISTRATION)?)\.?\s*(REG\.?\s*)?(NO|NUMBER)?\.?\s*[:.]?\s*)?"
    r"\d{4,}[\s-]*[A-Z]?\W*$"
)


def has_suffix(upper: str) -> bool:
    return bool(_SUFFIX_ANY.search(upper))


def is_registration(upper: str) -> bool:
    return bool(_REGISTRATION_LINE.match(upper.strip()))


@lru_cache(maxsize=16384)
def name_stats(value: str) -> tuple[float, float, float, float]:
    """(ends in a business suffix, has one, ends open like "&", boilerplate words)."""
    v = value.upper()
    return (
        float(bool(_SUFFIX_END.search(v))),
        float(bool(_SUFFIX_ANY.search(v))),
        float(bool(_OPEN_END.search(v))),
        float(len(_BOILERPLATE.findall(v))),
    )
