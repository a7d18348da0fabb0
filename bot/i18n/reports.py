"""Texts of the daily and weekly reports and of /report (their settings). HTML."""

TEXTS = {
    "en": {
        "report.title.daily": "📊 <b>Daily report</b> · {start} – {end} ({zone})",
        "report.title.weekly": "📊 <b>Weekly report</b> · {start} – {end} ({zone})",
        "report.equity": "Equity: <b>{equity} USDT</b> ({change} since the last report)",
        "report.equity_first": "Equity: <b>{equity} USDT</b>",
        "report.equity_unknown": "Equity: not available (the exchange did not answer)",
        "report.pnl": "Realized PnL: <b>{pnl} USDT</b> · unrealized now {unrealized} USDT",
        "report.activity": "Trades {trades} · cycles {cycles} · fees {fees} USDT",
        "report.bots": "<b>Per bot</b>",
        "report.bot": "• {name}: {pnl} USDT · {cycles} cycles · {trades} trades · fees {fees}",
        "report.manual": "• manual trades: {pnl} USDT · {trades} trades · fees {fees}",
        "report.none": "No trades in this period.",
        "report.best": "Best: {name} ({pnl} USDT) · worst: {worst} ({worst_pnl} USDT)",
        "report.errors": "⚠️ Errors in this period: {errors}",
        "report.no_errors": "No errors in this period.",
        "report.chart": "Equity per day, last {days} days",
        "report.settings": (
            "🗓 <b>Reports</b>\nDaily report: {daily} at {hour}:00 ({zone})\nWeekly report (Mondays): {weekly}\n\n"
            "Change the hour with <code>/report hour 9</code> (0 to 23) and the time zone with "
            "<code>/report tz Europe/Berlin</code> (an IANA name)."
        ),
        "report.on": "on",
        "report.off": "off",
        "report.toggle.daily": "Daily: {state}",
        "report.toggle.weekly": "Weekly: {state}",
        "report.button.hour": "{hour}:00",
        "report.usage": (
            "⚠️ Use <code>/report</code>, <code>/report hour 9</code>, <code>/report tz Asia/Seoul</code>, "
            "<code>/report daily on|off</code> or <code>/report weekly on|off</code>."
        ),
        "error.invalid.report_hour": "⚠️ The report hour is a whole number from 0 to 23.",
        "error.invalid.report_tz": (
            "⚠️ Unknown time zone. Use an IANA name such as Asia/Seoul, Europe/London or America/New_York."
        ),
        "command.report": "Daily and weekly reports",
    },
    "ko": {
        "report.title.daily": "📊 <b>일일 리포트</b> · {start} – {end} ({zone})",
        "report.title.weekly": "📊 <b>주간 리포트</b> · {start} – {end} ({zone})",
        "report.equity": "자산: <b>{equity} USDT</b> (지난 리포트 대비 {change})",
        "report.equity_first": "자산: <b>{equity} USDT</b>",
        "report.equity_unknown": "자산: 알 수 없음 (거래소가 응답하지 않았습니다)",
        "report.pnl": "실현 손익: <b>{pnl} USDT</b> · 현재 미실현 {unrealized} USDT",
        "report.activity": "거래 {trades}건 · 사이클 {cycles}회 · 수수료 {fees} USDT",
        "report.bots": "<b>봇별</b>",
        "report.bot": "• {name}: {pnl} USDT · 사이클 {cycles}회 · 거래 {trades}건 · 수수료 {fees}",
        "report.manual": "• 수동 거래: {pnl} USDT · 거래 {trades}건 · 수수료 {fees}",
        "report.none": "이 기간에는 거래가 없습니다.",
        "report.best": "최고: {name} ({pnl} USDT) · 최저: {worst} ({worst_pnl} USDT)",
        "report.errors": "⚠️ 이 기간의 오류: {errors}건",
        "report.no_errors": "이 기간에는 오류가 없습니다.",
        "report.chart": "일별 자산, 최근 {days}일",
        "report.settings": (
            "🗓 <b>리포트</b>\n일일 리포트: {daily}, 매일 {hour}:00 ({zone})\n주간 리포트 (월요일): {weekly}\n\n"
            "시각은 <code>/report hour 9</code> (0~23), 시간대는 "
            "<code>/report tz Asia/Seoul</code> (IANA 이름)로 바꿀 수 있습니다."
        ),
        "report.on": "켜짐",
        "report.off": "꺼짐",
        "report.toggle.daily": "일일: {state}",
        "report.toggle.weekly": "주간: {state}",
        "report.button.hour": "{hour}:00",
        "report.usage": (
            "⚠️ <code>/report</code>, <code>/report hour 9</code>, <code>/report tz Asia/Seoul</code>, "
            "<code>/report daily on|off</code>, <code>/report weekly on|off</code> 중 하나를 쓰세요."
        ),
        "error.invalid.report_hour": "⚠️ 리포트 시각은 0부터 23까지의 정수입니다.",
        "error.invalid.report_tz": (
            "⚠️ 알 수 없는 시간대입니다. Asia/Seoul, Europe/London, America/New_York 같은 IANA 이름을 쓰세요."
        ),
        "command.report": "일일·주간 리포트",
    },
}
