"""Norwegian national identity numbers, read straight off docs/national-id.md (slow, obviously right)."""

from __future__ import annotations

from datetime import date

WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)  # digits 1-10: digits 1-9 and the first control digit
WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)  # all 11 digits
FIRST_REMAINDERS = (0, 1, 2, 3)  # from 2032; a number does not say when it was issued, so all four always pass
FELLES_HJELPENUMMER_FIRST_DIGITS = (8, 9)


def remainders(text: str) -> tuple[int, int]:
    digits = [int(c) for c in text]
    first = sum(w * d for w, d in zip(WEIGHTS_1, digits, strict=False)) % 11
    second = sum(w * d for w, d in zip(WEIGHTS_2, digits, strict=True)) % 11
    return first, second


def is_date(day: int, month: int, yy: int) -> bool:
    """A real calendar date in at least one of the centuries the two year digits can stand for."""
    for century in (1800, 1900, 2000):
        try:
            date(century + yy, month, day)
            return True
        except ValueError:
            pass
    return False


def valid(text: str) -> bool:
    if len(text) != 11 or any(c not in "0123456789" for c in text):
        return False
    first, second = remainders(text)
    if second != 0:
        return False
    if int(text[0]) in FELLES_HJELPENUMMER_FIRST_DIGITS:
        # Felles hjelpenummer: no date part; control digits as in a classic (pre-2032) fødselsnummer.
        return first == 0
    if first not in FIRST_REMAINDERS:
        return False
    dd, mm, yy = int(text[0:2]), int(text[2:4]), int(text[4:6])
    for day in (dd, dd - 40):  # fødselsnummer; D-number (day + 40)
        for month in (mm, mm - 40, mm - 80):  # real; H-number or NAV synthetic (+ 40); Tenor synthetic (+ 80)
            if is_date(day, month, yy):
                return True
    return False
