"""Pure parts of the exchange interface: rounding, value types, credentials and their cipher."""

import pickle
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.exchange import (
    AssetBalance,
    Balance,
    BatchResult,
    Market,
    Order,
    OrderRequest,
    RejectedOrder,
    round_price,
    round_qty_down,
)
from engine.venues.live.credentials import CredentialCipher, CredentialError, Credentials, mask

# Bitget USDT-M BTCUSDT: pricePlace 1 -> tick 0.1, volumePlace 4 -> step 0.0001 (tests/fixtures/bitget).
BTC_SWAP = Market(
    symbol="BTC/USDT:USDT",
    base="BTC",
    quote="USDT",
    type="swap",
    price_tick=Decimal("0.1"),
    amount_step=Decimal("0.0001"),
    min_qty=Decimal("0.0001"),
    min_notional=Decimal("5"),
    maker_fee=Decimal("0.0002"),
    taker_fee=Decimal("0.0006"),
    max_leverage=125,
)
# A tick that is not a power of ten (Bitget priceEndStep 5 with pricePlace 1).
HALF_TICK = Market(
    "X/USDT", "X", "USDT", "spot", Decimal("0.5"), Decimal("0.01"), Decimal("0.01"), Decimal(0)
)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("104676.54", "104676.5"),
        ("104676.55", "104676.6"),  # a half goes up
        ("104676.56", "104676.6"),
        ("104676.5", "104676.5"),
        ("7", "7.0"),
    ],
)
def test_round_price_to_nearest_tick(price: str, expected: str) -> None:
    result = round_price(BTC_SWAP, Decimal(price))
    assert result == Decimal(expected)
    assert str(result) == expected  # carries the tick's exponent, ready to send


def test_round_price_with_a_tick_of_half() -> None:
    assert round_price(HALF_TICK, Decimal("10.74")) == Decimal("10.5")
    assert round_price(HALF_TICK, Decimal("10.75")) == Decimal("11.0")


@pytest.mark.parametrize(
    ("qty", "expected"),
    [("0.01239", "0.0123"), ("0.00019999", "0.0001"), ("0.00009", "0.0000"), ("1", "1.0000")],
)
def test_round_qty_down_to_lot_step(qty: str, expected: str) -> None:
    result = round_qty_down(BTC_SWAP, Decimal(qty))
    assert result == Decimal(expected)
    assert str(result) == expected


decimals = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000000"), places=8)


@given(decimals)
def test_round_price_is_a_tick_multiple_within_half_a_tick(price: Decimal) -> None:
    for market in (BTC_SWAP, HALF_TICK):
        result = round_price(market, price)
        assert result % market.price_tick == 0
        assert abs(result - price) <= market.price_tick / 2


@given(decimals)
def test_round_qty_down_never_rounds_up(qty: Decimal) -> None:
    result = round_qty_down(BTC_SWAP, qty)
    assert result % BTC_SWAP.amount_step == 0
    assert Decimal(0) <= qty - result < BTC_SWAP.amount_step


def test_order_request_checks_its_shape() -> None:
    with pytest.raises(ValueError, match="price"):
        OrderRequest("BTC/USDT", "buy", "limit", Decimal(1), None, "cid")
    with pytest.raises(ValueError, match="client_order_id"):
        OrderRequest("BTC/USDT", "buy", "market", Decimal(1), None, "")
    with pytest.raises(ValueError, match="side"):
        OrderRequest("BTC/USDT", "long", "market", Decimal(1), None, "cid")  # type: ignore[arg-type]
    OrderRequest("BTC/USDT", "sell", "market", Decimal(1), None, "cid")


def test_value_type_helpers() -> None:
    balance = Balance({"USDT": AssetBalance(Decimal(90), Decimal(10), Decimal(100))})
    assert balance.free("USDT") == Decimal(90)
    assert balance.total("BTC") == Decimal(0)
    order = Order(
        "1",
        "c",
        "BTC/USDT",
        "buy",
        "limit",
        Decimal(1),
        Decimal("0.5"),
        Decimal("0.2"),
        None,
        Decimal(0),
        "open",
        None,
    )
    assert order.remaining_qty == Decimal("0.3")
    assert order.is_open
    result = BatchResult(rejected=(RejectedOrder("a", "why"), RejectedOrder("b", "why")))
    assert result.rejected_ids == {"a", "b"}


# --- credentials ----------------------------------------------------------------------------------

API_KEY = "bg_0123456789abcdefyz"
SECRET = "s3cr3t-value-of-the-user"
PASSPHRASE = "my-pass-phrase"


def test_credentials_never_show_their_secrets() -> None:
    creds = Credentials(API_KEY, SECRET, PASSPHRASE)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds]), repr({"c": creds})):
        assert text.count("Credentials(api_key='bg…yz')") >= 1
        assert SECRET not in text
        assert PASSPHRASE not in text
        assert API_KEY not in text
    assert (creds.api_key, creds.secret, creds.passphrase) == (API_KEY, SECRET, PASSPHRASE)
    assert not hasattr(creds, "__dict__")  # nothing for vars() to dump
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_mask_hides_short_values_entirely() -> None:
    assert mask("abcdefgh") == "ab…gh"
    assert mask("abc") == "…"


def test_credentials_need_key_and_secret() -> None:
    with pytest.raises(ValueError):
        Credentials("", SECRET)


def test_cipher_round_trip() -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    token = cipher.encrypt(SECRET)
    assert SECRET not in token
    assert cipher.decrypt(token) == SECRET
    assert cipher.encrypt(SECRET) != token  # Fernet adds a random IV: equal secrets do not show
    creds = Credentials.from_encrypted(cipher, cipher.encrypt(API_KEY), token, cipher.encrypt(PASSPHRASE))
    assert creds == Credentials(API_KEY, SECRET, PASSPHRASE)
    assert Credentials.from_encrypted(cipher, cipher.encrypt(API_KEY), token).passphrase is None


def test_cipher_with_the_wrong_key_fails_clearly() -> None:
    token = CredentialCipher(CredentialCipher.generate_key()).encrypt(SECRET)
    other_key = CredentialCipher.generate_key()
    other = CredentialCipher(other_key.encode())  # bytes keys work too
    with pytest.raises(CredentialError):
        other.decrypt(token)
    with pytest.raises(CredentialError):
        other.decrypt("not-a-token")
    with pytest.raises(CredentialError):
        CredentialCipher("too-short")
    assert other_key not in repr(other)
