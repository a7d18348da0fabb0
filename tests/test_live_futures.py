"""Futures the way the allocation promises (issue 15, section 4), on both kinds of Bitget account: real ccxt
over HTTP to the fake Bitget (classic: API v2, tests/fake_bitget.py; unified: API v3,
tests/fake_bitget_v3.py; their futures settings: tests/fake_bitget_futures.py).

- A start checks the wallet the bot trades from and says how much to move; the equity a bot's allocation
  is a share of counts the futures account (DESIGN.md), a unified account's one wallet once.
- A futures bot's first order comes after isolated margin and its leverage, in that order, each asked
  once; a symbol held in cross margin is refused with Bitget's reason.
- A hedge-mode account: every order names its position, and the position is the one of its side.
- The liquidation price a trader reads is Bitget's.
- The grid preview is net of the account's own fee rates.

Prices are the fake's recorded books: USDT-M BTCUSDT bid 104,676.4 / ask 104,676.5, spot ask 73,369.14.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from bot.services.dto import UserDTO
from bot.services.wallets import WalletShort
from db.models import BotInstance, TrendPositionRow
from engine.exchange import InvalidOrder, OrderRequest
from engine.trend.runtime import TrendRuntime
from engine.venues.live.adapter import CcxtExchange
from engine.venues.live.credentials import Credentials
from engine.venues.live.errors import RetryPolicy
from engine.venues.live.registry import CcxtExchangeRegistry
from handlers.create_grid import summary
from handlers.errors import error_text
from handlers.grid_preview import compute_preview
from handlers.money_texts import trend_money_lines
from handlers.wizard import WizardInput
from tests.fake_bitget import FakeBitget
from tests.live_harness import Live

KEY = Credentials("bg_futures_key_01", "futures-secret", "futures-pass")
SWAP = "BTC/USDT:USDT"
KINDS = pytest.mark.parametrize("kind", ["classic", "uta"])
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ASK = D("104676.5")  # the recorded USDT-M ask: a market buy fills there


@pytest.fixture
async def fake() -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.3)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def registry(fake: FakeBitget) -> AsyncIterator[CcxtExchangeRegistry]:
    reg = CcxtExchangeRegistry(
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, jitter=0),
        timeout_ms=2000,
        api_base_url=fake.url,
        ccxt_options={"rateLimit": 1, "timeout_on_exit": 0},
    )
    yield reg
    await reg.close()


@pytest.fixture
async def live(database, fleet, accounts, cipher, fake) -> AsyncIterator[Live]:  # type: ignore[no-untyped-def]
    harness = Live(database, fleet, accounts, cipher, fake.url)
    yield harness
    await harness.close()


async def connect(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str, **account: object
) -> CcxtExchange:
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "10000"},
                     futures_usdt="10000", kind=kind, **account)  # type: ignore[arg-type]  # fmt: skip
    return await registry.connect("bitget", 1, KEY, kind=kind)  # type: ignore[arg-type]


def private(fake: FakeBitget, since: int = 0) -> list[tuple[str, str]]:
    """The signed requests after the `since`-th one, as (method, path without the API version)."""
    return [
        (r.method, r.path.split("/", 3)[3])
        for r in fake.requests[since:]
        if "ACCESS-KEY" in r.headers and "/market/" not in r.path
    ]


def book(leverage: int = 5) -> SimpleNamespace:
    """What TrendRuntime._set_leverage reads of a futures bot's book."""
    return SimpleNamespace(
        bot_id=1, symbol=SWAP, settings=SimpleNamespace(market_type="swap", leverage=leverage)
    )


# --- the wallet a bot trades from ------------------------------------------------------------------


