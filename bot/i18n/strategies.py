"""Texts of /strategies ("strategies.*") and of the trend wizard's strategy step ("wizard.*strategy*").
HTML; values arrive escaped."""

TEXTS = {
    "en": {
        "strategies.title": (
            "📚 <b>Strategies</b>\n<i>Figures: our backtest on the real {symbol} hourly candles of the last "
            "{days} days ({start} – {end}), each strategy with its own risk settings, after fees.</i>"
        ),
        "strategies.computing": "⏳ Computing the backtest figures…",
        "strategies.line": (
            "{badge} <b>{name}</b> · {kind} · {timeframe}\n{description}\n"
            "ROI {roi} % · win rate {win_rate} % · max drawdown {drawdown} % · {trades} trades"
        ),
        "strategies.line_no_figures": "{badge} <b>{name}</b> · {kind} · {timeframe}\n{description}\n<i>no figures</i>",
        "strategies.badge.builtin": "⭐",
        "strategies.badge.own": "👤",
        "strategies.footer": "⭐ built in · 👤 yours. Pick one for a bot in /newbot.",
        "strategies.btn.copy": "➕ Save a copy",
        "strategies.btn.delete": "🗑 {name}",
        "strategies.btn.delete_confirm": "🗑 Yes, delete it",
        "strategies.btn.back": "◀️ Strategies",
        "strategies.confirm_delete": (
            "Delete your strategy <b>{name}</b>? Bots using it keep running without a strategy. "
            "Tap again to confirm."
        ),
        "strategies.deleted": "🗑 {name} deleted.",
        "strategies.ask.base": "Which strategy do you copy?",
        "strategies.ask.name": "Name your copy of <b>{base}</b> (1 to {maximum} characters). /cancel stops.",
        "strategies.ask.params": (
            "Send the parameters to change as key=value pairs, e.g. <code>{example}</code>, "
            "or <code>-</code> to keep them all.\nParameters of <b>{base}</b>:\n{params}"
        ),
        "strategies.err.name": "The name must be 1 to {maximum} characters, without control characters.",
        "strategies.err.name_taken": "You already have a strategy named “{name}”. Choose another name.",
        "strategies.err.format": "Write each change as key=value (e.g. <code>{example}</code>); “{text}” is not.",
        "strategies.err.unknown_key": "“{param}” is not a parameter of {base}.",
        "strategies.err.value": "“{value}” does not fit {param}: {rule}",
        "strategies.err.limit": "You can save at most {limit} strategies. Delete one first.",
        "strategies.rule.timeframe": "it is one of {timeframes}.",
        "strategies.rule.leverage": "a whole number from 1 to 100.",
        "strategies.rule.max_positions": "a whole number from 1 to 20.",
        "strategies.rule.percent": "a percent above 0 and below 100, 2 decimals at most.",
        "strategies.rule.integer": "a whole number above 0, at most 10000.",
        "strategies.rule.number": "a number above 0, at most 10000.",
        "strategies.saved": "✅ Saved <b>{name}</b>, a copy of {base} ({changes}).",
        "strategies.no_changes": "same parameters",
        "strategies.cancelled": "Cancelled. Nothing was saved.",
        "wizard.ask.strategy": (
            "Which strategy does the bot follow? Tap one or send its name (default {default}). "
            "/strategies shows their backtest figures."
        ),
        "wizard.rule.strategy": "Unknown strategy “{name}”. Tap one of the buttons.",
        "wizard.summary.strategy_line": "Strategy: <b>{strategy}</b>",
    },
    "ko": {
        "strategies.title": (
            "📚 <b>전략</b>\n<i>수치: 실제 {symbol} 1시간 캔들 최근 {days}일({start} – {end})에 대한 자체 "
            "백테스트, 각 전략의 기본 위험 설정, 수수료 차감 후.</i>"
        ),
        "strategies.computing": "⏳ 백테스트 수치를 계산하는 중…",
        "strategies.line": (
            "{badge} <b>{name}</b> · {kind} · {timeframe}\n{description}\n"
            "수익률 {roi} % · 승률 {win_rate} % · 최대 낙폭 {drawdown} % · 거래 {trades}회"
        ),
        "strategies.line_no_figures": "{badge} <b>{name}</b> · {kind} · {timeframe}\n{description}\n<i>수치 없음</i>",
        "strategies.badge.builtin": "⭐",
        "strategies.badge.own": "👤",
        "strategies.footer": "⭐ 기본 제공 · 👤 내 전략. /newbot에서 봇에 지정할 수 있습니다.",
        "strategies.btn.copy": "➕ 복사본 저장",
        "strategies.btn.delete": "🗑 {name}",
        "strategies.btn.delete_confirm": "🗑 네, 삭제합니다",
        "strategies.btn.back": "◀️ 전략",
        "strategies.confirm_delete": (
            "내 전략 <b>{name}</b>을(를) 삭제할까요? 이 전략을 쓰는 봇은 전략 없이 계속 동작합니다. "
            "확인하려면 한 번 더 누르세요."
        ),
        "strategies.deleted": "🗑 {name} 삭제됨.",
        "strategies.ask.base": "어떤 전략을 복사할까요?",
        "strategies.ask.name": "<b>{base}</b> 복사본의 이름 (1~{maximum}자). /cancel로 중단합니다.",
        "strategies.ask.params": (
            "바꿀 파라미터를 key=value 형식으로 보내세요. 예: <code>{example}</code>, "
            "모두 그대로 두려면 <code>-</code>.\n<b>{base}</b>의 파라미터:\n{params}"
        ),
        "strategies.err.name": "이름은 제어 문자 없이 1~{maximum}자입니다.",
        "strategies.err.name_taken": "“{name}” 이름의 전략이 이미 있습니다. 다른 이름을 고르세요.",
        "strategies.err.format": "변경은 key=value 형식으로 적어 주세요 (예: <code>{example}</code>). “{text}”은(는) 아닙니다.",
        "strategies.err.unknown_key": "“{param}”은(는) {base}의 파라미터가 아닙니다.",
        "strategies.err.value": "“{value}”은(는) {param}에 맞지 않습니다: {rule}",
        "strategies.err.limit": "전략은 최대 {limit}개까지 저장할 수 있습니다. 먼저 하나를 삭제하세요.",
        "strategies.rule.timeframe": "{timeframes} 중 하나입니다.",
        "strategies.rule.leverage": "1~100의 정수입니다.",
        "strategies.rule.max_positions": "1~20의 정수입니다.",
        "strategies.rule.percent": "0 초과 100 미만의 퍼센트, 소수점 2자리까지입니다.",
        "strategies.rule.integer": "0 초과 10000 이하의 정수입니다.",
        "strategies.rule.number": "0 초과 10000 이하의 숫자입니다.",
        "strategies.saved": "✅ <b>{name}</b> 저장됨, {base}의 복사본 ({changes}).",
        "strategies.no_changes": "파라미터 동일",
        "strategies.cancelled": "취소했습니다. 아무것도 저장되지 않았습니다.",
        "wizard.ask.strategy": (
            "봇이 따를 전략은? 버튼을 누르거나 이름을 보내세요 (기본값 {default}). "
            "/strategies에서 백테스트 수치를 볼 수 있습니다."
        ),
        "wizard.rule.strategy": "알 수 없는 전략 “{name}”. 버튼 중 하나를 누르세요.",
        "wizard.summary.strategy_line": "전략: <b>{strategy}</b>",
    },
}
