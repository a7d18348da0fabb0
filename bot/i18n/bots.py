"""Texts of the bot list, the bot card and its buttons, edits, and the allocation view. HTML."""

TEXTS = {
    "en": {
        "bots.type.grid": "Grid",
        "bots.type.ai_trend": "AI trend",
        "bots.status.running": "🟢 running",
        "bots.status.stopped": "⚪ stopped",
        "bots.status.stopping": "🟡 stopping",
        "bots.venue.paper": "paper",
        "bots.venue.live": "live",
        "bots.venue.demo": "demo",
        "bots.card.venue": "Trades on: {venue}",
        "bots.card.stopping": "⏳ Stopping: {note}",
        "bots.card.stopping_plain": "⏳ Stopping: its orders are being cancelled.",
        "bots.confirm_stop_coins": (
            "Stop <b>{name}</b>? Its open orders are cancelled. It holds <b>{qty} {asset}</b> "
            "(bought for {cost} USDT): keep the coins, or sell them at market?"
        ),
        "bots.confirm_stop_positions": (
            "Stop <b>{name}</b>? It has {count} open position(s) ({sizes}): keep them with their stop loss "
            "and take profit resting on the exchange, or close them at market?"
        ),
        "bots.btn.keep_coins": "🪙 Keep the coins",
        "bots.btn.sell_coins": "💱 Sell them at market",
        "bots.btn.keep_positions": "🛡 Keep them, protected",
        "bots.btn.close_positions": "✖️ Close them at market",
        "bots.stopping": "⏳ <b>{name}</b> is stopping: {note}. You will get a message when it is done.",
        "bots.confirm_delete_coins": (
            "Delete <b>{name}</b>? Its open orders are cancelled. It holds <b>{qty} {asset}</b>: sell them at "
            "market, or hand them back to you (they stay in your account, outside any bot)? This cannot be "
            "undone."
        ),
        "bots.confirm_delete_positions": (
            "Delete <b>{name}</b>? Its {count} open position(s) ({sizes}) are closed at market first. This "
            "cannot be undone."
        ),
        "bots.btn.delete_sell": "💱 Sell and delete",
        "bots.btn.delete_keep": "🪙 Hand them back and delete",
        "bots.btn.delete_close": "✖️ Close and delete",
        "bots.deleting": (
            "⏳ <b>{name}</b> is being deleted: its orders are cancelled and its holdings settled first. "
            "You will get a message when it is done."
        ),
        "alloc.confirm_stopall_holdings": (
            "⛔ Stop all {count} running bots now? Their open orders are cancelled. What should happen to the "
            "coins and positions they hold?"
        ),
        "alloc.btn.stopall_keep": "🛡 Stop all, keep holdings",
        "alloc.btn.stopall_close": "✖️ Stop all, close at market",
        "alloc.stopping_all": "⏳ {stopping} of {count} bots are still stopping; you will get a message for each.",
        "bots.grid_mode.arithmetic": "arithmetic",
        "bots.grid_mode.geometric": "geometric",
        "bots.list.title": "<b>Your bots</b> ({count}, {running} running)",
        "bots.list.line": "{status} <b>{name}</b> · {type} · {symbol} · {allocation}% · PnL {pnl}",
        "bots.list.empty": "You have no bots yet. Create one with /newbot.\nFree allocation: {free}%",
        "bots.free": "Free allocation: <b>{free}%</b>",
        "bots.card.title": "<b>{name}</b> — {status}",
        "bots.card.kind": "{type} · {symbol}",
        "bots.card.allocation": "Allocation: <b>{allocation}%</b> of the balance (free: {free}%)",
        "bots.card.risk": "Leverage {leverage}x · max positions {positions} · SL {sl}% · TP {tp}%",
        "bots.card.grid": "Grid: {lower} – {upper}, {count} grids, {mode}, investment {investment} USDT",
        "bots.money.value": "💰 Investment {investment} USDT · now worth {value} USDT",
        "bots.money.pnl": (
            "Total PnL <b>{total} USDT ({roi}%)</b> = grid profit {grid} + floating {floating}"
        ),
        "bots.money.apr": "APR {apr}% · running {running} · {cycles} cycles · fees {fees} USDT",
        "bots.money.apr_none": "Running {running} · {cycles} cycles · fees {fees} USDT",
        "bots.money.held": "Holds {held} {asset} at an average cost of {cost} · {buys} buys and {sells} sells resting",
        "bots.money.held_none": "Holds no {asset} · {buys} buys and {sells} sells resting",
        "bots.money.price_in": "Price {price}: inside the range (line {line} of {lines})",
        "bots.money.price_below": "Price {price}: below the range",
        "bots.money.price_above": "Price {price}: above the range",
        "bots.money.duration": "{days}d {hours}h {minutes}m",
        "bots.card.trigger": "Trigger: {price} USDT",
        "bots.card.trigger_waiting": "⏳ Waiting for the price to cross the trigger at {price} USDT",
        "bots.card.grid_stops": "Stops: above {upper} · below {lower} USDT",
        "bots.money.side.long": "Long",
        "bots.money.side.short": "Short",
        "bots.money.position": (
            "📍 {side} {qty} at {leverage}x · entry {entry} · mark {mark} · PnL <b>{pnl} USDT</b> · "
            "liquidation {liquidation} · SL {sl} · TP {tp}"
        ),
        "bots.money.no_position": "No open position",
        "bots.money.trend": (
            "Realized {realized} USDT · unrealized {unrealized} USDT · {trades} trades · win rate {win_rate} "
            "· fees {fees} USDT"
        ),
        "bots.money.trend_risk": "ROI {roi} on its capital · max drawdown {drawdown} USDT{drawdown_pct}",
        "bots.card.stats": "Trades {trades} · win rate {win_rate} · PnL {pnl} USDT",
        "bots.card.notify_on": "🔔 Notifications on",
        "bots.card.notify_off": "🔕 Notifications off",
        "bots.card.last_error": "Last error: {error}",
        "bots.btn.start": "▶️ Start",
        "bots.btn.stop": "⏹ Stop",
        "bots.btn.edit": "✏️ Edit",
        "bots.btn.trades": "📈 Trades",
        "bots.btn.delete": "🗑 Delete",
        "bots.btn.list": "🤖 All bots",
        "bots.btn.back": "⬅️ Back",
        "bots.btn.stop_confirm": "⏹ Yes, stop it",
        "bots.btn.delete_confirm": "🗑 Yes, delete it",
        "bots.btn.allocation": "📊 Allocation",
        "bots.btn.risk": "⚖️ Risk",
        "bots.btn.rename": "🏷 Rename",
        "bots.btn.notify_on": "🔔 Turn notifications on",
        "bots.btn.notify_off": "🔕 Turn notifications off",
        "bots.btn.leverage": "Leverage",
        "bots.btn.positions": "Max positions",
        "bots.btn.stop_loss": "Stop loss %",
        "bots.btn.take_profit": "Take profit %",
        "bots.started": "▶️ <b>{name}</b> started.",
        "bots.stopped": "⏹ <b>{name}</b> stopped.",
        "bots.deleted": "🗑 <b>{name}</b> deleted; its allocation is free again.",
        "bots.saved": "✅ Saved.",
        "bots.confirm_stop": "Stop <b>{name}</b>? Its open orders are cancelled. Tap again to confirm.",
        "bots.confirm_delete": (
            "Delete <b>{name}</b>? A running bot is stopped first. This "
            "cannot be undone. Tap again to confirm."
        ),
        "bots.edit.title": "✏️ Editing <b>{name}</b>",
        "bots.edit.risk_title": "⚖️ Risk of <b>{name}</b>",
        "bots.ask.allocation": (
            "Send the new allocation in % (now {current}%). Free: {free}%, so at most {most}%. /cancel stops."
        ),
        "bots.ask.name": "Send the new name (now “{current}”). /cancel stops.",
        "bots.ask.leverage": "Send the new leverage, a whole number (now {current}x). /cancel stops.",
        "bots.ask.positions": (
            "Send the new maximum of open positions, 1 to 20 (now {current}). /cancel stops."
        ),
        "bots.ask.stop_loss": "Send the new stop loss in % (now {current}%). /cancel stops.",
        "bots.ask.take_profit": "Send the new take profit in % (now {current}%). /cancel stops.",
        "bots.trades.title": "📈 Trades of <b>{name}</b>",
        "bots.trades.none": "No trades yet.",
        "bots.trades.summary": (
            "Trades: {trades} (won {wins}) · win rate "
            "{win_rate}\nRealized PnL: {pnl} USDT\nLast trade: {last}"
        ),
        "alloc.title": "<b>Allocation of your balance</b>",
        "alloc.line": "{status} {name} ({type}): <b>{allocation}%</b>",
        "alloc.none": "No bots yet.",
        "alloc.totals": "Used: {used}% · Free: <b>{free}%</b>",
        "alloc.none_running": "No bot is running; there is nothing to stop.",
        "alloc.confirm_stopall": "⛔ Stop all {count} running bots now? Their open orders are cancelled.",
        "alloc.btn.stopall_confirm": "⛔ Yes, stop all",
        "alloc.stopped_all": "⛔ Stopped {count} bots.",
    },
    "ko": {
        "bots.type.grid": "그리드",
        "bots.type.ai_trend": "AI 추세",
        "bots.status.running": "🟢 실행 중",
        "bots.status.stopped": "⚪ 중지됨",
        "bots.status.stopping": "🟡 중지 중",
        "bots.venue.paper": "모의 거래",
        "bots.venue.live": "실거래",
        "bots.venue.demo": "데모 거래",
        "bots.card.venue": "거래 장소: {venue}",
        "bots.card.stopping": "⏳ 중지 중: {note}",
        "bots.card.stopping_plain": "⏳ 중지 중: 주문을 취소하고 있습니다.",
        "bots.confirm_stop_coins": (
            "<b>{name}</b> 봇을 중지할까요? 미체결 주문이 취소됩니다. 이 봇은 <b>{qty} {asset}</b>을(를) "
            "보유하고 있습니다 (매수 비용 {cost} USDT). 코인을 그대로 둘까요, 시장가로 팔까요?"
        ),
        "bots.confirm_stop_positions": (
            "<b>{name}</b> 봇을 중지할까요? 열린 포지션이 {count}개 있습니다 ({sizes}). 손절·익절 주문을 "
            "거래소에 걸어 둔 채 유지할까요, 시장가로 청산할까요?"
        ),
        "bots.btn.keep_coins": "🪙 코인 유지",
        "bots.btn.sell_coins": "💱 시장가로 매도",
        "bots.btn.keep_positions": "🛡 보호 주문과 함께 유지",
        "bots.btn.close_positions": "✖️ 시장가로 청산",
        "bots.stopping": "⏳ <b>{name}</b> 봇을 중지하는 중입니다: {note}. 끝나면 알려 드립니다.",
        "bots.confirm_delete_coins": (
            "<b>{name}</b> 봇을 삭제할까요? 미체결 주문이 취소됩니다. 이 봇은 <b>{qty} {asset}</b>을(를) "
            "보유하고 있습니다: 시장가로 팔까요, 아니면 돌려받을까요 (봇 밖에서 계정에 그대로 남습니다)? "
            "되돌릴 수 없습니다."
        ),
        "bots.confirm_delete_positions": (
            "<b>{name}</b> 봇을 삭제할까요? 열린 포지션 {count}개 ({sizes})를 먼저 시장가로 청산합니다. "
            "되돌릴 수 없습니다."
        ),
        "bots.btn.delete_sell": "💱 매도 후 삭제",
        "bots.btn.delete_keep": "🪙 돌려받고 삭제",
        "bots.btn.delete_close": "✖️ 청산 후 삭제",
        "bots.deleting": (
            "⏳ <b>{name}</b> 봇을 삭제하는 중입니다: 주문을 취소하고 보유 자산을 먼저 정리합니다. "
            "끝나면 알려 드립니다."
        ),
        "alloc.confirm_stopall_holdings": (
            "⛔ 실행 중인 봇 {count}개를 모두 지금 중지할까요? 미체결 주문이 취소됩니다. 봇이 보유한 코인과 "
            "포지션은 어떻게 할까요?"
        ),
        "alloc.btn.stopall_keep": "🛡 모두 중지, 보유 유지",
        "alloc.btn.stopall_close": "✖️ 모두 중지, 시장가 정리",
        "alloc.stopping_all": "⏳ 봇 {count}개 중 {stopping}개가 아직 중지 중입니다. 봇마다 알려 드립니다.",
        "bots.grid_mode.arithmetic": "등차",
        "bots.grid_mode.geometric": "등비",
        "bots.list.title": "<b>내 봇</b> ({count}개, 실행 중 {running}개)",
        "bots.list.line": "{status} <b>{name}</b> · {type} · {symbol} · {allocation}% · 손익 {pnl}",
        "bots.list.empty": "아직 봇이 없습니다. /newbot 으로 만드세요.\n남은 배분: {free}%",
        "bots.free": "남은 배분: <b>{free}%</b>",
        "bots.card.title": "<b>{name}</b> — {status}",
        "bots.card.kind": "{type} · {symbol}",
        "bots.card.allocation": "배분: 잔고의 <b>{allocation}%</b> (남은 비율: {free}%)",
        "bots.card.risk": "레버리지 {leverage}x · 최대 포지션 {positions} · 손절 {sl}% · 익절 {tp}%",
        "bots.card.grid": "그리드: {lower} – {upper}, {count}개, {mode}, 투자금 {investment} USDT",
        "bots.money.value": "💰 투자금 {investment} USDT · 현재 가치 {value} USDT",
        "bots.money.pnl": "총 손익 <b>{total} USDT ({roi}%)</b> = 그리드 수익 {grid} + 평가 손익 {floating}",
        "bots.money.apr": "연환산 수익률 {apr}% · 운영 {running} · {cycles}회 사이클 · 수수료 {fees} USDT",
        "bots.money.apr_none": "운영 {running} · {cycles}회 사이클 · 수수료 {fees} USDT",
        "bots.money.held": "보유 {held} {asset}, 평균 단가 {cost} · 대기 매수 {buys}건, 매도 {sells}건",
        "bots.money.held_none": "보유 {asset} 없음 · 대기 매수 {buys}건, 매도 {sells}건",
        "bots.money.price_in": "현재가 {price}: 범위 안 ({lines}개 라인 중 {line}번째)",
        "bots.money.price_below": "현재가 {price}: 범위 아래",
        "bots.money.price_above": "현재가 {price}: 범위 위",
        "bots.money.duration": "{days}일 {hours}시간 {minutes}분",
        "bots.card.trigger": "트리거: {price} USDT",
        "bots.card.trigger_waiting": "⏳ 가격이 트리거 {price} USDT를 지나기를 기다리는 중",
        "bots.card.grid_stops": "정지 조건: {upper} 이상 · {lower} USDT 이하",
        "bots.money.side.long": "롱",
        "bots.money.side.short": "숏",
        "bots.money.position": (
            "📍 {side} {qty} ({leverage}x) · 진입가 {entry} · 현재가 {mark} · 손익 <b>{pnl} USDT</b> · "
            "청산가 {liquidation} · 손절 {sl} · 익절 {tp}"
        ),
        "bots.money.no_position": "열린 포지션 없음",
        "bots.money.trend": (
            "실현 손익 {realized} USDT · 미실현 손익 {unrealized} USDT · 거래 {trades}회 · 승률 {win_rate} "
            "· 수수료 {fees} USDT"
        ),
        "bots.money.trend_risk": "자본 대비 수익률 {roi} · 최대 낙폭 {drawdown} USDT{drawdown_pct}",
        "bots.card.stats": "거래 {trades}회 · 승률 {win_rate} · 손익 {pnl} USDT",
        "bots.card.notify_on": "🔔 알림 켜짐",
        "bots.card.notify_off": "🔕 알림 꺼짐",
        "bots.card.last_error": "마지막 오류: {error}",
        "bots.btn.start": "▶️ 시작",
        "bots.btn.stop": "⏹ 중지",
        "bots.btn.edit": "✏️ 수정",
        "bots.btn.trades": "📈 거래 내역",
        "bots.btn.delete": "🗑 삭제",
        "bots.btn.list": "🤖 전체 봇",
        "bots.btn.back": "⬅️ 뒤로",
        "bots.btn.stop_confirm": "⏹ 네, 중지합니다",
        "bots.btn.delete_confirm": "🗑 네, 삭제합니다",
        "bots.btn.allocation": "📊 배분",
        "bots.btn.risk": "⚖️ 리스크",
        "bots.btn.rename": "🏷 이름 변경",
        "bots.btn.notify_on": "🔔 알림 켜기",
        "bots.btn.notify_off": "🔕 알림 끄기",
        "bots.btn.leverage": "레버리지",
        "bots.btn.positions": "최대 포지션",
        "bots.btn.stop_loss": "손절 %",
        "bots.btn.take_profit": "익절 %",
        "bots.started": "▶️ <b>{name}</b> 봇을 시작했습니다.",
        "bots.stopped": "⏹ <b>{name}</b> 봇을 중지했습니다.",
        "bots.deleted": "🗑 <b>{name}</b> 봇을 삭제했습니다. 배분된 비율이 다시 남은 비율이 됩니다.",
        "bots.saved": "✅ 저장했습니다.",
        "bots.confirm_stop": (
            "<b>{name}</b> 봇을 중지할까요? 미체결 주문이 취소됩니다. 한 번 더 눌러 확인하세요."
        ),
        "bots.confirm_delete": (
            "<b>{name}</b> 봇을 삭제할까요? 실행 중이면 먼저 중지합니다. 되돌릴 수 없습니다. 한 번 더 "
            "눌러 확인하세요."
        ),
        "bots.edit.title": "✏️ <b>{name}</b> 수정",
        "bots.edit.risk_title": "⚖️ <b>{name}</b> 리스크 설정",
        "bots.ask.allocation": (
            "새 배분을 %로 보내세요 (현재 {current}%). 남은 비율 {free}%, 최대 {most}%까지 가능합니다. "
            "/cancel 로 중단."
        ),
        "bots.ask.name": "새 이름을 보내세요 (현재 “{current}”). /cancel 로 중단.",
        "bots.ask.leverage": "새 레버리지를 정수로 보내세요 (현재 {current}x). /cancel 로 중단.",
        "bots.ask.positions": "새 최대 포지션 수를 1~20으로 보내세요 (현재 {current}). /cancel 로 중단.",
        "bots.ask.stop_loss": "새 손절 %를 보내세요 (현재 {current}%). /cancel 로 중단.",
        "bots.ask.take_profit": "새 익절 %를 보내세요 (현재 {current}%). /cancel 로 중단.",
        "bots.trades.title": "📈 <b>{name}</b> 거래 내역",
        "bots.trades.none": "아직 거래가 없습니다.",
        "bots.trades.summary": (
            "거래 {trades}회 (수익 {wins}회) · 승률 {win_rate}\n실현 손익: {pnl} USDT\n마지막 거래: {last}"
        ),
        "alloc.title": "<b>잔고 배분</b>",
        "alloc.line": "{status} {name} ({type}): <b>{allocation}%</b>",
        "alloc.none": "아직 봇이 없습니다.",
        "alloc.totals": "사용: {used}% · 남음: <b>{free}%</b>",
        "alloc.none_running": "실행 중인 봇이 없어 중지할 것이 없습니다.",
        "alloc.confirm_stopall": (
            "⛔ 실행 중인 봇 {count}개를 모두 지금 중지할까요? 미체결 주문이 취소됩니다."
        ),
        "alloc.btn.stopall_confirm": "⛔ 네, 모두 중지",
        "alloc.stopped_all": "⛔ 봇 {count}개를 중지했습니다.",
    },
}