@SQLITE
@KINDS
async def test_a_start_whose_wallet_lacks_the_capital_is_refused_with_the_amount_to_move(
    live: Live, fake: FakeBitget, kind: str
) -> None:
    """0 USDT on spot and 5,000 on futures: a grid (spot) of 1,000 on a classic account is refused with
    "move 1,000 USDT from futures to spot"; a unified account has one wallet and starts it. Before, the
    classic start was refused for an allocation of 0 (the equity was the spot wallet alone) and a futures
    trend bot on the same account sized from that 0, silently never trading."""
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "0"}, futures_usdt="5000",
                     kind=kind)  # fmt: skip
    user_id = await live.user(KEY.api_key, KEY.secret, KEY.passphrase or "")
    # equity = spot 0 + futures 5,000 (the unified account's one wallet: 5,000, counted once)
    assert await live.engine.equity(user_id, "live") == D("5000")
    # a futures trend bot's capital: 20 % of 5,000 (before: 20 % of the spot wallet's 0)
    assert await live.engine.capital(user_id, "live", D("20")) == D("1000")
    grid = await live.fleet.create_grid_bot(
        user_id, name="spot grid", symbol="BTCUSDT", allocation_percent="20", lower_price="70000",
        upper_price="80000", grid_count=10, total_investment="1000",
    )  # fmt: skip
    if kind == "uta":
        started = await live.fleet.start(user_id, grid.bot.id)
        assert started.is_running
        return
    with pytest.raises(WalletShort) as refused:
        await live.fleet.start(user_id, grid.bot.id)
    assert refused.value.params == {
        "wallet": "spot", "needed": D("1000.00"), "held": D("0.00"), "move": D("1000.00"),
        "source": "futures", "available": D("5000.00"),
    }  # fmt: skip
    assert error_text(refused.value, "en") == (
        "⚠️ This bot trades from your spot wallet, which has 0 USDT free; it needs 1000 USDT. Move 1000"
        " USDT from your USDT-M futures wallet to your spot wallet on Bitget (USDT-M futures has 5000"
        " USDT free), then start the bot again."
    )
    assert "USDT-M 선물 지갑의 1000 USDT를 현물 지갑으로" in error_text(refused.value, "ko")
    assert not (await live.fleet.get_bot(user_id, grid.bot.id)).is_running
    assert [r for r in fake.requests if "place" in r.path] == []  # nothing was ordered


@SQLITE
async def test_a_futures_bot_on_an_empty_futures_wallet_is_told_to_move_from_spot(
    live: Live, fake: FakeBitget
) -> None:
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "5000"}, futures_usdt="300")
    user_id = await live.user(KEY.api_key, KEY.secret, KEY.passphrase or "")
    trend = await live.fleet.create_trend_bot(user_id, name="perp", symbol="BTCUSDT", allocation_percent="20")
    with pytest.raises(WalletShort) as refused:
        await live.fleet.start(user_id, trend.bot.id)
    # 20 % of 5,300 = 1,060 in the futures account, which has 300: move 760 from spot
    assert (refused.value.params["wallet"], refused.value.params["source"]) == ("futures", "spot")
    assert (refused.value.params["needed"], refused.value.params["move"]) == (D("1060.00"), D("760.00"))
    fake.accounts[KEY.api_key].futures_wallet = D("1060")  # moved (the fake's transfer)
    fake.accounts[KEY.api_key].spot["USDT"][0] = D("4240")
    live.engine._equity_cache.clear()  # the equity's few seconds of cache, over
    assert (await live.fleet.start(user_id, trend.bot.id)).is_running


# --- isolated margin, leverage, then the order --------------------------------------------------------


