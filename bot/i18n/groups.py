"""Texts outside a person's private chat: groups and channels, messages no person sent, old buttons."""

TEXTS = {
    "en": {
        "group.private_only": (
            "I work in a private chat only: your bots, balance and keys are yours alone. "
            "Open @{bot} and send the command there."
        ),
        "group.btn.open_private": "💬 Open the private chat",
        "group.button": "This works in the private chat with @{bot} only.",
        "common.no_sender": "I cannot tell who sent this. Send /start from your own account.",
        "common.old_button": "This button belongs to a message too old to update. Send /menu for a fresh one.",
    },
    "ko": {
        "group.private_only": (
            "저는 개인 채팅에서만 동작합니다. 봇, 잔고, 키는 본인만의 정보입니다. "
            "@{bot} 를 열고 그곳에서 명령을 보내세요."
        ),
        "group.btn.open_private": "💬 개인 채팅 열기",
        "group.button": "@{bot} 과의 개인 채팅에서만 사용할 수 있습니다.",
        "common.no_sender": "보낸 사람을 알 수 없습니다. 본인 계정에서 /start 를 보내세요.",
        "common.old_button": "너무 오래된 메시지의 버튼입니다. /menu 를 보내 새 메뉴를 여세요.",
    },
}
