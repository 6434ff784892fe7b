"""The identifiers a merchant types: unified social credit codes, resident ID numbers, mobiles."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from merchants.validators import (
    mask_resident_id,
    normalise_code,
    validate_credit_code,
    validate_mobile,
    validate_resident_id,
)

VALID_CREDIT_CODES = ["91330100799655058B", "9144030071526726XG", "91350100M000100Y43"]
VALID_RESIDENT_ID = "11010519491231002X"


def error_text(validator, value, **kwargs) -> str:
    with pytest.raises(ValidationError) as caught:
        validator(value, **kwargs)
    return " ".join(caught.value.messages)


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_real_credit_codes_are_accepted(code):
    validate_credit_code(code)


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_lowercase_and_spaced_credit_codes_are_normalised_and_accepted(code):
    typed = f" {code[:6]} {code[6:].lower()} "
    validate_credit_code(typed)
    assert normalise_code(typed) == code


@pytest.mark.parametrize(
    ("mistyped", "expected", "got"),
    [
        ("91330100799655058C", "B", "C"),  # wrong check character
        ("91330100799655068B", "C", "B"),  # one digit mistyped in the body
        ("9144030071526762XG", "3", "G"),  # two digits swapped
        ("91350100M000100Y44", "3", "4"),
    ],
)
def test_mistyped_credit_code_is_rejected_with_check_character_message(mistyped, expected, got):
    message = error_text(validate_credit_code, mistyped)
    assert message == (f"The check character does not match: the last character should be {expected}, not {got}.")


def test_credit_code_of_wrong_length_says_how_many_characters_it_has():
    assert error_text(validate_credit_code, "9133010079965505") == (
        "A unified social credit code has 18 characters; this one has 16."
    )


def test_credit_code_with_letters_outside_the_alphabet_is_refused():
    # O, I, S, V and Z are not used in credit codes.
    assert "except I, O, S, V and Z" in error_text(validate_credit_code, "91330100799655O58B")


def test_real_resident_id_is_accepted_in_either_case():
    validate_resident_id(VALID_RESIDENT_ID)
    validate_resident_id(VALID_RESIDENT_ID.lower())


def test_mistyped_resident_id_gives_the_check_digit_message():
    assert error_text(validate_resident_id, "11010519491231003X") == (
        "The check digit does not match: the last character should be 8, not X."
    )


@pytest.mark.parametrize("number", ["110105194913310021", "110105189912310029"])
def test_resident_id_with_impossible_birth_date_is_refused(number):
    assert error_text(validate_resident_id, number) == (
        "The birth date in the ID number (digits 7 to 14) is not a real date."
    )


def test_resident_id_born_in_the_future_is_refused():
    message = error_text(validate_resident_id, VALID_RESIDENT_ID, today=datetime.date(1949, 12, 30))
    assert "is not a real date" in message


@pytest.mark.parametrize("number", ["11010519491231002", "11010519491231002XX", "1101051949123100AX"])
def test_resident_id_of_wrong_shape_is_refused(number):
    assert error_text(validate_resident_id, number) == "A resident ID number has 17 digits followed by a digit or X."


def test_mobile_numbers_are_checked():
    validate_mobile("13912345678")
    validate_mobile("139 1234 5678")
    assert "11 digits" in error_text(validate_mobile, "1234567890")
    assert "11 digits" in error_text(validate_mobile, "12912345678")


def test_resident_id_is_masked_to_first_three_and_last_four():
    assert mask_resident_id(VALID_RESIDENT_ID) == "110***********002X"
