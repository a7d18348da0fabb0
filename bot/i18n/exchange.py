"""An exchange's answers in words: what a key check found, and an exchange's refusal by topic
(bot.services.exchange_errors), always with the exchange's own code, never its raw answer."""

TEXTS = {
    "en": {
        "exchange.error.key": "the API key is not known to the exchange (mistyped, deleted or expired)",
        "exchange.error.secret": "the API secret does not match the key",
        "exchange.error.passphrase": "the API passphrase does not match the key",
        "exchange.error.clock": "the request arrived too late (a clock out of step); try again",
        "exchange.error.permission": "the key lacks a permission this needs",
        "exchange.error.ip": "the key only works from other IP addresses (its IP whitelist)",
        "exchange.error.account_kind": "the account changed between classic and unified trading account",
        "exchange.error.funds": "the account has not enough balance for it",
        "exchange.error.minimum": "the order is under the exchange's minimum",
        "exchange.error.rate": "too many requests: the exchange asks to slow down",
        "exchange.error.maintenance": "the exchange is under maintenance",
        "exchange.error.other": "the exchange refused the request",
        "exchange.error.environment": (
            "these keys belong to the other environment (demo keys work only in demo trading, live keys only live)"
        ),
        "keys.mode.demo": "🧪 demo (Bitget demo trading, demo money)",
        "keys.btn.demo": "🧪 Switch to demo",
        "keys.ask.env.demo": (
            "🧪 Demo trading needs Bitget <b>demo</b> keys: on Bitget switch to Demo trading, create an API key "
            "there (with Trade permission), then send its <b>API key</b> here, or /cancel."
        ),
        "keys.ask.env.live": (
            "💰 Live trading needs your Bitget <b>live</b> API keys (demo keys work only in demo trading). "
            "Send the <b>API key</b>, or /cancel."
        ),
        "keys.switched": "✅ Keys saved and trading mode switched.",
        "error.invalid.account_kind": "⚠️ The account kind is classic or unified (uta).",
        "error.keys_needed": "⚠️ This trading mode needs your exchange API keys for it: set them in /keys.",
        "exchange.error.sentence": "⚠️ Bitget: {reason} (code {code}).",
        "exchange.error.inline": "Bitget: {reason} (code {code})",
        "error.keys_refused": "⚠️ The keys were not saved (exchange code {exchange_code}).",
        "keys.refused.auth": (
            "❌ Bitget did not accept these keys: {reason} (code {code}). Nothing was saved.\n"
            "Send the <b>API key</b> again, or /cancel."
        ),
        "keys.refused.no_trade": (
            "❌ This key may only read: it has no <b>trade</b> permission, so bots could not place orders. "
            "Nothing was saved. Edit the key on Bitget (enable Trade) or make a new one, then send the "
            "<b>API key</b> again, or /cancel."
        ),
        "keys.refused.exchange": (
            "⚠️ The keys could not be checked: {reason} (code {code}). Nothing was saved.\n"
            "Send the <b>API key</b> again in a moment, or /cancel."
        ),
        "keys.checked": (
            "✅ Keys saved (encrypted), checked with Bitget. Your messages with them were deleted.\n"
            "API key: <code>{api_key}</code>\nAccount: {kind}, id <code>{account}</code>\n"
            "USDT: {spot} on spot, {futures} on futures"
        ),
        "keys.kind.classic": "classic account",
        "keys.kind.uta": "unified trading account",
        "keys.withdraw_warning": (
            "🚨 <b>This key can withdraw funds.</b> multibot never withdraws, but anyone who got hold of the "
            "key could empty the account. Remove the Withdraw permission on Bitget (or make a new key "
            "without it) and enter the new one here."
        ),
        "alert.account_kind_changed": (
            "ℹ️ Your Bitget account is now a {kind}. multibot switched to Bitget's API for it; your bots go on."
        ),
    },
    "ko": {
        "exchange.error.key": "거래소가 이 API 키를 모릅니다 (오타, 삭제 또는 만료)",
        "exchange.error.secret": "API 시크릿이 키와 맞지 않습니다",
        "exchange.error.passphrase": "API 패스프레이즈가 키와 맞지 않습니다",
        "exchange.error.clock": "요청이 너무 늦게 도착했습니다 (시계 차이). 다시 시도하세요",
        "exchange.error.permission": "키에 필요한 권한이 없습니다",
        "exchange.error.ip": "이 키는 다른 IP 주소에서만 쓸 수 있습니다 (IP 화이트리스트)",
        "exchange.error.account_kind": "계정이 클래식 계정과 통합 거래 계정 사이에서 바뀌었습니다",
        "exchange.error.funds": "계정 잔고가 부족합니다",
        "exchange.error.minimum": "주문이 거래소 최소 금액보다 작습니다",
        "exchange.error.rate": "요청이 너무 많습니다. 거래소가 속도를 줄이라고 합니다",
        "exchange.error.maintenance": "거래소가 점검 중입니다",
        "exchange.error.other": "거래소가 요청을 거부했습니다",
        "exchange.error.environment": (
            "이 키는 다른 환경의 키입니다 (데모 키는 데모 거래에서만, 실거래 키는 실거래에서만 작동합니다)"
        ),
        "keys.mode.demo": "🧪 데모 (Bitget 데모 거래, 모의 자금)",
        "keys.btn.demo": "🧪 데모로 전환",
        "keys.ask.env.demo": (
            "🧪 데모 거래에는 Bitget <b>데모</b> 키가 필요합니다: Bitget에서 데모 거래로 전환해 API 키를 만들고 "
            "(거래 권한 포함) 그 <b>API 키</b>를 여기에 보내거나 /cancel 하세요."
        ),
        "keys.ask.env.live": (
            "💰 실거래에는 Bitget <b>실거래</b> API 키가 필요합니다 (데모 키는 데모 거래에서만 작동합니다). "
            "<b>API 키</b>를 보내거나 /cancel 하세요."
        ),
        "keys.switched": "✅ 키를 저장하고 거래 모드를 전환했습니다.",
        "error.invalid.account_kind": "⚠️ 계정 종류는 클래식 또는 통합(uta)입니다.",
        "error.keys_needed": "⚠️ 이 거래 모드에는 그에 맞는 거래소 API 키가 필요합니다: /keys 에서 설정하세요.",
        "exchange.error.sentence": "⚠️ Bitget: {reason} (코드 {code}).",
        "exchange.error.inline": "Bitget: {reason} (코드 {code})",
        "error.keys_refused": "⚠️ 키가 저장되지 않았습니다 (거래소 코드 {exchange_code}).",
        "keys.refused.auth": (
            "❌ Bitget이 이 키를 받아들이지 않았습니다: {reason} (코드 {code}). 아무것도 저장되지 않았습니다.\n"
            "<b>API 키</b>를 다시 보내거나 /cancel 하세요."
        ),
        "keys.refused.no_trade": (
            "❌ 이 키는 조회만 할 수 있습니다: <b>거래</b> 권한이 없어 봇이 주문할 수 없습니다. 아무것도 "
            "저장되지 않았습니다. Bitget에서 키를 수정(거래 허용)하거나 새로 만든 뒤 <b>API 키</b>를 다시 "
            "보내거나 /cancel 하세요."
        ),
        "keys.refused.exchange": (
            "⚠️ 키를 확인하지 못했습니다: {reason} (코드 {code}). 아무것도 저장되지 않았습니다.\n"
            "잠시 후 <b>API 키</b>를 다시 보내거나 /cancel 하세요."
        ),
        "keys.checked": (
            "✅ 키를 확인하고 암호화해 저장했습니다. 키가 담긴 메시지는 삭제되었습니다.\n"
            "API 키: <code>{api_key}</code>\n계정: {kind}, ID <code>{account}</code>\n"
            "USDT: 현물 {spot}, 선물 {futures}"
        ),
        "keys.kind.classic": "클래식 계정",
        "keys.kind.uta": "통합 거래 계정",
        "keys.withdraw_warning": (
            "🚨 <b>이 키는 출금할 수 있습니다.</b> multibot은 절대 출금하지 않지만, 키를 손에 넣은 누구든 "
            "계정을 비울 수 있습니다. Bitget에서 출금 권한을 끄거나(또는 출금 권한 없는 새 키를 만들어) "
            "새 키를 여기에 입력하세요."
        ),
        "alert.account_kind_changed": (
            "ℹ️ Bitget 계정이 이제 {kind}입니다. multibot이 그에 맞는 Bitget API로 바꿨고, 봇은 계속 작동합니다."
        ),
    },
}
