"""Texts of the risk guards: their alerts, /risk (the account's guards) and a bot's own guards. HTML."""

TEXTS = {
    "en": {
        "alert.risk_floor": (
            "🚨 <b>Kill switch</b>: equity {equity} USDT is at or below your floor of {floor} USDT. "
            "{bots} bots stopped ({holdings})."
        ),
        "alert.risk_drawdown": (
            "🚨 <b>Kill switch</b>: equity {equity} USDT is {percent} % or more below its peak of {peak} USDT. "
            "{bots} bots stopped ({holdings})."
        ),
        "alert.risk_daily_loss": (
            "🚨 <b>Daily loss limit</b>: equity is {loss} USDT below the day's start (limit {limit} USDT), "
            "now {equity} USDT. {bots} bots stopped ({holdings}); they may be started again today."
        ),
        "alert.risk_bot_loss": "🛑 <b>{name}</b> reached its max loss: total PnL {pnl} USDT (limit -{limit} USDT). Stopped.",
        "alert.risk_bot_take_profit": (
            "🎯 <b>{name}</b> reached its take profit: total PnL {percent} % (target {limit} %). Stopped."
        ),
        "alert.risk_bot_stop_loss": (
            "🛑 <b>{name}</b> reached its stop loss: total PnL {percent} % (limit -{limit} %). Stopped."
        ),
        "risk.title": "🛡 <b>Risk guards</b> (they stop every running bot)",
        "risk.drawdown": "Kill switch: {percent} % below the equity peak (peak so far {peak} USDT)",
        "risk.drawdown_off": "Kill switch on drawdown: off (<code>/risk drawdown 20</code>)",
        "risk.floor": "Equity floor: {floor} USDT",
        "risk.floor_off": "Equity floor: off (<code>/risk floor 5000</code>)",
        "risk.daily": "Daily loss limit: {limit} USDT (the day starts at 00:00 in {zone})",
        "risk.daily_off": "Daily loss limit: off (<code>/risk daily on</code> is 500 USDT, or an amount)",
        "risk.holdings.close": "the stop closes what the bots hold",
        "risk.holdings.keep": "the stop keeps what the bots hold (positions protected)",
        "risk.holdings": "On a stop: {choice} (<code>/risk close on|off</code>)",
        "risk.per_bot": "Each bot's own max loss and total-PnL take profit / stop loss: its card, ✏️ Edit, Risk.",
        "risk.usage": (
            "⚠️ Use <code>/risk</code>, <code>/risk drawdown 20</code>, <code>/risk floor 5000</code>, "
            "<code>/risk daily 500</code> (or on / off), <code>/risk close on|off</code> or <code>/risk off</code>."
        ),
        "error.invalid.guard_drawdown": "⚠️ The drawdown is a percent above 0 and under 100 (0 or off: none).",
        "error.invalid.guard_floor": "⚠️ The floor is an amount in USDT (0 or off: none).",
        "error.invalid.guard_daily_loss": "⚠️ The daily loss limit is an amount in USDT (on: 500, 0 or off: none).",
        "error.invalid.max_loss": "⚠️ The max loss is an amount in USDT (0 or off: none).",
        "error.invalid.pnl_take_profit": "⚠️ The take profit is a percent of the investment (0 or off: none).",
        "error.invalid.pnl_stop_loss": "⚠️ The stop loss is a percent of the investment (0 or off: none).",
        "bots.btn.max_loss": "🧯 Max loss",
        "bots.btn.pnl_take_profit": "🎯 TP on total PnL %",
        "bots.btn.pnl_stop_loss": "🛑 SL on total PnL %",
        "bots.ask.max_loss": "Stop the bot when its total PnL is this many USDT down (now: {current}; 0 = none):",
        "bots.ask.pnl_take_profit": (
            "Stop the bot when its total PnL reaches this % of the investment (now: {current}; 0 = none):"
        ),
        "bots.ask.pnl_stop_loss": (
            "Stop the bot when its total PnL falls to minus this % of the investment (now: {current}; 0 = none):"
        ),
        "bots.card.guards": "Guards: max loss {loss} · TP {tp} · SL {sl} (on total PnL)",
        "bots.none": "none",
        "command.risk": "Kill switch and loss limits",
    },
    "ko": {
        "alert.risk_floor": (
            "🚨 <b>킬 스위치</b>: 자산 {equity} USDT가 하한 {floor} USDT 이하입니다. "
            "봇 {bots}개 중지 ({holdings})."
        ),
        "alert.risk_drawdown": (
            "🚨 <b>킬 스위치</b>: 자산 {equity} USDT가 최고치 {peak} USDT보다 {percent} % 이상 낮습니다. "
            "봇 {bots}개 중지 ({holdings})."
        ),
        "alert.risk_daily_loss": (
            "🚨 <b>일일 손실 한도</b>: 자산이 오늘 시작보다 {loss} USDT 줄었습니다 (한도 {limit} USDT), "
            "현재 {equity} USDT. 봇 {bots}개 중지 ({holdings}); 오늘 다시 시작할 수 있습니다."
        ),
        "alert.risk_bot_loss": "🛑 <b>{name}</b> 최대 손실 도달: 총 손익 {pnl} USDT (한도 -{limit} USDT). 중지했습니다.",
        "alert.risk_bot_take_profit": "🎯 <b>{name}</b> 익절 도달: 총 손익 {percent} % (목표 {limit} %). 중지했습니다.",
        "alert.risk_bot_stop_loss": "🛑 <b>{name}</b> 손절 도달: 총 손익 {percent} % (한도 -{limit} %). 중지했습니다.",
        "risk.title": "🛡 <b>리스크 가드</b> (실행 중인 모든 봇을 중지합니다)",
        "risk.drawdown": "킬 스위치: 자산 최고치 대비 {percent} % 하락 (지금까지 최고 {peak} USDT)",
        "risk.drawdown_off": "하락률 킬 스위치: 꺼짐 (<code>/risk drawdown 20</code>)",
        "risk.floor": "자산 하한: {floor} USDT",
        "risk.floor_off": "자산 하한: 꺼짐 (<code>/risk floor 5000</code>)",
        "risk.daily": "일일 손실 한도: {limit} USDT (하루는 {zone} 기준 00:00에 시작)",
        "risk.daily_off": "일일 손실 한도: 꺼짐 (<code>/risk daily on</code>은 500 USDT, 또는 금액)",
        "risk.holdings.close": "중지 시 봇이 보유한 것을 정리합니다",
        "risk.holdings.keep": "중지 시 봇이 보유한 것을 유지합니다 (포지션은 보호됨)",
        "risk.holdings": "중지 시: {choice} (<code>/risk close on|off</code>)",
        "risk.per_bot": "봇별 최대 손실과 총 손익 기준 익절/손절: 봇 카드의 ✏️ 편집 → 리스크.",
        "risk.usage": (
            "⚠️ <code>/risk</code>, <code>/risk drawdown 20</code>, <code>/risk floor 5000</code>, "
            "<code>/risk daily 500</code> (또는 <code>on</code> / <code>off</code>), <code>/risk close on|off</code>, <code>/risk off</code> "
            "중 하나를 쓰세요."
        ),
        "error.invalid.guard_drawdown": "⚠️ 하락률은 0보다 크고 100보다 작은 퍼센트입니다 (0 또는 <code>off</code>: 없음).",
        "error.invalid.guard_floor": "⚠️ 하한은 USDT 금액입니다 (0 또는 <code>off</code>: 없음).",
        "error.invalid.guard_daily_loss": "⚠️ 일일 손실 한도는 USDT 금액입니다 (<code>on</code>: 500, 0 또는 <code>off</code>: 없음).",
        "error.invalid.max_loss": "⚠️ 최대 손실은 USDT 금액입니다 (0 또는 <code>off</code>: 없음).",
        "error.invalid.pnl_take_profit": "⚠️ 익절은 투자금 대비 퍼센트입니다 (0 또는 <code>off</code>: 없음).",
        "error.invalid.pnl_stop_loss": "⚠️ 손절은 투자금 대비 퍼센트입니다 (0 또는 <code>off</code>: 없음).",
        "bots.btn.max_loss": "🧯 최대 손실",
        "bots.btn.pnl_take_profit": "🎯 총 손익 % 익절",
        "bots.btn.pnl_stop_loss": "🛑 총 손익 % 손절",
        "bots.ask.max_loss": "총 손익이 이 USDT만큼 손실이면 봇을 중지합니다 (현재: {current}; 0 = 없음):",
        "bots.ask.pnl_take_profit": "총 손익이 투자금의 이 %에 도달하면 봇을 중지합니다 (현재: {current}; 0 = 없음):",
        "bots.ask.pnl_stop_loss": "총 손익이 투자금의 마이너스 이 %가 되면 봇을 중지합니다 (현재: {current}; 0 = 없음):",
        "bots.card.guards": "가드: 최대 손실 {loss} · 익절 {tp} · 손절 {sl} (총 손익 기준)",
        "bots.none": "없음",
        "command.risk": "킬 스위치와 손실 한도",
    },
}
