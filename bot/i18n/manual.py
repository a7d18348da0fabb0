"""Manual trading texts: a trend bot's "close" and /trade."""

TEXTS = {
    "en": {
        "command.trade": "Market order outside any bot",
        "manual.btn.close": "✋ Close positions",
        "manual.btn.close_confirm": "✋ Yes, close at market",
        "manual.btn.trade_confirm": "✅ Place the order",
        "manual.confirm_close": (
            "Close <b>{name}</b>'s {count} open position(s) on {symbol} at market?\n"
            "Long {long_qty}, short {short_qty}. Only this bot's quantity is closed."
        ),
        "manual.closed": "✋ Closed {count} position(s) of <b>{name}</b>: PnL {pnl} USDT",
        "manual.trade.usage": (
            "Usage: <code>/trade SYMBOL buy|sell AMOUNT</code>, e.g. <code>/trade BTCUSDT buy 0.01</code>.\n"
            "A spot market order on your account, outside any bot; AMOUNT is in the base coin."
        ),
        "manual.trade.confirm": "{side} {qty} {symbol} at market (last price {price})?",
        "manual.trade.done": "✅ {side} {qty} {symbol} at {price} (fee {fee} USDT)",
        "manual.side.buy": "Buy",
        "manual.side.sell": "Sell",
        "error.trade_refused": "⚠️ The exchange refused the order: {reason}",
        "error.nothing_to_close": "ℹ️ The bot has no open position.",
        "error.invalid.side": "⚠️ The side must be buy or sell.",
        "error.invalid.amount": "⚠️ The amount must be a number above 0.",
        "error.invalid.nonce": "⚠️ That confirmation is no longer valid.",
    },
    "ko": {
        "command.trade": "봇 밖에서 시장가 주문",
        "manual.btn.close": "✋ 포지션 청산",
        "manual.btn.close_confirm": "✋ 네, 시장가로 청산",
        "manual.btn.trade_confirm": "✅ 주문하기",
        "manual.confirm_close": (
            "<b>{name}</b> 봇의 {symbol} 포지션 {count}개를 시장가로 청산할까요?\n"
            "롱 {long_qty}, 숏 {short_qty}. 이 봇의 수량만 청산합니다."
        ),
        "manual.closed": "✋ <b>{name}</b> 포지션 {count}개 청산: 손익 {pnl} USDT",
        "manual.trade.usage": (
            "사용법: <code>/trade SYMBOL buy|sell 수량</code>, 예: <code>/trade BTCUSDT buy 0.01</code>.\n"
            "봇과 별개로 계정에서 현물 시장가 주문을 냅니다. 수량은 기준 코인 단위입니다."
        ),
        "manual.trade.confirm": "{symbol} {qty} 시장가 {side} (최근 가격 {price})?",
        "manual.trade.done": "✅ {symbol} {qty} {side} 체결, 가격 {price} (수수료 {fee} USDT)",
        "manual.side.buy": "매수",
        "manual.side.sell": "매도",
        "error.trade_refused": "⚠️ 거래소가 주문을 거절했습니다: {reason}",
        "error.nothing_to_close": "ℹ️ 이 봇에는 열린 포지션이 없습니다.",
        "error.invalid.side": "⚠️ 방향은 buy 또는 sell 이어야 합니다.",
        "error.invalid.amount": "⚠️ 수량은 0보다 큰 숫자여야 합니다.",
        "error.invalid.nonce": "⚠️ 더 이상 유효하지 않은 확인입니다.",
    },
}
