"""Push alert texts, one per outbox `kind` ("alert.<kind>"); payload fields are the placeholders."""

TEXTS = {
    "en": {
        "alert.generic": "🔔 {kind}: {details}",
        "alert.bot_started": "▶️ <b>{name}</b> started on {symbol}.",
        "alert.bot_stopped": "⏹ <b>{name}</b> stopped ({reason}).",
        "alert.bot_stopped_error": "⛔ <b>{name}</b> was stopped by an error: {error}",
        "alert.bot_error": "⚠️ <b>{name}</b>: {error}",
        "alert.grid_fill": "✅ <b>{name}</b> {side} {qty} {symbol} at {price} (grid {interval}, fee {fee})",
        "alert.grid_cycle": "💰 <b>{name}</b> completed a cycle on grid {interval}: profit {profit} USDT",
        "alert.grid_stop": "🛑 <b>{name}</b> stopped at {price} USDT ({reason}). Realized profit: {realized_profit} USDT",
        "alert.trend_entry": "📈 <b>{name}</b> opened {side} {qty} {symbol} at {price}",
        "alert.trend_exit": "📉 <b>{name}</b> closed {side} {qty} {symbol} at {price} ({reason}): PnL {pnl} USDT",
        "alert.daily_summary": "📊 Today: {bots} bots, {running} running, PnL {pnl} USDT",
    },
    "ko": {
        "alert.generic": "🔔 {kind}: {details}",
        "alert.bot_started": "▶️ <b>{name}</b> 봇이 {symbol}에서 시작되었습니다.",
        "alert.bot_stopped": "⏹ <b>{name}</b> 봇이 중지되었습니다 ({reason}).",
        "alert.bot_stopped_error": "⛔ <b>{name}</b> 봇이 오류로 중지되었습니다: {error}",
        "alert.bot_error": "⚠️ <b>{name}</b>: {error}",
        "alert.grid_fill": "✅ <b>{name}</b> {symbol} {side} {qty} 체결, 가격 {price} (그리드 {interval}, 수수료 {fee})",
        "alert.grid_cycle": "💰 <b>{name}</b> 그리드 {interval} 사이클 완료: 수익 {profit} USDT",
        "alert.grid_stop": "🛑 <b>{name}</b> 중지, 가격 {price} USDT ({reason}). 실현 수익: {realized_profit} USDT",
        "alert.trend_entry": "📈 <b>{name}</b> {symbol} {side} {qty} 진입, 가격 {price}",
        "alert.trend_exit": "📉 <b>{name}</b> {symbol} {side} {qty} 청산, 가격 {price} ({reason}): 손익 {pnl} USDT",
        "alert.daily_summary": "📊 오늘: 봇 {bots}개, 실행 중 {running}개, 손익 {pnl} USDT",
    },
}