@KINDS
async def test_the_first_futures_order_comes_after_isolated_margin_and_leverage_each_set_once(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    exchange = await connect(registry, fake, kind)
    runtime = TrendRuntime.__new__(TrendRuntime)  # its _set_leverage needs nothing of its own
    before = len(fake.requests)
    await runtime._set_leverage(book(), exchange, "long")  # type: ignore[arg-type]
    await exchange.create_order(OrderRequest(SWAP, "buy", "market", D("0.002"), None, "futentry1"))
    sequence = [p for p in private(fake, before) if p[0] == "POST"]
    if kind == "classic":
        assert private(fake, before)[0] == ("GET", "mix/account/account")  # margin and position mode read
        assert sequence == [
            ("POST", "mix/account/set-margin-mode"),
            ("POST", "mix/account/set-leverage"),
            ("POST", "mix/order/place-order"),
        ]
        margin = fake.requests_to("/api/v2/mix/account/set-margin-mode")[0].body
        assert (margin["symbol"], margin["marginMode"]) == ("BTCUSDT", "isolated")
        assert fake.requests_to("/api/v2/mix/order/place-order")[0].body["marginMode"] == "isolated"
    else:
        # v3 has no margin-mode endpoint: the leverage is set for isolated margin, per position side
        assert private(fake, before)[0] == ("GET", "account/settings")
        assert sequence == [("POST", "account/set-leverage"), ("POST", "trade/place-order")]
        leverage = fake.requests_to("/api/v3/account/set-leverage")[0].body
        assert (leverage["marginMode"], leverage["posSide"], leverage["leverage"]) == (
            "isolated",
            "long",
            "5",
        )
    account = fake.accounts[KEY.api_key]
    assert (account.margin_modes["BTCUSDT"], account.leverage["BTCUSDT"]) == ("isolated", 5)

    [position] = await exchange.fetch_positions([SWAP])
    assert (position.side, position.qty, position.margin_mode) == ("long", D("0.002"), "isolated")
    # Bitget's figure, as the fake computes it: 104,676.5 x (1 - 1/5 + 0.004) = 84,159.906 -> 84,159.9
    assert position.liquidation_price == D("84159.9")

    again = len(fake.requests)  # the next entry: nothing is asked again
    await runtime._set_leverage(book(), exchange, "long")  # type: ignore[arg-type]
    await exchange.create_order(OrderRequest(SWAP, "buy", "market", D("0.001"), None, "futentry2"))
    assert [p for p in private(fake, again) if p[0] == "POST"][:1] == [
        ("POST", "mix/order/place-order" if kind == "classic" else "trade/place-order")
    ]
    assert not any("set-" in path or "settings" in path for _, path in private(fake, again))

    with pytest.raises(InvalidOrder, match="above the bot's cap"):  # never above the bot's maximum
        await exchange.set_leverage(SWAP, 10, 5, side="long")


@KINDS
async def test_a_symbol_held_in_cross_margin_is_refused_with_bitgets_reason(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    """A position the user opened in cross margin on the perpetual: Bitget will not switch it (45117),
    and the bot is told so before it orders."""
    exchange = await connect(registry, fake, kind)
    await exchange.create_order(OrderRequest(SWAP, "buy", "market", D("0.002"), None, "manualcross"))
    assert fake.accounts[KEY.api_key].margin_modes.get("BTCUSDT", "crossed") == "crossed"
    with pytest.raises(InvalidOrder, match="cross margin") as refused:
        await exchange.set_isolated_margin(SWAP)
        await exchange.set_leverage(SWAP, 5, 5, side="long")
    assert "45117" in str(refused.value)
    assert fake.accounts[KEY.api_key].margin_modes.get("BTCUSDT", "crossed") == "crossed"


# --- hedge mode -----------------------------------------------------------------------------------


@KINDS
async def test_a_hedge_mode_account_trades_each_order_on_its_sides_position(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    """Before, no order named its position: Bitget refuses that in hedge mode (40774), so a bot on a
    hedge-mode account could not trade at all."""
    exchange = await connect(registry, fake, kind, hold_mode="hedge_mode")
    assert await exchange.position_mode() == "hedge"
    await exchange.set_isolated_margin(SWAP)
    await exchange.set_leverage(SWAP, 3, 3, side="long")
    if kind == "classic":  # isolated hedge mode: the leverage of the long side
        assert fake.requests_to("/api/v2/mix/account/set-leverage")[-1].body["holdSide"] == "long"
    entry = await exchange.create_order(OrderRequest(SWAP, "buy", "market", D("0.003"), None, "hedgeopen"))
    assert (entry.status, entry.side, entry.filled_qty) == ("closed", "buy", D("0.003"))
    stop = await exchange.create_order(
        OrderRequest(SWAP, "sell", "market", D("0.003"), None, "hedgestop", reduce_only=True,
                     trigger_price=D("95000"))
    )  # fmt: skip
    assert (stop.side, stop.reduce_only, stop.trigger_price) == ("sell", True, D("95000"))
    [position] = await exchange.fetch_positions([SWAP])
    assert (position.side, position.qty) == ("long", D("0.003"))
    assert fake.accounts[KEY.api_key].hedge_positions[("BTCUSDT", "long")].qty == D("0.003")

    await exchange.cancel_order(stop.id, SWAP)
    close = await exchange.create_order(
        OrderRequest(SWAP, "sell", "market", D("0.003"), None, "hedgeclose", reduce_only=True)
    )
    assert (close.status, close.side, close.reduce_only) == ("closed", "sell", True)
    assert await exchange.fetch_positions([SWAP]) == []
    if kind == "classic":
        # Bitget v2 names the position by its side: open long buy/open, close long buy/close
        orders = [r.body for r in fake.requests_to("/api/v2/mix/order/place-order")]
        assert [(o["side"], o["tradeSide"]) for o in orders] == [("buy", "Open"), ("buy", "Close")]
        plan = fake.requests_to("/api/v2/mix/order/place-plan-order")[0].body
        assert (plan["side"], plan["tradeSide"]) == ("buy", "Close")
    else:
        # v3: the order's own side and the position's posSide
        orders = [r.body for r in fake.requests_to("/api/v3/trade/place-order")]
        assert [(o["side"], o["posSide"]) for o in orders] == [("buy", "long"), ("sell", "long")]
        assert fake.requests_to("/api/v3/trade/place-strategy-order")[0].body["posSide"] == "long"


# --- liquidation price and fees a trader reads ----------------------------------------------------------


@SQLITE
@KINDS
async def test_a_trend_cards_liquidation_price_is_bitgets(live: Live, fake: FakeBitget, kind: str) -> None:
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "10000"},
                     futures_usdt="10000", kind=kind)  # fmt: skip
    user_id = await live.user(KEY.api_key, KEY.secret, KEY.passphrase or "")
    bot = (
        await live.fleet.create_trend_bot(user_id, name="perp", symbol="BTCUSDT", allocation_percent="10")
    ).bot
    exchange = await live.engine.exchange_for(user_id, "live")
    await exchange.load_markets()
    await exchange.set_isolated_margin(SWAP)
    await exchange.set_leverage(SWAP, 5, 5, side="long")
    await exchange.create_order(OrderRequest(SWAP, "buy", "market", D("0.002"), None, "cardentry"))
    fake.accounts[KEY.api_key].liquidation["BTCUSDT"] = D("84321.7")  # what Bitget says, whatever it is
    async with live.db.write() as session:  # the bot's ledger: its position, with the engine's estimate
        await session.execute(update(BotInstance).where(BotInstance.id == bot.id).values(venue="live"))
        session.add(
            TrendPositionRow(
                bot_instance_id=bot.id, seq=0, symbol="BTCUSDT", side="long", status="open", qty=D("0.002"),
                margin=D("41.8706"), leverage=5, candle_ts=0, reference_price=ASK, entry_order_id="cardentry",
                entry_price=ASK, entry_fee=D("0.1256118"), liquidation=D("83741.2"),
            )
        )  # fmt: skip
    card, _ = await live.fleet.card(user_id, bot.id)
    assert card.trend is not None
    [position] = card.trend.positions
    assert position.liquidation == D("84321.7")  # Bitget's, not the ledger's 83,741.2
    assert any("84,321.7" in line for line in trend_money_lines(card.trend, "en"))


@SQLITE
async def test_a_grid_preview_on_a_01_percent_account_is_net_of_its_fees(
    live: Live, fake: FakeBitget
) -> None:
    """Before, a live user paying 0.1 % saw the profit per grid net of the paper venue's 0.02 %."""
    fake.add_account(KEY.api_key, KEY.secret, KEY.passphrase or "", spot={"USDT": "10000"},
                     fee_rates={"SPOT": ("0.001", "0.001")})  # fmt: skip
    user_id = await live.user(KEY.api_key, KEY.secret, KEY.passphrase or "")
    answers = {
        "name": "Grid 1", "symbol": "BTCUSDT", "allocation": "10", "lower_price": "60000",
        "upper_price": "70000", "grid_count": "10", "mode": "arithmetic", "total_investment": "1000",
    }  # fmt: skip
    user = UserDTO(user_id, 4242, 4242, None, "en", "bitget", "live", False, True, None)
    text = await summary(WizardInput(live.fleet, user, "en", answers))
    # the lowest grid: (61,000 x (1 - 0.001) - 60,000 x (1 + 0.001)) / 60,000 = 879 / 60,000 = 1.465 %;
    # the highest: (70,000 x 0.999 - 69,000 x 1.001) / 69,000 = 861 / 69,000 = 1.2478 %; both rounded
    # down to 0.01: 1.46 % and 1.24 %
    market = await live.fleet.markets.rules("BTCUSDT")
    assert market is not None
    expected = compute_preview(
        lower=D(60000), upper=D(70000), grid_count=10, mode="arithmetic", total_investment=D(1000),
        market=market, maker_fee_rate=D("0.001"), allocation_percent=D(10), equity=D(10000),
    )  # fmt: skip
    assert (expected.profit_lowest_percent, expected.profit_highest_percent) == (D("1.46"), D("1.24"))
    assert "1.46 % at the lowest grid, 1.24 % at the highest" in text  # the preview net of 0.1 %
    assert "1.46 % at the lowest grid, 1.24 % at the highest" in text
    assert "1.62 %" not in text  # the 0.02 % figure of test_wizards' paper preview of the same grid
    paths = [r.path for r in fake.requests if "trade-rate" in r.path]
    assert paths == ["/api/v2/common/trade-rate"]  # read once for the market
    await summary(WizardInput(live.fleet, user, "en", answers))
    assert len([r for r in fake.requests if "trade-rate" in r.path]) == 1  # then kept


@KINDS
async def test_a_position_mode_switched_since_it_was_read_is_read_again_and_the_order_goes_out(
    registry: CcxtExchangeRegistry, fake: FakeBitget, kind: str
) -> None:
    """The adapter reads the position mode once; the user switches to hedge mode on Bitget afterwards:
    the next order is refused (40774), the mode read again, and the order sent once, naming its side."""
    exchange = await connect(registry, fake, kind)
    assert await exchange.position_mode() == "one_way"
    fake.accounts[KEY.api_key].hold_mode = "hedge_mode"  # switched in Bitget's app (no position held)
    order = await exchange.create_order(OrderRequest(SWAP, "sell", "market", D("0.002"), None, "modeswitch"))
    assert (order.status, order.side) == ("closed", "sell")
    assert len(fake.orders_with_client_oid(KEY.api_key, "modeswitch")) == 1
    assert fake.accounts[KEY.api_key].hedge_positions[("BTCUSDT", "short")].qty == D("-0.002")
    assert await exchange.position_mode() == "hedge"
