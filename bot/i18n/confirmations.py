"""Texts of the second taps: a trading-mode switch to confirm, and why a confirm button did nothing."""

TEXTS = {
    "en": {
        "keys.confirm_live": (
            "Switch to <b>live</b> trading? Your bots and /trade then place real orders with your keys."
        ),
        "keys.confirm_paper": "Switch to <b>paper</b> trading? Your bots then trade simulated money.",
        "keys.btn.live_confirm": "💰 Yes, trade live",
        "keys.btn.paper_confirm": "📝 Yes, trade on paper",
        "keys.confirm_demo": (
            "Switch to Bitget's <b>demo</b> trading? Your bots then trade the exchange's demo money with demo keys."
        ),
        "keys.btn.demo_confirm": "🧪 Yes, trade on demo",
        "error.confirmation_used": "ℹ️ This confirmation was already used; nothing was done again.",
        "error.confirmation_expired": "⌛ This confirmation has expired; nothing was done. Ask again from /menu.",
        "error.confirmation_outdated": (
            "ℹ️ This confirmation is no longer current (cancelled, or something else came after it); nothing "
            "was done. Ask again from /menu."
        ),
        "error.confirmation_unknown": "⚠️ This confirmation is not valid; nothing was done. Ask again from /menu.",
    },
    "ko": {
        "keys.confirm_live": "<b>실거래</b>로 전환할까요? 봇과 /trade 가 내 키로 실제 주문을 냅니다.",
        "keys.confirm_paper": "<b>모의투자</b>로 전환할까요? 봇이 가상 자금으로 거래합니다.",
        "keys.btn.live_confirm": "💰 네, 실거래합니다",
        "keys.btn.paper_confirm": "📝 네, 모의투자합니다",
        "keys.confirm_demo": "Bitget <b>데모</b> 거래로 전환할까요? 봇이 데모 키로 거래소의 데모 자금을 거래합니다.",
        "keys.btn.demo_confirm": "🧪 네, 데모로 거래합니다",
        "error.confirmation_used": "ℹ️ 이미 사용한 확인입니다. 다시 실행하지 않았습니다.",
        "error.confirmation_expired": "⌛ 확인 시간이 지났습니다. 아무것도 하지 않았습니다. /menu 에서 다시 요청하세요.",
        "error.confirmation_outdated": (
            "ℹ️ 더 이상 현재의 확인이 아닙니다 (취소했거나 그 뒤에 다른 작업을 했습니다). 아무것도 하지 "
            "않았습니다. /menu 에서 다시 요청하세요."
        ),
        "error.confirmation_unknown": "⚠️ 유효하지 않은 확인입니다. 아무것도 하지 않았습니다. /menu 에서 다시 요청하세요.",
    },
}
