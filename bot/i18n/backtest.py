"""Texts of /backtest ("backtest.*") and its errors. HTML; values arrive escaped."""

TEXTS = {
    "en": {
        "backtest.choose_kind": (
            "📈 <b>Backtest</b>\nWhich kind of bot? It runs on the real BTC and ETH hourly candles that "
            "ship with the bot ({first} to {last}), in the background: you can go on using the bot."
        ),
        "backtest.kind.grid": "🧱 Grid",
        "backtest.kind.trend": "🤖 AI trend",
        "backtest.choose_source": "Take the parameters from one of your bots, or start from the defaults?",
        "backtest.choose_source_none": "You have no bot of this kind yet, so the defaults are used.",
        "backtest.source.defaults": "⚙️ Defaults",
        "backtest.choose_strategy": "Which strategy? Its own leverage, stop loss and take profit are used.",
        "backtest.choose_period": (
            "{params}\n\nWhich period? The last days of the candles, or all of them. The candles end at "
            "{now} UTC: that last candle is \u201cnow\u201d here, not today."
        ),
        "backtest.edit": "✏️ Change parameters",
        "backtest.edit.grid": (
            "Type the parameters to change as <code>key value</code> pairs, e.g.\n"
            "<code>lower 60000 upper 70000 grids 20 mode geometric investment 1000</code>\n"
            "Also <code>trigger</code>, <code>stop_upper</code>, <code>stop_lower</code> "
            "(<code>none</code> clears them). /cancel stops."
        ),
        "backtest.edit.trend": (
            "Type the parameters to change as <code>key value</code> pairs, e.g.\n"
            "<code>strategy balanced leverage 3 sl 2 tp 4 timeframe 4h positions 2</code>\n"
            "(<code>sl 0</code> / <code>tp 0</code>: none; timeframes 1h 2h 4h 6h 12h 1d). /cancel stops."
        ),
        "backtest.edit.wrong": "⚠️ {reason}. Type them again, or /cancel.",
        "backtest.params.trigger": "trigger {price}",
        "backtest.params.stop_upper": "upper stop {price}",
        "backtest.params.stop_lower": "lower stop {price}",
        "backtest.outside": (
            "⚠️ The range {lower} – {upper} never touches this period's prices ({low} – {high}): "
            "no grid line could fill."
        ),
        "backtest.period.days": "{days} days",
        "backtest.period.all": "All",
        "backtest.period.label_days": "the last {days} days",
        "backtest.period.label_all": "all candles",
        "backtest.params.grid": (
            "🧱 Grid on <b>{symbol}</b>: {lower} – {upper} USDT, {count} grids ({mode}), {investment} USDT"
        ),
        "backtest.params.grid_defaults": (
            "🧱 Grid on <b>{symbol}</b>: the first price of the period -10 % to +10 %, {count} grids "
            "({mode}), {investment} USDT"
        ),
        "backtest.params.trend": (
            "🤖 <b>{strategy}</b> on <b>{symbol}</b> ({timeframe}): leverage {leverage}x, SL {sl}, TP {tp}, "
            "up to {positions} positions"
        ),
        "backtest.symbol_note": "<i>No candles of {symbol} ship with the bot: {fallback} is used.</i>",
        "backtest.none": "none",
        "backtest.progress": "⏳ Backtest running ({period})… <b>{percent} %</b>",
        "backtest.summary.grid": (
            "📈 <b>Grid backtest</b> · {symbol} · {start} – {end} ({candles} hourly candles)\n"
            "Range {lower} – {upper} USDT, {count} grids ({mode}), {investment} USDT\n"
            "Cycles: <b>{cycles}</b> · fills: {fills}\n"
            "Realized profit: <b>{profit} USDT</b> · fees: {fees} USDT\n"
            "Final equity: <b>{equity} USDT</b> ({roi} %)\n"
            "Max drawdown: {drawdown} % · in the market: {in_market} %\n"
            "Buy and hold: {hold} USDT ({hold_roi} %, max drawdown {hold_drawdown} %)"
        ),
        "backtest.summary.trend": (
            "📈 <b>AI trend backtest</b> · {strategy} · {symbol} {timeframe} · {start} – {end} "
            "({candles} candles)\n"
            "Leverage {leverage}x · SL {sl} · TP {tp} · {entry} % of the capital per entry\n"
            "Trades: <b>{trades}</b> · win rate: {win_rate} %\n"
            "Profit after fees: <b>{profit} USDT</b> ({roi} %) on {equity} USDT\n"
            "Max drawdown: {drawdown} % · Sharpe: {sharpe} · in the market: {exposure} %\n"
            "Buy and hold: {hold_roi} % (max drawdown {hold_drawdown} %)\n"
            "<i>Funding payments are not modelled.</i>"
        ),
        "backtest.caption": "📈 {title}: price with the trades, and the equity below",
        "backtest.failed": "⚠️ The backtest could not run: {reason}",
        "error.backtest_busy": "⏳ One of your backtests is still running. Wait for its result first.",
        "error.backtest_failed": "⚠️ The backtest could not run: {reason}",
    },
    "ko": {
        "backtest.choose_kind": (
            "📈 <b>백테스트</b>\n어떤 봇인가요? 봇에 포함된 실제 BTC·ETH 1시간 캔들({first} ~ {last})로 "
            "백그라운드에서 실행되므로 그동안 봇을 계속 쓸 수 있습니다."
        ),
        "backtest.kind.grid": "🧱 그리드",
        "backtest.kind.trend": "🤖 AI 추세",
        "backtest.choose_source": "내 봇 하나의 설정을 가져올까요, 기본값으로 시작할까요?",
        "backtest.choose_source_none": "이 종류의 봇이 아직 없어 기본값을 사용합니다.",
        "backtest.source.defaults": "⚙️ 기본값",
        "backtest.choose_strategy": "어떤 전략인가요? 전략의 레버리지, 손절, 익절 값을 사용합니다.",
        "backtest.choose_period": (
            "{params}\n\n어느 기간인가요? 캔들의 최근 며칠, 또는 전체. 캔들은 {now} UTC에 끝나며, "
            "여기서는 그 마지막 캔들이 \u201c지금\u201d입니다 (오늘이 아닙니다)."
        ),
        "backtest.edit": "✏️ 설정 바꾸기",
        "backtest.edit.grid": (
            "바꿀 설정을 <code>키 값</code> 쌍으로 입력하세요. 예:\n"
            "<code>lower 60000 upper 70000 grids 20 mode geometric investment 1000</code>\n"
            "<code>trigger</code>, <code>stop_upper</code>, <code>stop_lower</code>도 가능합니다 "
            "(<code>none</code>: 해제). /cancel: 중단."
        ),
        "backtest.edit.trend": (
            "바꿀 설정을 <code>키 값</code> 쌍으로 입력하세요. 예:\n"
            "<code>strategy balanced leverage 3 sl 2 tp 4 timeframe 4h positions 2</code>\n"
            "(<code>sl 0</code> / <code>tp 0</code>: 없음; 타임프레임 1h 2h 4h 6h 12h 1d). /cancel: 중단."
        ),
        "backtest.edit.wrong": "⚠️ {reason}. 다시 입력하거나 /cancel.",
        "backtest.params.trigger": "트리거 {price}",
        "backtest.params.stop_upper": "상단 손절 {price}",
        "backtest.params.stop_lower": "하단 손절 {price}",
        "backtest.outside": (
            "⚠️ 범위 {lower} – {upper}가 이 기간의 가격({low} – {high})에 전혀 닿지 않습니다: "
            "체결될 그리드 선이 없습니다."
        ),
        "backtest.period.days": "{days}일",
        "backtest.period.all": "전체",
        "backtest.period.label_days": "최근 {days}일",
        "backtest.period.label_all": "전체 캔들",
        "backtest.params.grid": (
            "🧱 <b>{symbol}</b> 그리드: {lower} – {upper} USDT, 그리드 {count}개 ({mode}), {investment} USDT"
        ),
        "backtest.params.grid_defaults": (
            "🧱 <b>{symbol}</b> 그리드: 기간 첫 가격의 -10 % ~ +10 %, 그리드 {count}개 ({mode}), "
            "{investment} USDT"
        ),
        "backtest.params.trend": (
            "🤖 <b>{symbol}</b>의 <b>{strategy}</b> ({timeframe}): 레버리지 {leverage}x, 손절 {sl}, "
            "익절 {tp}, 포지션 최대 {positions}개"
        ),
        "backtest.symbol_note": "<i>{symbol} 캔들은 포함되어 있지 않아 {fallback}을(를) 사용합니다.</i>",
        "backtest.none": "없음",
        "backtest.progress": "⏳ 백테스트 실행 중 ({period})… <b>{percent} %</b>",
        "backtest.summary.grid": (
            "📈 <b>그리드 백테스트</b> · {symbol} · {start} – {end} (1시간 캔들 {candles}개)\n"
            "범위 {lower} – {upper} USDT, 그리드 {count}개 ({mode}), {investment} USDT\n"
            "사이클: <b>{cycles}</b> · 체결: {fills}\n"
            "실현 수익: <b>{profit} USDT</b> · 수수료: {fees} USDT\n"
            "최종 자산: <b>{equity} USDT</b> ({roi} %)\n"
            "최대 낙폭: {drawdown} % · 시장 참여: {in_market} %\n"
            "단순 보유: {hold} USDT ({hold_roi} %, 최대 낙폭 {hold_drawdown} %)"
        ),
        "backtest.summary.trend": (
            "📈 <b>AI 추세 백테스트</b> · {strategy} · {symbol} {timeframe} · {start} – {end} "
            "(캔들 {candles}개)\n"
            "레버리지 {leverage}x · 손절 {sl} · 익절 {tp} · 진입당 자본의 {entry} %\n"
            "거래: <b>{trades}</b> · 승률: {win_rate} %\n"
            "수수료 차감 후 수익: <b>{profit} USDT</b> ({roi} %), 원금 {equity} USDT\n"
            "최대 낙폭: {drawdown} % · 샤프: {sharpe} · 포지션 보유: {exposure} %\n"
            "단순 보유: {hold_roi} % (최대 낙폭 {hold_drawdown} %)\n"
            "<i>펀딩비는 반영하지 않습니다.</i>"
        ),
        "backtest.caption": "📈 {title}: 가격과 거래, 아래는 자산 곡선",
        "backtest.failed": "⚠️ 백테스트를 실행할 수 없습니다: {reason}",
        "error.backtest_busy": "⏳ 실행 중인 백테스트가 있습니다. 먼저 결과를 기다려 주세요.",
        "error.backtest_failed": "⚠️ 백테스트를 실행할 수 없습니다: {reason}",
    },
}
