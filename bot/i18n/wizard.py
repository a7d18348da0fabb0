"""Texts of the bot-creation wizards and the grid preview ("wizard.*"). HTML; values arrive escaped."""

TEXTS = {
    "en": {
        # entry
        "wizard.choose_type": "🆕 <b>New bot</b>\nWhich kind? Free allocation: <b>{free} %</b>.",
        "wizard.type.trend": "🤖 AI trend",
        "wizard.type.grid": "🧱 Grid",
        "wizard.title.trend": "🤖 <b>New AI trend bot</b> · step {step}/{total}",
        "wizard.title.grid": "🧱 <b>New grid bot</b> · step {step}/{total}",
        "wizard.cancel_hint": "<i>/cancel stops the wizard; nothing is saved before you confirm.</i>",
        # questions
        "wizard.ask.name": "Name the bot (1 to {maximum} characters).",
        "wizard.ask.symbol": "Which market? Send a symbol like BTCUSDT or BTC/USDT.",
        "wizard.ask.allocation": "Which share of the account balance, in %? Still free: <b>{free} %</b>.",
        "wizard.ask.leverage": "Maximum leverage, 1 to {maximum} (default {default}x).",
        "wizard.ask.max_positions": (
            "How many positions may be open at once? 1 to {maximum} (default {default})."
        ),
        "wizard.ask.stop_loss": "Stop loss in % of the entry price (default {default} %).",
        "wizard.ask.take_profit": "Take profit in % of the entry price (default {default} %).",
        "wizard.button.suggest": "🔮 Suggest a range",
        "wizard.suggest.result": "{text}",
        "wizard.suggest.none": "No recent candles of {symbol} to suggest a range from: type the lower price.",
        "wizard.suggest.head": (
            "<b>Suggested ranges for {symbol}</b>, backtested on the last 30 and 7 days of hourly candles "
            "up to the last one ({now} UTC), per {investment} USDT:"
        ),
        "wizard.suggest.item": "{k}) <b>{lower} – {upper}</b> · {count} grids · {mode}\n    {windows}",
        "wizard.suggest.window": (
            "{days} d: {roi} % (APR {apr} %), max drawdown {drawdown} %, {cycles} cycles"
        ),
        "wizard.suggest.tap": "Tap one to take its range, grid count and spacing, or type the lower price.",
        "wizard.ask.lower_price": "Lower price of the grid range, in {quote}.{price_now}",
        "wizard.ask.upper_price": "Upper price of the grid range, in {quote} (above {lower}).{price_now}",
        "wizard.price_now": " {symbol} trades at {price} now.",
        "wizard.ask.grid_count": "Number of grids (intervals between the lines), {minimum} to {maximum}.",
        "wizard.ask.grid_mode": "Grid spacing: arithmetic (equal price steps) or geometric (equal % steps)?",
        "wizard.ask.total_investment": (
            "Total investment in {quote}. This grid needs at least <b>{minimum} {quote}</b> "
            "(the exchange's minimum order on every grid)."
        ),
        "wizard.ask.trigger_price": (
            "Optional: start the grid only when the price crosses this "
            "trigger ({quote}). Skip to start at once."
        ),
        "wizard.ask.stop_upper": (
            "Optional: stop the bot when the price rises above this ({quote}, above {upper})."
        ),
        "wizard.ask.stop_lower": (
            "Optional: stop the bot when the price falls below this ({quote}, below {lower})."
        ),
        # why an answer was refused
        "wizard.rule.name": "The name must be 1 to {maximum} characters, without control characters.",
        "wizard.rule.symbol": "Unknown market “{symbol}”. Send a symbol like BTCUSDT or ETHUSDT.",
        "wizard.rule.allocation": (
            "The allocation must be a number above 0 and at most {free} % (the share still free), "
            "with at most 2 decimals."
        ),
        "wizard.rule.leverage": "The leverage must be a whole number from 1 to {maximum}.",
        "wizard.rule.max_positions": "Max positions must be a whole number from 1 to {maximum}.",
        "wizard.rule.stop_loss": (
            "The stop loss must be a number above 0 and below 100 %, with at most 2 decimals."
        ),
        "wizard.rule.take_profit": (
            "The take profit must be a number above 0 %, at most 999.99, 2 decimals at most."
        ),
        "wizard.rule.lower_price": (
            "The lower price must be a number above 0 ({quote}), with at most 8 decimals."
        ),
        "wizard.rule.upper_price": "The upper price must be a number above the lower price ({lower}).",
        "wizard.rule.grid_count": "The number of grids must be a whole number from {minimum} to {maximum}.",
        "wizard.rule.grid_mode": "Choose arithmetic or geometric.",
        "wizard.rule.total_investment": "The investment must be a number above 0 ({quote}).",
        "wizard.rule.trigger_price": "The trigger must be a price above 0 ({quote}).",
        "wizard.rule.stop_upper": "The upper stop must be a price above the upper price ({upper}).",
        "wizard.rule.stop_lower": (
            "The lower stop must be a price above 0 and below the lower price ({lower})."
        ),
        "wizard.err.over_allocation": "{requested} % is more than the {free} % still free.",
        "wizard.err.trigger_far": (
            "A trigger at {value} is more than half the price away from {price} now: check the number."
        ),
        "wizard.err.stop_upper_passed": (
            "The price is {price} now, already at or above an upper stop at {value}: the bot would stop at once."
        ),
        "wizard.err.stop_lower_passed": (
            "The price is {price} now, already at or below a lower stop at {value}: the bot would stop at once."
        ),
        "wizard.err.over_capital": (
            "{needed} USDT is more than this bot's allocation of the balance now: at most <b>{allocated} USDT</b>."
        ),
        "wizard.err.name_taken": "You already have a bot named “{name}”. Choose another name.",
        "wizard.err.ambiguous_number": (
            "“{text}” could mean {thousands} or {decimal}: send it without the comma or with a point."
        ),
        "wizard.err.grid_too_small": (
            "Each grid's order would be under the exchange's minimum. "
            "Invest at least <b>{minimum} {quote}</b>."
        ),
        "wizard.err.preview": "{preview}",
        "wizard.err.narrow": (
            "The range is too narrow for {count} grids at the market's price step ({tick}): use fewer grids."
        ),
        "wizard.err.narrow_mode": (
            "With this spacing two of the {count} grid lines fall on the same price step ({tick}): "
            "choose the other spacing, or /cancel and use fewer grids."
        ),
        "wizard.err.too_many_bots": "You already have {limit} bots, the most allowed. Delete one first.",
        "wizard.err.nothing_free": (
            "Your whole balance is allocated (0 % free). Lower another bot's share first."
        ),
        "wizard.err.generic": "That did not work. Please try again.",
        "wizard.err.use_buttons": "Please use the buttons (or /cancel).",
        "wizard.err.text_only": "Please answer with text (or /cancel).",
        "wizard.outdated": "This button belongs to an earlier question.",
        "wizard.cancelled": "Cancelled. Nothing was saved.",
        "wizard.created": "✅ Bot <b>{name}</b> created (stopped). Free allocation now: <b>{free} %</b>.",
        # buttons
        "wizard.button.skip": "⏭ Skip",
        "wizard.button.cancel": "✖ Cancel",
        "wizard.button.create": "✅ Create",
        "wizard.button.start": "▶️ Start",
        "wizard.button.open": "📄 Open",
        "wizard.button.all_free": "All free: {free} %",
        "wizard.button.default": "Default: {value}",
        "wizard.button.minimum": "Minimum: {value}",
        "wizard.button.allocated": "Allocated, 1 % kept for price moves: {value}",
        "wizard.button.spot_free": "All the spot wallet holds free: {value}",
        "wizard.mode.arithmetic": "Arithmetic",
        "wizard.mode.geometric": "Geometric",
        # summaries
        "wizard.summary.trend": (
            "🤖 <b>New AI trend bot: check and confirm</b>\n"
            "Name: <b>{name}</b>\n"
            "Market: {symbol}\n"
            "Allocation: {allocation} % (free after: {free_after} %)\n"
            "Leverage: up to {leverage}x · positions: up to {positions}\n"
            "Stop loss: {stop_loss} % · take profit: {take_profit} %\n\n"
            "Nothing is saved until you press Create."
        ),
        "wizard.summary.trigger_price": "Trigger: starts when the price crosses {price} {quote}",
        "wizard.summary.stop_upper": "Upper stop: {price} {quote}",
        "wizard.summary.stop_lower": "Lower stop: {price} {quote}",
        "wizard.summary.confirm": "Nothing is saved until you press Create.",
        # grid preview
        "wizard.preview.title": "🧱 <b>Grid preview: {name}</b> · {symbol}",
        "wizard.preview.range": "Range: {lower} – {upper} {quote} · {count} grids · {mode}",
        "wizard.preview.lines": "Lines ({count}): {lines}",
        "wizard.preview.per_grid": "Per grid: {amount} {quote} (total {investment} {quote})",
        "wizard.preview.qty": "Quantity per grid: {qty_min} – {qty_max} {base}",
        "wizard.preview.profit": (
            "Profit per grid after fees ({fee} % maker on each fill): {low} % at the lowest grid, "
            "{high} % at the highest"
        ),
        "wizard.preview.fees": "Fee rates used: maker {maker} %, taker {taker} %",
        "wizard.preview.market_buy": (
            "At the start ({price} {quote}): buys {qty} {base} at market ≈ {cost} {quote} "
            "(taker fee ≈ {fee} {quote})"
        ),
        "wizard.preview.no_market_buy": "At the start ({price} {quote}): nothing is bought at market",
        "wizard.preview.resting": "Orders resting after the start: buy {buys}, sell {sells}",
        "wizard.preview.near_edge": (
            "⚠️ The price ({price} {quote}) sits within one grid of an edge of the range: "
            "a small move takes it out of the grid."
        ),
        "wizard.preview.outside_range": (
            "⚠️ The price ({price} {quote}) is outside the range: the grid trades only once it comes back."
        ),
        "wizard.preview.capital": (
            "Capital needed: {needed} {quote} · this bot's allocation: {allocation} % = {allocated} {quote}"
        ),
        "wizard.preview.capital_unknown": (
            "Capital needed: {needed} {quote} · this bot's allocation: {allocation} % of your balance"
        ),
        "wizard.preview.over_capital": (
            "⚠️ The grid needs more than the allocated capital: it will not start."
        ),
        "wizard.preview.negative_profit": (
            "⚠️ Fees eat the whole step of some grids (profit ≤ 0): widen the range or use fewer grids."
        ),
        "wizard.preview.too_small": (
            "⚠️ Each grid's order is under the exchange's minimum. The smallest investment that works: "
            "<b>{minimum} {quote}</b>."
        ),
    },
    "ko": {
        "wizard.choose_type": "🆕 <b>새 봇</b>\n어떤 종류인가요? 남은 배분: <b>{free} %</b>.",
        "wizard.type.trend": "🤖 AI 추세",
        "wizard.type.grid": "🧱 그리드",
        "wizard.title.trend": "🤖 <b>새 AI 추세 봇</b> · {step}/{total} 단계",
        "wizard.title.grid": "🧱 <b>새 그리드 봇</b> · {step}/{total} 단계",
        "wizard.cancel_hint": "<i>/cancel 로 중단합니다. 확인 전에는 아무것도 저장되지 않습니다.</i>",
        "wizard.ask.name": "봇 이름을 입력하세요 (1~{maximum}자).",
        "wizard.ask.symbol": "어떤 마켓인가요? BTCUSDT 또는 BTC/USDT 처럼 심볼을 보내세요.",
        "wizard.ask.allocation": "계좌 잔고 중 몇 %를 배분할까요? 남은 배분: <b>{free} %</b>.",
        "wizard.ask.leverage": "최대 레버리지, 1~{maximum} (기본값 {default}x).",
        "wizard.ask.max_positions": "동시에 열 수 있는 포지션 수, 1~{maximum} (기본값 {default}).",
        "wizard.ask.stop_loss": "손절 비율, 진입가 대비 % (기본값 {default} %).",
        "wizard.ask.take_profit": "익절 비율, 진입가 대비 % (기본값 {default} %).",
        "wizard.button.suggest": "🔮 범위 추천",
        "wizard.suggest.result": "{text}",
        "wizard.suggest.none": "{symbol}의 최근 캔들이 없어 범위를 추천할 수 없습니다. 하단 가격을 입력하세요.",
        "wizard.suggest.head": (
            "<b>{symbol} 추천 범위</b>: 마지막 캔들({now} UTC)까지 최근 30일과 7일의 1시간 캔들로 "
            "{investment} USDT 기준 백테스트:"
        ),
        "wizard.suggest.item": "{k}) <b>{lower} – {upper}</b> · 그리드 {count}개 · {mode}\n    {windows}",
        "wizard.suggest.window": "{days}일: {roi} % (연환산 {apr} %), 최대 낙폭 {drawdown} %, {cycles}회 순환",
        "wizard.suggest.tap": "하나를 누르면 범위, 그리드 수, 간격이 채워집니다. 또는 하단 가격을 입력하세요.",
        "wizard.ask.lower_price": "그리드 범위의 하단 가격 ({quote}).{price_now}",
        "wizard.ask.upper_price": "그리드 범위의 상단 가격 ({quote}, {lower}보다 높게).{price_now}",
        "wizard.price_now": " 현재 {symbol} 가격은 {price}입니다.",
        "wizard.ask.grid_count": "그리드 수 (라인 사이 구간 수), {minimum}~{maximum}.",
        "wizard.ask.grid_mode": "그리드 간격: 등차 (같은 가격 간격) 또는 등비 (같은 % 간격)?",
        "wizard.ask.total_investment": (
            "총 투자금 ({quote}). 이 그리드에는 최소 <b>{minimum} {quote}</b>가 필요합니다 "
            "(모든 그리드 주문이 거래소 최소 주문 이상)."
        ),
        "wizard.ask.trigger_price": (
            "선택: 가격이 이 트리거 ({quote})를 지날 때 그리드를 시작합니다. 바로 시작하려면 건너뛰세요."
        ),
        "wizard.ask.stop_upper": (
            "선택: 가격이 이 값 위로 오르면 봇을 중지합니다 ({quote}, {upper}보다 높게)."
        ),
        "wizard.ask.stop_lower": (
            "선택: 가격이 이 값 아래로 내리면 봇을 중지합니다 ({quote}, {lower}보다 낮게)."
        ),
        "wizard.rule.name": "이름은 제어 문자 없이 1~{maximum}자여야 합니다.",
        "wizard.rule.symbol": "알 수 없는 마켓 “{symbol}”. BTCUSDT 나 ETHUSDT 같은 심볼을 보내세요.",
        "wizard.rule.allocation": (
            "배분은 0보다 크고 {free} % (남은 배분) 이하인 숫자여야 하며, 소수점은 2자리까지입니다."
        ),
        "wizard.rule.leverage": "레버리지는 1~{maximum} 사이의 정수여야 합니다.",
        "wizard.rule.max_positions": "최대 포지션 수는 1~{maximum} 사이의 정수여야 합니다.",
        "wizard.rule.stop_loss": "손절은 0보다 크고 100 % 미만인 숫자여야 하며, 소수점은 2자리까지입니다.",
        "wizard.rule.take_profit": (
            "익절은 0 %보다 크고 999.99 이하인 숫자여야 하며, 소수점은 2자리까지입니다."
        ),
        "wizard.rule.lower_price": "하단 가격은 0보다 큰 숫자여야 하며 ({quote}), 소수점은 8자리까지입니다.",
        "wizard.rule.upper_price": "상단 가격은 하단 가격 ({lower})보다 큰 숫자여야 합니다.",
        "wizard.rule.grid_count": "그리드 수는 {minimum}~{maximum} 사이의 정수여야 합니다.",
        "wizard.rule.grid_mode": "등차 또는 등비를 선택하세요.",
        "wizard.rule.total_investment": "투자금은 0보다 큰 숫자여야 합니다 ({quote}).",
        "wizard.rule.trigger_price": "트리거는 0보다 큰 가격이어야 합니다 ({quote}).",
        "wizard.rule.stop_upper": "상단 중지 가격은 상단 가격 ({upper})보다 높아야 합니다.",
        "wizard.rule.stop_lower": "하단 중지 가격은 0보다 크고 하단 가격 ({lower})보다 낮아야 합니다.",
        "wizard.err.over_allocation": "{requested} %는 남은 배분 {free} %보다 많습니다.",
        "wizard.err.trigger_far": "트리거 {value}는 현재가 {price}에서 절반 이상 떨어져 있습니다: 숫자를 확인하세요.",
        "wizard.err.stop_upper_passed": "현재가 {price}가 이미 상단 정지가 {value} 이상입니다: 봇이 바로 멈춥니다.",
        "wizard.err.stop_lower_passed": "현재가 {price}가 이미 하단 정지가 {value} 이하입니다: 봇이 바로 멈춥니다.",
        "wizard.err.over_capital": "{needed} USDT는 지금 이 봇의 배분액보다 많습니다: 최대 <b>{allocated} USDT</b>.",
        "wizard.err.name_taken": "“{name}” 이름의 봇이 이미 있습니다. 다른 이름을 고르세요.",
        "wizard.err.ambiguous_number": (
            "“{text}” 는 {thousands} 또는 {decimal} 로 읽힐 수 있습니다. 쉼표 없이 또는 점으로 보내세요."
        ),
        "wizard.err.grid_too_small": (
            "그리드마다의 주문이 거래소 최소 주문보다 작습니다. 최소 <b>{minimum} {quote}</b>를 투자하세요."
        ),
        "wizard.err.preview": "{preview}",
        "wizard.err.narrow": (
            "범위가 마켓의 가격 단위 ({tick})에 비해 {count}개 "
            "그리드로는 너무 좁습니다: 그리드 수를 줄이세요."
        ),
        "wizard.err.narrow_mode": (
            "이 간격에서는 {count}개 그리드의 두 라인이 같은 가격 단위 ({tick})에 놓입니다: "
            "다른 간격을 고르거나 /cancel 후 그리드 수를 줄이세요."
        ),
        "wizard.err.too_many_bots": "이미 최대 {limit}개의 봇이 있습니다. 먼저 하나를 삭제하세요.",
        "wizard.err.nothing_free": (
            "잔고가 모두 배분되었습니다 (남은 배분 0 %). 먼저 다른 봇의 배분을 줄이세요."
        ),
        "wizard.err.generic": "처리하지 못했습니다. 다시 시도해 주세요.",
        "wizard.err.use_buttons": "버튼을 사용하세요 (또는 /cancel).",
        "wizard.err.text_only": "텍스트로 답해 주세요 (또는 /cancel).",
        "wizard.outdated": "이전 질문의 버튼입니다.",
        "wizard.cancelled": "취소했습니다. 아무것도 저장되지 않았습니다.",
        "wizard.created": "✅ 봇 <b>{name}</b> 생성됨 (중지 상태). 남은 배분: <b>{free} %</b>.",
        "wizard.button.skip": "⏭ 건너뛰기",
        "wizard.button.cancel": "✖ 취소",
        "wizard.button.create": "✅ 생성",
        "wizard.button.start": "▶️ 시작",
        "wizard.button.open": "📄 열기",
        "wizard.button.all_free": "남은 전부: {free} %",
        "wizard.button.default": "기본값: {value}",
        "wizard.button.minimum": "최소: {value}",
        "wizard.button.allocated": "배분액 (가격 변동용 1 % 제외): {value}",
        "wizard.button.spot_free": "현물 지갑의 사용 가능 전액: {value}",
        "wizard.mode.arithmetic": "등차",
        "wizard.mode.geometric": "등비",
        "wizard.summary.trend": (
            "🤖 <b>새 AI 추세 봇: 확인 후 생성</b>\n"
            "이름: <b>{name}</b>\n"
            "마켓: {symbol}\n"
            "배분: {allocation} % (생성 후 남은 배분: {free_after} %)\n"
            "레버리지: 최대 {leverage}x · 포지션: 최대 {positions}개\n"
            "손절: {stop_loss} % · 익절: {take_profit} %\n\n"
            "생성을 누르기 전에는 아무것도 저장되지 않습니다."
        ),
        "wizard.summary.trigger_price": "트리거: 가격이 {price} {quote}를 지나면 시작",
        "wizard.summary.stop_upper": "상단 중지: {price} {quote}",
        "wizard.summary.stop_lower": "하단 중지: {price} {quote}",
        "wizard.summary.confirm": "생성을 누르기 전에는 아무것도 저장되지 않습니다.",
        "wizard.preview.title": "🧱 <b>그리드 미리보기: {name}</b> · {symbol}",
        "wizard.preview.range": "범위: {lower} – {upper} {quote} · 그리드 {count}개 · {mode}",
        "wizard.preview.lines": "라인 ({count}개): {lines}",
        "wizard.preview.per_grid": "그리드당: {amount} {quote} (총 {investment} {quote})",
        "wizard.preview.qty": "그리드당 수량: {qty_min} – {qty_max} {base}",
        "wizard.preview.profit": (
            "수수료 차감 후 그리드당 수익 (체결마다 메이커 {fee} %): "
            "최저 그리드 {low} %, 최고 그리드 {high} %"
        ),
        "wizard.preview.fees": "적용 수수료율: 메이커 {maker} %, 테이커 {taker} %",
        "wizard.preview.market_buy": (
            "시작 시 ({price} {quote}): 시장가로 {qty} {base} 매수 ≈ {cost} {quote} "
            "(테이커 수수료 ≈ {fee} {quote})"
        ),
        "wizard.preview.no_market_buy": "시작 시 ({price} {quote}): 시장가 매수 없음",
        "wizard.preview.resting": "시작 후 대기 주문: 매수 {buys}개, 매도 {sells}개",
        "wizard.preview.near_edge": (
            "⚠️ 가격 ({price} {quote})이 범위 끝에서 한 그리드 이내에 있습니다: "
            "작은 움직임에도 그리드를 벗어납니다."
        ),
        "wizard.preview.outside_range": (
            "⚠️ 가격 ({price} {quote})이 범위 밖에 있습니다: 가격이 돌아와야 그리드가 거래합니다."
        ),
        "wizard.preview.capital": (
            "필요 자본: {needed} {quote} · 이 봇의 배분: {allocation} % = {allocated} {quote}"
        ),
        "wizard.preview.capital_unknown": "필요 자본: {needed} {quote} · 이 봇의 배분: 잔고의 {allocation} %",
        "wizard.preview.over_capital": (
            "⚠️ 그리드에 배분된 자본보다 많은 금액이 필요합니다: 시작되지 않습니다."
        ),
        "wizard.preview.negative_profit": (
            "⚠️ 일부 그리드는 수수료가 간격 수익을 모두 잠식합니다 (수익 "
            "≤ 0): 범위를 넓히거나 그리드 수를 줄이세요."
        ),
        "wizard.preview.too_small": (
            "⚠️ 그리드마다의 주문이 거래소 최소 주문보다 작습니다. 가능한 최소 "
            "투자금: <b>{minimum} {quote}</b>."
        ),
    },
}
