"""Texts of a grid bot's status view and chart."""

TEXTS = {
    "en": {
        "grid.view.title": "🧱 <b>{name}</b> · {symbol} · {mode}",
        "grid.view.price": "Price: {price} USDT",
        "grid.view.price_unknown": "Price: not seen yet (start the bot)",
        "grid.view.counters": "Orders open: {buys} buys, {sells} sells · filled: {filled_buys} buys, {filled_sells} sells",
        "grid.view.profit": "Realized profit: {profit} USDT · per grid {per_grid} USDT",
        "grid.view.legend": "🟢 buy resting · 🔴 sell resting · ⚪ idle",
        "grid.view.line": "{marker} {index}: {buy} → {sell} · {cycles} cycles · {profit}",
        "grid.view.more": "… {count} more intervals",
        "grid.btn.view": "🧱 Grid",
        "grid.btn.chart": "🖼 Chart",
        "grid.chart.caption": "Fills of <b>{name}</b>: {count}",
        "grid.chart.none": "No fills yet: nothing to draw.",
        "grid.not_grid": "Only grid bots have a grid view.",
    },
    "ko": {
        "grid.view.title": "🧱 <b>{name}</b> · {symbol} · {mode}",
        "grid.view.price": "현재가: {price} USDT",
        "grid.view.price_unknown": "현재가: 아직 없음 (봇을 시작하세요)",
        "grid.view.counters": "미체결 주문: 매수 {buys}, 매도 {sells} · 체결: 매수 {filled_buys}, 매도 {filled_sells}",
        "grid.view.profit": "실현 수익: {profit} USDT · 그리드당 {per_grid} USDT",
        "grid.view.legend": "🟢 매수 대기 · 🔴 매도 대기 · ⚪ 대기 없음",
        "grid.view.line": "{marker} {index}: {buy} → {sell} · {cycles} 사이클 · {profit}",
        "grid.view.more": "… 구간 {count}개 더",
        "grid.btn.view": "🧱 그리드",
        "grid.btn.chart": "🖼 차트",
        "grid.chart.caption": "<b>{name}</b> 체결 내역: {count}건",
        "grid.chart.none": "아직 체결이 없어 그릴 것이 없습니다.",
        "grid.not_grid": "그리드 봇만 그리드 보기가 있습니다.",
    },
}
