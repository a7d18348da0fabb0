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
        "manual.trade.confirm": (
            "{side} {qty} {base} on {symbol} at market: about {value} {quote} at the last price {price} {quote}?"
        ),
        "manual.trade.done": "✅ {side} {qty} {symbol} at {price} (fee {fee} USDT)",
        "manual.side.buy": "Buy",
        "manual.side.sell": "Sell",
        "error.trade_refused": "⚠️ The exchange refused the order: {reason}",
        "error.nothing_to_close": "ℹ️ The bot has no open position.",
        "error.invalid.side": "⚠️ The side must be buy or sell.",
        "error.invalid.amount": "⚠️ The amount must be a number above 0.",
        "error.invalid.nonce": "⚠️ That confirmation is no longer valid.",
        "error.no_price": "⚠️ There is no price for {symbol} right now, so the order cannot be checked. Try again soon.",
        "error.order_too_small": "⚠️ The smallest order on {symbol} is {min_qty} {base} and {min_value} USDT in value.",
        "error.order_step": "⚠️ {symbol} trades in steps of {step} {base}: round the amount to that step.",
        "error.insufficient_balance": "⚠️ Not enough {currency}: the order needs {needed}, {free} is free.",
        "error.insufficient_balance_bots": (
            "⚠️ Not enough {currency} outside your bots: the order needs {needed}, {free} is free "
            "beside the {held} your bots hold."
        ),
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
        "manual.trade.confirm": "{symbol} {qty} {base} 시장가 {side}: 최근 가격 {price} {quote} 기준 약 {value} {quote}?",
        "manual.trade.done": "✅ {symbol} {qty} {side} 체결, 가격 {price} (수수료 {fee} USDT)",
        "manual.side.buy": "매수",
        "manual.side.sell": "매도",
        "error.trade_refused": "⚠️ 거래소가 주문을 거절했습니다: {reason}",
        "error.nothing_to_close": "ℹ️ 이 봇에는 열린 포지션이 없습니다.",
        "error.invalid.side": "⚠️ 방향은 <code>buy</code>(매수) 또는 <code>sell</code>(매도)이어야 합니다.",
        "error.invalid.amount": "⚠️ 수량은 0보다 큰 숫자여야 합니다.",
        "error.invalid.nonce": "⚠️ 더 이상 유효하지 않은 확인입니다.",
        "error.no_price": "⚠️ 지금 {symbol} 가격이 없어 주문을 확인할 수 없습니다. 잠시 후 다시 시도하세요.",
        "error.order_too_small": "⚠️ {symbol} 최소 주문은 {min_qty} {base}, 주문 금액 {min_value} USDT 입니다.",
        "error.order_step": "⚠️ {symbol} 은(는) {step} {base} 단위로 거래됩니다. 수량을 그 단위로 맞추세요.",
        "error.insufficient_balance": "⚠️ {currency} 잔고가 부족합니다: 주문에 {needed} 필요, 사용 가능 {free}.",
        "error.insufficient_balance_bots": (
            "⚠️ 봇 밖의 {currency} 잔고가 부족합니다: 주문에 {needed} 필요, "
            "봇이 보유한 {held}을 빼면 사용 가능 {free}."
        ),
    },
}
