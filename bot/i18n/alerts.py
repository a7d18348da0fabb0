"""Push alert texts, one per outbox `kind` ("alert.<kind>"); payload fields are the placeholders."""

TEXTS = {
    "en": {
        "alert.generic": "🔔 {kind}: {details}",
        "alert.bot_started": "▶️ <b>{name}</b> started on {symbol}.",
        "alert.bot_stopped": "⏹ <b>{name}</b> stopped ({reason}): {cancelled} open orders cancelled.",
        "alert.stop_kept_coins": "🪙 <b>{name}</b> keeps {held} {asset}; starting it again sells them on its grid.",
        "alert.stop_sold_coins": "💱 <b>{name}</b> sold {sold} {asset} at market.",
        "alert.stop_kept_positions": (
            "🛡 <b>{name}</b> keeps {positions_kept} open position(s) with their stop loss and take profit on the "
            "exchange; their fills are still booked and reported."
        ),
        "alert.bot_stop_stuck": (
            "⚠️ <b>{name}</b> is still stopping: {count} order(s) are still open on the exchange ({orders}): "
            "{error}. Cancelling goes on; you can also cancel them on the exchange."
        ),
        "alert.bot_stopped_error": "⛔ <b>{name}</b> was stopped by an error: {error}",
        "alert.bot_error": "⚠️ <b>{name}</b>: {error}",
        "alert.grid_fill": (
            "✅ <b>{name}</b> {side} {qty} {symbol} at {price} (line {line} of {lines}, fee {fee}) · "
            "grid profit {realized_profit} USDT, holds {held} {asset}"
        ),
        "alert.grid_fill_close": (
            "✅ <b>{name}</b> {side} {qty} {symbol} at {price} (closing sale, fee {fee}) · "
            "grid profit {realized_profit} USDT"
        ),
        "alert.grid_fill_brief": "✅ <b>{name}</b> {side} {qty} {symbol} at {price} (grid {interval}, fee {fee})",
        "alert.grid_cycle": "💰 <b>{name}</b> completed a cycle on grid {interval}: profit {profit} USDT",
        "alert.grid_stop": "🛑 <b>{name}</b> stopped at {price} USDT ({reason}). Realized profit: {realized_profit} USDT",
        "alert.trend_entry": (
            "📈 <b>{name}</b> opened {side} {qty} {symbol} at {price} · {leverage}x, margin {margin} USDT · "
            "SL {stop_loss} · TP {take_profit} · liquidation {liquidation}"
        ),
        "alert.trend_entry_brief": "📈 <b>{name}</b> opened {side} {qty} {symbol} at {price}",
        "alert.trend_exit": (
            "📉 <b>{name}</b> closed {side} {qty} {symbol} ({reason}): entry {entry} → exit {price}, "
            "PnL {pnl} USDT ({pnl_percent} %), held {held_for}"
        ),
        "alert.trend_exit_brief": "📉 <b>{name}</b> closed {side} {qty} {symbol} at {price} ({reason}): PnL {pnl} USDT",
    },
    "ko": {
        "alert.generic": "🔔 {kind}: {details}",
        "alert.bot_started": "▶️ <b>{name}</b> 봇이 {symbol}에서 시작되었습니다.",
        "alert.bot_stopped": "⏹ <b>{name}</b> 봇이 중지되었습니다 ({reason}): 미체결 주문 {cancelled}개 취소.",
        "alert.stop_kept_coins": "🪙 <b>{name}</b> 봇이 {held} {asset}을(를) 계속 보유합니다. 다시 시작하면 그리드에서 팝니다.",
        "alert.stop_sold_coins": "💱 <b>{name}</b> 봇이 {sold} {asset}을(를) 시장가로 팔았습니다.",
        "alert.stop_kept_positions": (
            "🛡 <b>{name}</b> 봇이 열린 포지션 {positions_kept}개를 거래소의 손절·익절 주문과 함께 유지합니다. "
            "체결은 계속 기록되고 알려 드립니다."
        ),
        "alert.bot_stop_stuck": (
            "⚠️ <b>{name}</b> 봇이 아직 중지 중입니다: 거래소에 주문 {count}개가 남아 있습니다 ({orders}): "
            "{error}. 취소를 계속 시도합니다. 거래소에서 직접 취소할 수도 있습니다."
        ),
        "alert.bot_stopped_error": "⛔ <b>{name}</b> 봇이 오류로 중지되었습니다: {error}",
        "alert.bot_error": "⚠️ <b>{name}</b>: {error}",
        "alert.grid_fill": (
            "✅ <b>{name}</b> {symbol} {side} {qty} 체결, 가격 {price} (라인 {line}/{lines}, 수수료 {fee}) · "
            "그리드 수익 {realized_profit} USDT, 보유 {held} {asset}"
        ),
        "alert.grid_fill_close": (
            "✅ <b>{name}</b> {symbol} {side} {qty} 체결, 가격 {price} (정리 매도, 수수료 {fee}) · "
            "그리드 수익 {realized_profit} USDT"
        ),
        "alert.grid_fill_brief": "✅ <b>{name}</b> {symbol} {side} {qty} 체결, 가격 {price} (그리드 {interval}, 수수료 {fee})",
        "alert.grid_cycle": "💰 <b>{name}</b> 그리드 {interval} 사이클 완료: 수익 {profit} USDT",
        "alert.grid_stop": "🛑 <b>{name}</b> 중지, 가격 {price} USDT ({reason}). 실현 수익: {realized_profit} USDT",
        "alert.trend_entry": (
            "📈 <b>{name}</b> {symbol} {side} {qty} 진입, 가격 {price} · {leverage}배, 증거금 {margin} USDT · "
            "손절 {stop_loss} · 익절 {take_profit} · 청산가 {liquidation}"
        ),
        "alert.trend_entry_brief": "📈 <b>{name}</b> {symbol} {side} {qty} 진입, 가격 {price}",
        "alert.trend_exit": (
            "📉 <b>{name}</b> {symbol} {side} {qty} 청산 ({reason}): 진입 {entry} → 청산 {price}, "
            "손익 {pnl} USDT ({pnl_percent} %), 보유 기간 {held_for}"
        ),
        "alert.trend_exit_brief": "📉 <b>{name}</b> {symbol} {side} {qty} 청산, 가격 {price} ({reason}): 손익 {pnl} USDT",
    },
}
