"""The application: start-up and shutdown (`app`), long polling that skips an unparseable update
(`polling`), the chat's bounded per-conversation state (`chat_state`), the allocator's memory
(`memory`), settings (`config`), the command line (`__main__`,
`backtest_cli`), the scheduler of bot ticks (`scheduler`), the engine wired to the fleet
(`engine_service`) and the alert outbox's sender (`alerts`); the services the handlers call
(`services`), the texts in both languages (`i18n`) and the local Telegram sandbox (`sandbox`).
"""
