"""The sandbox: a local Telegram Bot API emulator and a chat with it in the terminal."""

from bot.sandbox.emulator import (
    ApiCall,
    ApiError,
    CallbackAnswer,
    ChatMessage,
    EmulatorEvent,
    FailureRule,
    MessageVersion,
    RateLimits,
    RetryAfterRecord,
    StoredFile,
    TelegramEmulator,
)
from bot.sandbox.terminal import run_terminal_chat

__all__ = [
    "ApiCall",
    "ApiError",
    "CallbackAnswer",
    "ChatMessage",
    "EmulatorEvent",
    "FailureRule",
    "MessageVersion",
    "RateLimits",
    "RetryAfterRecord",
    "StoredFile",
    "TelegramEmulator",
    "run_terminal_chat",
]
