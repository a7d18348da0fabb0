"""Texts of the menu, help, language, API keys and the domain errors. HTML: placeholders arrive escaped."""

TEXTS = {
    "en": {
        "common.not_allowed": "Sorry, this bot is private. Ask its owner to add your Telegram id.",
        "common.cancel": "✖ Cancel",
        "common.cancelled": "Cancelled. Nothing was changed.",
        "common.nothing_to_cancel": "There is nothing to cancel.",
        "common.unknown_button": "This button is not available (yet). Open /menu.",
        "common.unknown_message": "I did not understand that. Pick an action below or see /help.",
        "start.welcome": (
            "Hello, {name}! 👋\n"
            "I run your fleet of trading bots: AI trend bots and grid bots, each with its own share of your "
            "balance. New accounts trade on <b>paper</b> (simulated money) until you switch to live in /keys."
        ),
        "menu.title": "<b>Main menu</b>",
        "menu.status": "💼 Equity {equity} USDT · today {today} USDT · {running} of {bots} bots running",
        "menu.bots": "🤖 My bots",
        "menu.newbot": "➕ New bot",
        "menu.allocation": "📊 Allocation",
        "menu.stopall": "⛔ Stop all",
        "menu.keys": "🔑 API keys",
        "menu.language": "🌐 Language",
        "menu.help": "❓ Help",
        "menu.backtest": "🧪 Backtest",
        "menu.main": "🏠 Main menu",
        "help.text": (
            "<b>Commands</b>\n"
            "/start – the main menu\n"
            "/bots – your bots: start, stop, edit, delete\n"
            "/newbot – create an AI trend bot or a grid bot\n"
            "/allocation – each bot's share of your balance and the free share\n"
            "/stopall – stop every bot at once (kill switch)\n"
            "/keys – exchange API keys and paper or live trading\n"
            "/strategies – trend strategies with their figures; save your own parameters\n"
            "/backtest – test a grid or a trend strategy on real candles\n"
            "/trade – a manual market order (e.g. /trade BTCUSDT buy 0.001)\n"
            "/balance – spot and futures USDT, coins and equity\n"
            "/positions – every open position and held coin\n"
            "/pnl – PnL today, over 7 and 30 days and all time\n"
            "/trades – your fills, page by page, per bot\n"
            "/language – 한국어 / English\n"
            "/cancel – stop what you are typing into\n"
            "/help – this list"
        ),
        "command.start": "Main menu",
        "command.bots": "Your bots",
        "command.newbot": "Create a bot",
        "command.allocation": "Balance shares of your bots",
        "command.stopall": "Stop every bot (kill switch)",
        "command.keys": "Exchange API keys and trading mode",
        "command.language": "Language",
        "command.help": "All commands",
        "command.cancel": "Cancel the current step",
        "command.strategies": "Trend strategies and your own",
        "command.backtest": "Backtest on real candles",
        "lang.choose": "Choose your language:",
        "lang.set": "Language set to English.",
        "keys.title": (
            "<b>Exchange account</b>\nExchange: {exchange}\nAPI key: <code>{api_key}</code>\nMode: {mode}"
        ),
        "keys.none": "not set",
        "keys.mode.paper": "📝 paper (simulated money)",
        "keys.mode.live": "💰 live (real orders)",
        "keys.btn.set": "🔑 Set {exchange} keys",
        "keys.btn.paper": "📝 Switch to paper",
        "keys.btn.live": "💰 Switch to live",
        "keys.btn.clear": "🗑 Remove keys",
        "keys.btn.clear_confirm": "🗑 Yes, remove",
        "keys.ask.api_key": (
            "Send your {exchange} <b>API key</b>.\n"
            "Every message with a key is deleted right away and stored encrypted. /cancel stops."
        ),
        "keys.ask.secret": "Now send the <b>API secret</b>.",
        "keys.ask.passphrase": "Now send the <b>API passphrase</b>.",
        "keys.saved": "✅ Keys saved (encrypted). Your messages with them were deleted.",
        "keys.mode_set": "✅ Trading mode changed.",
        "keys.confirm_clear": "Remove your API keys? Trading goes back to paper.",
        "keys.cleared": "🗑 Keys removed; trading is on paper.",
        "field.allocation": "the allocation",
        "field.leverage": "the leverage",
        "field.max_positions": "the maximum positions",
        "error.generic": "⚠️ {message}",
        "error.ask_again": "Send another value, or /cancel.",
        "error.not_found": "⚠️ Not found. It may have been deleted.",
        "error.exchange_out_of_reach": "⚠️ The exchange cannot be reached right now; nothing was changed. Try again later.",
        "error.not_allowed": "Sorry, this bot is private.",
        "error.name_taken": "⚠️ You already have a bot named “{name}”. Choose another name.",
        "error.over_allocation": (
            "⚠️ {requested}% is more than is free: only {free}% of your balance is left."
        ),
        "error.too_many_bots": "⚠️ You can have at most {limit} bots. Delete one first.",
        "error.already_running": "This bot is already running.",
        "error.not_running": "This bot is not running.",
        "error.stop_first": "⚠️ Stop the bot before changing {setting}.",
        "error.still_stopping": "⏳ <b>{name}</b> is still stopping: start it again once that is done.",
        "error.bots_on_venue": (
            "⚠️ {count} bot(s) run on the venue you would leave: {names}. A switch never moves a running bot; "
            "stop them first (their coins and positions are kept)."
        ),
        "error.held_elsewhere": (
            "⚠️ <b>{name}</b> holds coin or positions on {venue}, and your keys now open another account: "
            "set the keys of that account again, or delete the bot."
        ),
        "error.opposite_sides": (
            "⚠️ <b>{other}</b> already trades {symbol}: two trend bots on one perpetual could take opposite "
            "sides, which the exchange nets into one position. Stop that bot first, or trade another symbol."
        ),
        "error.private_only": "🔒 This is done in the private chat with the bot, not in a group: open it and send /keys.",
        "error.invalid.holdings": "⚠️ Keep or close: choose one of the buttons.",
        "error.against_price": "⚠️ {value} does not fit the price now ({price}).",
        "keys.btn.stop_bots": "⏹ Stop these {count} bot(s) first",
        "error.grid_too_small": (
            "⚠️ Each grid order would be under the exchange's minimum. Invest at least {min_investment} USDT "
            "or use fewer grids."
        ),
        "error.insufficient_capital": (
            "⚠️ The grid needs {needed} USDT but this bot's share of your balance is {allocated} USDT."
        ),
        "error.wallet_short": (
            "⚠️ This bot trades from your {wallet} wallet, which has {held} USDT free; it needs {needed} USDT."
            " Move {move} USDT from your {source} wallet to your {wallet} wallet on Bitget"
            " ({source} has {available} USDT free), then start the bot again."
        ),
        "wallet.spot": "spot",
        "wallet.futures": "USDT-M futures",
        "error.invalid.name": "⚠️ A name is 1 to 100 characters, without control characters.",
        "error.invalid.symbol": "⚠️ Unknown symbol. Use a market like BTCUSDT or ETH/USDT.",
        "error.invalid.allocation": (
            "⚠️ The allocation is a percent more than 0 and at most 100, e.g. 25 or 12.5."
        ),
        "error.invalid.leverage": "⚠️ Leverage is a whole number from 1 to {maximum}.",
        "error.invalid.max_positions": "⚠️ Maximum positions is a whole number from 1 to 20.",
        "error.invalid.stop_loss": "⚠️ Stop loss is a percent more than 0 and under 100, e.g. 3.5.",
        "error.invalid.take_profit": "⚠️ Take profit is a percent more than 0 and at most 999.99, e.g. 8.",
        "error.invalid.lower_price": "⚠️ The lower price must be a positive number.",
        "error.invalid.upper_price": "⚠️ The upper price must be a positive number above the lower price.",
        "error.invalid.grid_count": (
            "⚠️ The grid count is a whole number from 2 to 100 (fewer if the range is narrow)."
        ),
        "error.invalid.grid_mode": "⚠️ The grid mode is arithmetic or geometric.",
        "error.invalid.total_investment": "⚠️ The investment must be a positive amount in USDT.",
        "error.invalid.trigger_price": "⚠️ The trigger price must be a positive number.",
        "error.invalid.stop_upper": "⚠️ The upper stop must be a price above the grid's upper price.",
        "error.invalid.stop_lower": "⚠️ The lower stop must be a price below the grid's lower price.",
        "error.invalid.language": "⚠️ The language is Korean or English.",
        "error.invalid.trading_mode": "⚠️ Live trading needs your exchange API keys: set them first.",
        "error.invalid.exchange": "⚠️ This exchange is not supported.",
        "error.invalid.api_key": (
            "⚠️ The API key must be 1 to 256 characters without spaces. Start again with /keys."
        ),
        "error.invalid.secret": (
            "⚠️ The secret must be 1 to 256 characters without spaces. Start again with /keys."
        ),
        "error.invalid.passphrase": (
            "⚠️ The passphrase must be 1 to 256 characters without spaces. Start again with /keys."
        ),
        "error.unexpected": "⚠️ Something went wrong on our side. Check /bots before you try again.",
        "error.ambiguous_number": (
            "⚠️ “{text}” could mean {thousands} or {decimal}: a comma can separate thousands or decimals. "
            "Send it without the comma ({thousands}) or with a point ({decimal})."
        ),
    },
    "ko": {
        "common.not_allowed": "죄송합니다. 비공개 봇입니다. 소유자에게 텔레그램 ID 등록을 요청하세요.",
        "common.cancel": "✖ 취소",
        "common.cancelled": "취소했습니다. 아무것도 바뀌지 않았습니다.",
        "common.nothing_to_cancel": "취소할 작업이 없습니다.",
        "common.unknown_button": "이 버튼은 (아직) 사용할 수 없습니다. /menu 를 여세요.",
        "common.unknown_message": "이해하지 못했습니다. 아래에서 선택하거나 /help 를 보세요.",
        "start.welcome": (
            "안녕하세요, {name}님! 👋\n"
            "AI 추세 봇과 그리드 봇으로 이루어진 트레이딩 봇들을 운영해 드립니다. 봇마다 잔고의 일정 비율을 "
            "배정합니다. 새 계정은 /keys 에서 실거래로 바꾸기 전까지 <b>모의투자</b>(가상 자금)로 거래합니다."
        ),
        "menu.title": "<b>메인 메뉴</b>",
        "menu.status": "💼 총 자산 {equity} USDT · 오늘 {today} USDT · 봇 {bots}개 중 {running}개 실행 중",
        "menu.bots": "🤖 내 봇",
        "menu.newbot": "➕ 새 봇",
        "menu.allocation": "📊 자금 배분",
        "menu.stopall": "⛔ 전체 중지",
        "menu.keys": "🔑 API 키",
        "menu.language": "🌐 언어",
        "menu.help": "❓ 도움말",
        "menu.backtest": "🧪 백테스트",
        "menu.main": "🏠 메인 메뉴",
        "help.text": (
            "<b>명령어</b>\n"
            "/start – 메인 메뉴\n"
            "/bots – 내 봇: 시작, 중지, 수정, 삭제\n"
            "/newbot – AI 추세 봇 또는 그리드 봇 만들기\n"
            "/allocation – 봇별 잔고 배분과 남은 비율\n"
            "/stopall – 모든 봇 즉시 중지 (킬 스위치)\n"
            "/keys – 거래소 API 키, 모의투자/실거래 전환\n"
            "/strategies – 추세 전략과 성과 지표, 나만의 파라미터 저장\n"
            "/backtest – 실제 캔들로 그리드/추세 전략 백테스트\n"
            "/trade – 수동 시장가 주문 (예: <code>/trade BTCUSDT buy 0.001</code>)\n"
            "/balance – 현물·선물 USDT, 코인, 총 자산\n"
            "/positions – 열린 포지션과 보유 코인\n"
            "/pnl – 오늘, 7일, 30일, 전체 손익\n"
            "/trades – 체결 내역 (봇별, 쪽 단위)\n"
            "/language – 한국어 / English\n"
            "/cancel – 입력 중인 작업 취소\n"
            "/help – 이 목록"
        ),
        "command.start": "메인 메뉴",
        "command.bots": "내 봇",
        "command.newbot": "봇 만들기",
        "command.allocation": "봇별 자금 배분",
        "command.stopall": "모든 봇 중지 (킬 스위치)",
        "command.keys": "거래소 API 키와 거래 모드",
        "command.language": "언어",
        "command.help": "전체 명령어",
        "command.cancel": "현재 단계 취소",
        "command.strategies": "추세 전략과 나의 전략",
        "command.backtest": "실제 캔들로 백테스트",
        "lang.choose": "언어를 선택하세요:",
        "lang.set": "언어를 한국어로 설정했습니다.",
        "keys.title": (
            "<b>거래소 계정</b>\n거래소: {exchange}\nAPI 키: <code>{api_key}</code>\n모드: {mode}"
        ),
        "keys.none": "미설정",
        "keys.mode.paper": "📝 모의투자 (가상 자금)",
        "keys.mode.live": "💰 실거래 (실제 주문)",
        "keys.btn.set": "🔑 {exchange} 키 설정",
        "keys.btn.paper": "📝 모의투자로 전환",
        "keys.btn.live": "💰 실거래로 전환",
        "keys.btn.clear": "🗑 키 삭제",
        "keys.btn.clear_confirm": "🗑 네, 삭제합니다",
        "keys.ask.api_key": (
            "{exchange} <b>API 키</b>를 보내세요.\n"
            "키가 담긴 메시지는 바로 삭제되고 암호화되어 저장됩니다. /cancel 로 중단합니다."
        ),
        "keys.ask.secret": "이제 <b>API 시크릿</b>을 보내세요.",
        "keys.ask.passphrase": "이제 <b>API 패스프레이즈</b>를 보내세요.",
        "keys.saved": "✅ 키를 암호화하여 저장했습니다. 키가 담긴 메시지는 삭제했습니다.",
        "keys.mode_set": "✅ 거래 모드를 변경했습니다.",
        "keys.confirm_clear": "API 키를 삭제할까요? 거래는 모의투자로 돌아갑니다.",
        "keys.cleared": "🗑 키를 삭제했습니다. 모의투자로 거래합니다.",
        "field.allocation": "자금 배분",
        "field.leverage": "레버리지",
        "field.max_positions": "최대 포지션 수",
        "error.generic": "⚠️ {message}",
        "error.ask_again": "다른 값을 보내거나 /cancel 하세요.",
        "error.not_found": "⚠️ 찾을 수 없습니다. 삭제되었을 수 있습니다.",
        "error.exchange_out_of_reach": "⚠️ 지금 거래소에 연결할 수 없습니다. 아무것도 바뀌지 않았습니다. 잠시 후 다시 시도하세요.",
        "error.not_allowed": "죄송합니다. 비공개 봇입니다.",
        "error.name_taken": "⚠️ “{name}” 이름의 봇이 이미 있습니다. 다른 이름을 고르세요.",
        "error.over_allocation": "⚠️ {requested}%는 남은 비율보다 많습니다. 잔고의 {free}%만 남아 있습니다.",
        "error.too_many_bots": "⚠️ 봇은 최대 {limit}개까지 만들 수 있습니다. 먼저 하나를 삭제하세요.",
        "error.already_running": "이 봇은 이미 실행 중입니다.",
        "error.not_running": "이 봇은 실행 중이 아닙니다.",
        "error.stop_first": "⚠️ {setting}을(를) 바꾸려면 먼저 봇을 중지하세요.",
        "error.still_stopping": "⏳ <b>{name}</b> 봇이 아직 중지 중입니다. 끝난 뒤 다시 시작하세요.",
        "error.bots_on_venue": (
            "⚠️ 전환하려는 곳과 다른 곳에서 봇 {count}개가 실행 중입니다: {names}. 전환은 실행 중인 봇을 옮기지 "
            "않습니다. 먼저 중지하세요 (코인과 포지션은 유지됩니다)."
        ),
        "error.held_elsewhere": (
            "⚠️ <b>{name}</b> 봇이 {venue}에 코인이나 포지션을 보유하고 있는데, 지금 키는 다른 계정의 키입니다. "
            "그 계정의 키를 다시 설정하거나 봇을 삭제하세요."
        ),
        "error.opposite_sides": (
            "⚠️ <b>{other}</b> 봇이 이미 {symbol}을(를) 거래합니다. 한 무기한 계약에서 두 추세 봇이 반대 방향을 "
            "잡으면 거래소가 하나의 포지션으로 상계합니다. 그 봇을 먼저 중지하거나 다른 심볼을 고르세요."
        ),
        "error.private_only": "🔒 그룹이 아니라 봇과의 1:1 대화에서 할 수 있습니다. 1:1 대화를 열고 /keys 를 보내세요.",
        "error.invalid.holdings": "⚠️ 유지 또는 정리 중 하나를 버튼으로 고르세요.",
        "error.against_price": "⚠️ {value}는 현재가 ({price})와 맞지 않습니다.",
        "keys.btn.stop_bots": "⏹ 먼저 이 봇 {count}개 중지",
        "error.grid_too_small": (
            "⚠️ 그리드 주문 하나가 거래소 최소 주문보다 작습니다. 최소 {min_investment} USDT를 투자하거나 "
            "그리드 수를 줄이세요."
        ),
        "error.insufficient_capital": (
            "⚠️ 그리드에 {needed} USDT가 필요하지만 이 봇에 배정된 잔고는 {allocated} USDT입니다."
        ),
        "error.wallet_short": (
            "⚠️ 이 봇은 {wallet} 지갑으로 거래하며, 이 지갑의 사용 가능 잔고는 {held} USDT입니다. {needed} USDT가"
            " 필요합니다. Bitget에서 {source} 지갑의 {move} USDT를 {wallet} 지갑으로 이체한 뒤"
            " ({source} 사용 가능: {available} USDT) 봇을 다시 시작하세요."
        ),
        "wallet.spot": "현물",
        "wallet.futures": "USDT-M 선물",
        "error.invalid.name": "⚠️ 이름은 제어 문자 없이 1~100자입니다.",
        "error.invalid.symbol": "⚠️ 알 수 없는 심볼입니다. BTCUSDT 나 ETH/USDT 처럼 입력하세요.",
        "error.invalid.allocation": "⚠️ 배분은 0보다 크고 100 이하인 퍼센트입니다. 예: 25 또는 12.5",
        "error.invalid.leverage": "⚠️ 레버리지는 1부터 {maximum}까지의 정수입니다.",
        "error.invalid.max_positions": "⚠️ 최대 포지션 수는 1~20의 정수입니다.",
        "error.invalid.stop_loss": "⚠️ 손절은 0보다 크고 100보다 작은 퍼센트입니다. 예: 3.5",
        "error.invalid.take_profit": "⚠️ 익절은 0보다 크고 999.99 이하인 퍼센트입니다. 예: 8",
        "error.invalid.lower_price": "⚠️ 하단 가격은 양수여야 합니다.",
        "error.invalid.upper_price": "⚠️ 상단 가격은 하단 가격보다 큰 양수여야 합니다.",
        "error.invalid.grid_count": "⚠️ 그리드 수는 2~100의 정수입니다 (가격 범위가 좁으면 더 적게).",
        "error.invalid.grid_mode": "⚠️ 그리드 방식은 등차 또는 등비입니다.",
        "error.invalid.total_investment": "⚠️ 투자금은 USDT 단위의 양수여야 합니다.",
        "error.invalid.trigger_price": "⚠️ 트리거 가격은 양수여야 합니다.",
        "error.invalid.stop_upper": "⚠️ 상단 스톱은 그리드 상단 가격보다 높아야 합니다.",
        "error.invalid.stop_lower": "⚠️ 하단 스톱은 그리드 하단 가격보다 낮아야 합니다.",
        "error.invalid.language": "⚠️ 언어는 한국어 또는 영어입니다.",
        "error.invalid.trading_mode": "⚠️ 실거래에는 거래소 API 키가 필요합니다. 먼저 키를 설정하세요.",
        "error.invalid.exchange": "⚠️ 지원하지 않는 거래소입니다.",
        "error.invalid.api_key": "⚠️ API 키는 공백 없이 1~256자입니다. /keys 로 다시 시작하세요.",
        "error.invalid.secret": "⚠️ 시크릿은 공백 없이 1~256자입니다. /keys 로 다시 시작하세요.",
        "error.invalid.passphrase": "⚠️ 패스프레이즈는 공백 없이 1~256자입니다. /keys 로 다시 시작하세요.",
        "error.unexpected": "⚠️ 저희 쪽에서 문제가 생겼습니다. 다시 시도하기 전에 /bots 를 확인하세요.",
        "error.ambiguous_number": (
            "⚠️ “{text}” 는 {thousands} 또는 {decimal} 로 읽힐 수 있습니다(쉼표는 천 단위나 소수점). "
            "쉼표 없이 ({thousands}) 또는 점으로 ({decimal}) 보내세요."
        ),
    },
}
