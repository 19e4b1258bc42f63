"""Commands agents type in a staff chat: /queue, /stats, /mute <rule> <duration>.

Only staff chats (the chats of configured routes) are answered, and only agents may use them;
anyone else gets a polite refusal and nothing changes.
"""

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, tzinfo

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from core.clock import Clock
from core.duration import format_duration, human_duration, parse_duration
from core.models import AlertRow, MentionRow
from core.store import Store
from responders.alert_format import clock_time, message_link
from responders.flood_budget import FloodBudget
from responders.safe_html import safe_text, safe_url
from responders.telegram_alerts import REFUSAL
from responders.telegram_config import TelegramConfig

QUEUE_LINES = 15
MAX_MUTE = timedelta(days=7)


class StaffCommands:
    def __init__(
        self,
        store: Store,
        config: TelegramConfig,
        budget: FloodBudget,
        clock: Clock,
        rule_names: Callable[[], Iterable[str]],
        zone: tzinfo,
    ):
        self.store = store
        self.config = config
        self.budget = budget
        self.clock = clock
        self.rule_names = rule_names
        self.zone = zone

    def _staff_chats(self) -> set[int]:
        config = self.config
        routes = [config.route(name) for name in ("staff", "escalation", *config.routes)]
        return {route.chat_id for route in routes if route is not None}

    async def _answer(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is None:
            return
        await self.budget.record(message.chat_id)
        await message.reply_text(text, parse_mode=ParseMode.HTML, disable_web_page_preview=True)

    async def _allowed(self, update: Update) -> bool:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or chat.id not in self._staff_chats():
            return False  # not our staff chat: say nothing at all
        if not self.config.is_agent(user.id):
            await self._answer(update, REFUSAL)
            return False
        return True

    async def queue(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._allowed(update):
            text = await asyncio.to_thread(self.queue_text, self.clock.now())
            await self._answer(update, text)

    async def stats(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._allowed(update):
            text = await asyncio.to_thread(self.stats_text, self.clock.now())
            await self._answer(update, text)

    async def mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._allowed(update):
            user = update.effective_user
            who = (
                f"@{user.username}" if user and user.username else (user.full_name if user else "")
            )
            text = await asyncio.to_thread(
                self.mute_text, list(context.args or []), who, self.clock.now()
            )
            await self._answer(update, text)

    # --- the answers, as plain functions of the store --------------------------------------

    def queue_text(self, now: datetime) -> str:
        """Open alerts, most urgent first, then oldest first."""
        rows = self.store.open_messages()
        if not rows:
            return "✅ Queue empty: no open alerts."
        rows.sort(key=lambda pair: (-(pair[1].urgency or 0) if pair[1] else 0, pair[0].created_at))
        lines = [f"<b>Open alerts: {len(rows)}</b> (most urgent first)"]
        for alert, mention in rows[:QUEUE_LINES]:
            lines.append(self._queue_line(alert, mention, now))
        if len(rows) > QUEUE_LINES:
            lines.append(f"… and {len(rows) - QUEUE_LINES} more")
        return "\n".join(lines)

    def _queue_line(self, alert: AlertRow, mention: MentionRow | None, now: datetime) -> str:
        urgency = (mention.urgency or 0) if mention else 0
        icon = "🔴" if urgency >= 70 else "🟠" if urgency >= 40 else "🟡"
        age = human_duration(timedelta(minutes=int((now - alert.created_at).total_seconds() // 60)))
        if alert.kind == "group":
            what = f"{alert.count} mentions on {safe_text(alert.rule, 64)}"
        elif alert.kind == "window":
            what = safe_text(alert.summary, 80)
        else:
            handle = (mention.author_handle or mention.author_id) if mention else "?"
            text = safe_text(mention.text if mention else "", 60)
            what = f"{safe_text(handle, 32)}: {text}"
        state = []
        if alert.acknowledged_by and alert.state == "acknowledged":
            state.append(f"claimed by {safe_text(alert.acknowledged_by, 32)}")
        if alert.due_at is not None and alert.answered_at is None:
            overdue = alert.due_at <= now
            state.append("overdue" if overdue else f"due {clock_time(alert.due_at, self.zone)}")
        link = safe_url(message_link(alert.chat_id, alert.message_id))
        where = f' <a href="{link}">↗</a>' if link else ""
        extra = f" ({', '.join(state)})" if state else ""
        return f"{icon} {urgency} · {age} · {what}{extra}{where}"

    def stats_text(self, now: datetime) -> str:
        from service.report import build_report, digest_text  # ~0.7 MB, only when /stats is asked

        local = now.astimezone(self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        report = build_report(self.store, midnight, now, self.zone)
        return digest_text(report, f"Today so far ({local:%Y-%m-%d %H:%M})")

    def mute_text(self, args: list[str], who: str, now: datetime) -> str:
        if not args:
            active = self.store.silences(now)
            if not active:
                return (
                    "Nothing is muted. Use /mute &lt;rule&gt; &lt;duration&gt;, e.g. /mute spike 1h"
                )
            return "🔕 Muted:\n" + "\n".join(
                f"• {safe_text(s.rule, 64)} until {clock_time(s.until, self.zone)} "
                f"(by {safe_text(s.created_by, 64)})"
                for s in active
            )
        if len(args) != 2:
            return "Use /mute &lt;rule&gt; &lt;duration&gt;, e.g. /mute refunds-and-legal 30m"
        rule, spelled = args
        rule = "*" if rule in ("all", "*") else rule
        names = sorted(set(self.rule_names()))
        if rule != "*" and rule not in names:
            known = ", ".join(safe_text(n, 64) for n in names) or "none"
            return f"No rule named {safe_text(rule, 64)}. Rules: {known}, or all."
        try:
            duration = parse_duration(spelled)
        except ValueError as exc:
            return safe_text(str(exc), 200)
        if not timedelta(0) < duration <= MAX_MUTE:
            return f"Mute for more than 0s and at most {format_duration(MAX_MUTE)}."
        until = now + duration
        self.store.add_silence(rule, until, who, now)
        shown = "every rule" if rule == "*" else safe_text(rule, 64)
        return (
            f"🔕 {shown} muted until {clock_time(until, self.zone)} by {safe_text(who, 64)}. "
            "Its alerts are counted, not sent; the next alert says how many."
        )
