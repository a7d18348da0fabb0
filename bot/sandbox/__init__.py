"""The sandbox: a local Telegram Bot API emulator and a chat with it in the terminal."""

from bot.sandbox.api_error import ApiError
from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.records import (
    ApiCall,
    CallbackAnswer,
    ChatMessage,
    EmulatorEvent,
    FailureRule,
    MessageVersion,
    RateLimits,
    RetryAfterRecord,
    StoredFile,
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
