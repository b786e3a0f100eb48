"""The `!hook` / `/hook` Cog: one hybrid group, thin over HookService."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.grammar import VERBS, split_format_args
from bot.service import (
    HOOK_ID,
    AmbiguousRefError,
    HookCredentials,
    HookError,
    InvalidInputError,
    Scope,
    events_to_tick,
)
from bot.store import Hook
from formatters.message import Embed, Message, clamp
from parsers import SERVICES

if TYPE_CHECKING:
    from bot.chat.discord_bot import HookBot

log = logging.getLogger(__name__)

OK_COLOR = 0x2DA44E
ERROR_COLOR = 0xCF222E
INFO_COLOR = 0x0969DA

HELP_TEXT = """\
`!hook on github` create a GitHub hook posting here (the secret comes by DM)
`!hook list` every hook of this server · `!hook info <ref>` one in full
`!hook off <ref>` / `!hook on <ref>` pause / resume (deliveries are kept)
`!hook test <ref>` send the last delivery again · `!hook rotate <ref> [24h]` new URL + secret
`!hook delete <ref>` delete (asks to confirm)
`!hook events <ref> push,pr,-star` choose events · `!hook filter <ref> author!=dependabot[bot]`
`!hook format <ref> "🔔 {{event}}: {{message}}"` your own format (`reset`, `--preview`)
`!hook aggregate <ref> 5m` one digest per window · `!hook alert-if <ref> "pr.reviews >= 2"`

`<ref>` is a hook id (`hook_001`) or a service (`github`) naming one hook in this channel.
The service-first order works too: `!hook github on`. Every command is also `/hook …`."""


class NotAllowedError(commands.CheckFailure):
    """The author may not manage hooks here."""


def _embed(title: str, description: str = "", color: int = OK_COLOR) -> discord.Embed:
    answer = clamp(Message(embeds=(Embed(title=title, description=description or None),)))
    embed = answer.embeds[0]
    return discord.Embed(title=embed.title, description=embed.description, color=color)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return f"<t:{int(timestamp)}:R>"


def _state(hook: Hook) -> str:
    if hook.failing:
        return "⚠️ failing"
    return "on" if hook.enabled else "off"


def _where(hook: Hook) -> str:
    if hook.destination.startswith("discord:channel:"):
        return f"<#{hook.destination.removeprefix('discord:channel:')}>"
    if hook.destination.startswith("webhook:"):
        return "channel webhook"
    return hook.destination


def _scope(ctx: commands.Context[HookBot]) -> Scope:
    guild = ctx.guild
    if guild is None:
        raise commands.NoPrivateMessage()
    return Scope(guild_id=str(guild.id), channel_id=str(ctx.channel.id))


def _secret_lines(creds: HookCredentials) -> str:
    # Plain lines, the secret last and alone: easy to copy on a phone.
    return f"ID: {creds.hook.id}\nURL: {creds.url}\nSecret: {creds.secret}"


class ConfirmDelete(discord.ui.View):
    """Two buttons: delete for good, or keep."""

    def __init__(self, author_id: int) -> None:
        super().__init__(timeout=60)
        self.author_id = author_id
        self.confirmed: bool | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the person who asked may answer."""
        return interaction.user.id == self.author_id

    @discord.ui.button(label="Delete", style=discord.ButtonStyle.danger)
    async def delete(
        self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmDelete]
    ) -> None:
        """Confirm."""
        self.confirmed = True
        await interaction.response.defer()
        self.stop()

    @discord.ui.button(label="Keep", style=discord.ButtonStyle.secondary)
    async def keep(
        self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmDelete]
    ) -> None:
        """Cancel."""
        self.confirmed = False
        await interaction.response.defer()
        self.stop()


class HookCommands(commands.Cog):
    """Manage webhook hooks from Discord."""

    def __init__(self, bot: HookBot) -> None:
        self.bot = bot
        self.service = bot.service

    async def cog_check(self, ctx: commands.Context[HookBot]) -> bool:  # type: ignore[override]
        """Allow Manage Server, Manage Webhooks or HOOKBOT_ADMIN_ROLE; never in DMs."""
        if ctx.guild is None or not isinstance(ctx.author, discord.Member):
            raise commands.NoPrivateMessage()
        permissions = ctx.author.guild_permissions
        if permissions.manage_guild or permissions.manage_webhooks:
            return True
        role = self.bot.settings.hookbot_admin_role
        if role and any(r.name == role or str(r.id) == role for r in ctx.author.roles):
            return True
        raise NotAllowedError("managing hooks needs Manage Server or Manage Webhooks")

    async def cog_command_error(  # type: ignore[override]
        self, ctx: commands.Context[HookBot], error: commands.CommandError
    ) -> None:
        """Answer every failure in one line that says what to do instead."""
        original = getattr(error, "original", error)
        if isinstance(original, AmbiguousRefError):
            ids = ", ".join(f"`{h.id}` ({_where(h)})" for h in original.candidates)
            text = f"{original} Candidates: {ids}"
        elif isinstance(original, HookError):
            text = str(original)
        elif isinstance(error, commands.NoPrivateMessage):
            text = "hooks are managed in a server channel, not in DMs"
        elif isinstance(error, NotAllowedError):
            text = f"{error} (or the admin role)"
        elif isinstance(error, commands.MissingRequiredArgument):
            text = f"`{error.param.name}` is missing; see `!hook help`"
        elif isinstance(error, commands.UserInputError):
            text = f"{error}; see `!hook help`"
        else:
            reference = uuid.uuid4().hex[:8]
            log.error(
                "command %r failed (ref %s)", ctx.message.content, reference, exc_info=original
            )
            text = f"something went wrong on our side (reference `{reference}`); please try again"
        head, _, rest = text.partition("; ")
        if len(head) > 200:
            head, rest = "That did not work", text
        await ctx.send(embed=_embed(f"❌ {head}", rest, ERROR_COLOR), ephemeral=True)

    @commands.hybrid_group(name="hook", invoke_without_command=True, fallback="help")
    async def hook(self, ctx: commands.Context[HookBot], *, words: str = "") -> None:
        """Show how to use hookbot; `!hook github on` (service first) works too."""
        tokens = words.split(maxsplit=2)
        if len(tokens) >= 2 and tokens[0] not in VERBS and tokens[1] in VERBS:
            verb, ref, rest = tokens[1], tokens[0], tokens[2] if len(tokens) > 2 else ""
        elif tokens and tokens[0] != "help":
            raise InvalidInputError(f"unknown command {tokens[0]!r}; see `!hook help`")
        else:
            await ctx.send(embed=_embed("hookbot", HELP_TEXT, INFO_COLOR))
            return
        command: commands.Command[HookCommands, ..., None] | None = self.hook.get_command(verb)
        if command is None:
            await ctx.send(embed=_embed("hookbot", HELP_TEXT, INFO_COLOR))
            return
        params = list(command.clean_params.values())
        try:
            if params and params[-1].kind is params[-1].KEYWORD_ONLY:
                # Free text (a filter, a template): pass it exactly as typed.
                await ctx.invoke(command, ref, **{params[-1].name: rest})
            else:
                await ctx.invoke(command, ref, *rest.split())
        except TypeError as exc:
            raise InvalidInputError(f"wrong arguments for `{verb}`; see `!hook help`") from exc

    @hook.command(name="on")
    @app_commands.describe(ref="a service to create a hook for (github) or a hook id to enable")
    async def turn_on(
        self, ctx: commands.Context[HookBot], ref: str, target: str | None = None
    ) -> None:
        """Create a hook posting here, or turn a hook back on."""
        scope = _scope(ctx)
        new = target == "--new"
        if ref in SERVICES and not HOOK_ID.fullmatch(ref):
            creds = await self.service.create(
                ref,
                f"discord:channel:{ctx.channel.id}",
                scope,
                target=None if new else target,
                creator=str(ctx.author.id),
                new=new,
            )
            await self._show_credentials(ctx, creds)
            return
        hook, requeued = await self.service.enable(ref, scope)
        extra = f" {requeued} kept message(s) are being sent." if requeued else ""
        await ctx.send(embed=_embed(f"✅ {hook.id} is on", extra.strip()))

    async def _show_credentials(
        self, ctx: commands.Context[HookBot], creds: HookCredentials
    ) -> None:
        hook = creds.hook
        verb = "created" if creds.created else "ready"
        lines = [f"**Payload URL:** {creds.url}", "**Content type:** application/json"]
        if hook.service == "github":
            lines.append(f"**Events to tick:** {', '.join(events_to_tick(hook))}")
        if ctx.interaction is None:
            try:
                await ctx.author.send(_secret_lines(creds))
                lines.append("The secret was sent to you by DM.")
            except discord.Forbidden:
                lines.append(
                    "❌ I could not DM you the secret (your DMs are closed). "
                    f"Use `/hook rotate ref:{hook.id}` to get a new one privately."
                )
        await ctx.send(embed=_embed(f"✅ {hook.service} hook {hook.id} {verb}", "\n".join(lines)))
        if ctx.interaction is not None:
            await ctx.send(_secret_lines(creds), ephemeral=True)

    @hook.command(name="off")
    @app_commands.describe(ref="hook id or service")
    async def turn_off(self, ctx: commands.Context[HookBot], ref: str) -> None:
        """Pause a hook: deliveries are recorded, not posted."""
        hook = await self.service.disable(ref, _scope(ctx))
        await ctx.send(embed=_embed(f"✅ {hook.id} is off", f"`!hook on {hook.id}` resumes."))

    @hook.command(name="list")
    async def list_hooks(self, ctx: commands.Context[HookBot]) -> None:
        """List this server's hooks with their state and counters."""
        hooks = await self.service.list_hooks(_scope(ctx))
        if not hooks:
            await ctx.send(
                embed=_embed("No hooks yet", "Create one: `!hook on github`", INFO_COLOR)
            )
            return
        lines = []
        for h in hooks[:25]:
            rejected = ", ".join(f"{r}: {n}" for r, n in sorted(h.rejections.items()))
            lines.append(
                f"`{h.id}` {h.service} → {_where(h)} · {_state(h)} · "
                f"last {_when(h.last_delivery_at)} ({h.last_delivery_status or '-'})"
                + (f" · rejected {h.rejected} ({rejected})" if h.rejected else "")
                + (f"\n  ⚠️ {h.failing}" if h.failing else "")
            )
        if len(hooks) > 25:
            lines.append(f"…and {len(hooks) - 25} more")
        await ctx.send(embed=_embed(f"Hooks ({len(hooks)})", "\n".join(lines), INFO_COLOR))

    @hook.command(name="info")
    @app_commands.describe(ref="hook id or service")
    async def info(self, ctx: commands.Context[HookBot], ref: str) -> None:
        """Show one hook in full, with its last error."""
        details = await self.service.details(ref, _scope(ctx))
        hook = details.hook
        embed = _embed(f"{hook.id} · {hook.service}", color=INFO_COLOR)
        rejected = ", ".join(f"{r}: {n}" for r, n in sorted(hook.rejections.items())) or "none"
        embed.add_field(name="State", value=_state(hook))
        embed.add_field(name="Posts to", value=_where(hook))
        embed.add_field(name="Accepted", value=str(hook.accepted))
        embed.add_field(name="Rejected", value=f"{hook.rejected} ({rejected})", inline=False)
        embed.add_field(
            name="Last delivery",
            value=f"{_when(hook.last_delivery_at)} ({hook.last_delivery_status or '-'})",
        )
        embed.add_field(
            name="Last error", value=hook.failing or hook.last_error or "none", inline=False
        )
        embed.add_field(name="Events", value=details.selection[:1024], inline=False)
        filters = "\n".join(
            f"{n}. `{text}` (kept {kept}, dropped {dropped})"
            for n, (text, kept, dropped) in enumerate(details.filters, 1)
        )
        embed.add_field(name="Filters", value=filters[:1024] or "none", inline=False)
        templates = "\n".join(
            f"{'every event' if kind == '*' else kind}: `{source[:200]}`"
            for kind, source in sorted(hook.templates.items())
        )
        embed.add_field(name="Templates", value=templates[:1024] or "default", inline=False)
        window = f"every {hook.window_seconds // 60}m" if hook.window_seconds else "off"
        embed.add_field(name="Aggregate", value=window)
        rules = "\n".join(f"{n}. `{r['expression']}`" for n, r in enumerate(hook.alerts, 1))
        if rules:
            rules += f"\n(false for a missing value {hook.alert_misses} time(s))"
        embed.add_field(name="Alert rules", value=rules[:1024] or "none", inline=False)
        embed.add_field(name="URL", value=details.url, inline=False)
        embed.timestamp = datetime.fromtimestamp(hook.created_at, UTC)
        embed.set_footer(text="created")
        await ctx.send(embed=embed)

    @hook.command(name="delete")
    @app_commands.describe(ref="hook id or service", confirm="type yes to skip the buttons")
    async def delete(
        self, ctx: commands.Context[HookBot], ref: str, confirm: str | None = None
    ) -> None:
        """Delete a hook for good (asks to confirm)."""
        scope = _scope(ctx)
        hook = await self.service.resolve(ref, scope)
        if confirm not in ("--yes", "yes"):
            view = ConfirmDelete(ctx.author.id)
            await ctx.send(
                embed=_embed(f"Delete {hook.id}?", "Its URL stops working.", ERROR_COLOR),
                view=view,
            )
            await view.wait()
            if not view.confirmed:
                await ctx.send(embed=_embed(f"✅ Kept {hook.id}"))
                return
        await self.service.delete(hook.id, scope)
        await ctx.send(embed=_embed(f"✅ Deleted {hook.id}", "Its URL no longer works."))

    @hook.command(name="test")
    @app_commands.describe(ref="hook id or service")
    async def test(self, ctx: commands.Context[HookBot], ref: str) -> None:
        """Send the hook's last delivery (or a sample) through the pipeline again."""
        hook, what = await self.service.test(ref, _scope(ctx))
        self.bot.on_delivery()
        await ctx.send(embed=_embed(f"✅ Sent {what} through {hook.id}"))

    @hook.command(name="rotate")
    @app_commands.describe(ref="hook id or service", grace="how long the old URL keeps working")
    async def rotate(
        self, ctx: commands.Context[HookBot], ref: str, grace: str | None = None
    ) -> None:
        """Give a hook a new URL and secret (the old ones work during the grace)."""
        creds = await self.service.rotate(ref, _scope(ctx), grace=grace)
        await self._show_credentials(ctx, creds)

    @hook.command(name="events")
    @app_commands.describe(ref="hook id or service", patterns="e.g. push,pr,release,-star")
    async def events(
        self, ctx: commands.Context[HookBot], ref: str, patterns: str | None = None
    ) -> None:
        """Show or set which events a hook posts (globs, aliases, -exclusions)."""
        scope = _scope(ctx)
        if patterns:
            hook, words = await self.service.set_events(ref, patterns, scope)
            await ctx.send(embed=_embed(f"✅ {hook.id} now posts", words))
            return
        hook, words = await self.service.describe_events(ref, scope)
        await ctx.send(embed=_embed(f"{hook.id} posts", words, INFO_COLOR))

    @hook.command(name="filter")
    @app_commands.describe(
        ref="hook id or service", rule="key=glob, key!=glob, list, remove <n> or clear"
    )
    async def filter_events(self, ctx: commands.Context[HookBot], ref: str, *, rule: str) -> None:
        """Keep or drop events by field: branch=main, author!=dependabot[bot], path=docs/**."""
        scope = _scope(ctx)
        words = rule.split()
        if rule.strip() == "list":
            hook, counts = await self.service.filter_counts(ref, scope)
            lines = [
                f"{n}. `{text}` (kept {kept}, dropped {dropped})"
                for n, (text, kept, dropped) in enumerate(counts, 1)
            ]
            await ctx.send(
                embed=_embed(f"{hook.id} filters", "\n".join(lines) or "none", INFO_COLOR)
            )
        elif words and words[0] == "remove" and len(words) == 2:
            removed = await self.service.remove_filter(ref, words[1], scope)
            await ctx.send(embed=_embed(f"✅ Removed filter `{removed}`"))
        elif rule.strip() == "clear":
            count = await self.service.clear_filters(ref, scope)
            await ctx.send(embed=_embed(f"✅ Removed {count} filter(s)"))
        else:
            hook, added, applies = await self.service.add_filter(ref, rule, scope)
            await ctx.send(
                embed=_embed(
                    f"✅ {hook.id}: filter `{added.text}` added",
                    f"Applies to {', '.join(applies)} events; others pass unchanged.",
                )
            )

    @hook.command(name="format")
    @app_commands.describe(
        target="hook id, service, or service-kind (github-push) for this channel",
        template="the Jinja2 template, `reset`, optionally a kind first; add --preview to try",
    )
    async def format_messages(
        self, ctx: commands.Context[HookBot], target: str, *, template: str
    ) -> None:
        """Set a message template (Jinja2), with a preview; `reset` goes back to the default."""
        kind, source, preview = split_format_args(template)
        change = await self.service.set_template(target, kind, source, _scope(ctx), preview=preview)
        if change.reset:
            await ctx.send(embed=_embed(f"✅ Default format for {change.where}"))
            return
        title = "Preview" if preview else f"✅ Template set for {change.where}"
        await ctx.send(embed=_embed(title, f"Next message will read:\n{change.preview}"))

    @hook.command(name="logs")
    @app_commands.describe(ref="hook id or service")
    async def logs(self, ctx: commands.Context[HookBot], ref: str) -> None:
        """Show what happened to a hook's latest deliveries (and why events were dropped)."""
        entries = await self.service.logs(ref, _scope(ctx), limit=15)
        lines = [
            f"{_when(e.at)} **{e.outcome}** {e.kind or ''} `{e.delivery_id or '-'}` "
            f"{(e.detail or '')[:120]}"
            for e in entries
        ]
        await ctx.send(embed=_embed(f"{ref} ledger", "\n".join(lines) or "nothing yet", INFO_COLOR))

    @hook.command(name="replay")
    @app_commands.describe(delivery="a delivery id from `logs`")
    async def replay(self, ctx: commands.Context[HookBot], delivery: str) -> None:
        """Run a stored delivery through its hook again."""
        hook, new_id = await self.service.replay(delivery, _scope(ctx))
        self.bot.on_delivery()
        await ctx.send(embed=_embed(f"✅ Replaying through {hook.id}", f"as `{new_id}`"))

    @hook.command(name="aggregate")
    @app_commands.describe(ref="hook id or service", window="1m to 24h, e.g. 5m, or off")
    async def aggregate(self, ctx: commands.Context[HookBot], ref: str, window: str) -> None:
        """Post one digest per window (UTC-aligned) instead of every event; `off` to stop."""
        hook, seconds, released = await self.service.set_window(ref, window, _scope(ctx))
        self.bot.on_delivery()
        if seconds is None:
            text = f"Each event is posted again; {released} held event(s) are being posted."
            await ctx.send(embed=_embed(f"✅ {hook.id}: aggregation off", text))
            return
        await ctx.send(
            embed=_embed(
                f"✅ {hook.id}: one digest every {window}",
                "Windows end at UTC multiples of the window; alerts are never held.",
            )
        )

    @hook.command(name="alert-if")
    @app_commands.describe(
        ref="hook id or service",
        rule="e.g. pr.status == 'approved' and pr.reviews >= 2; or list / remove <n>",
    )
    async def alert_if(self, ctx: commands.Context[HookBot], ref: str, *, rule: str) -> None:
        """Post an extra ⚡ alert when a rule turns true (`--mention @role` pings that role)."""
        scope = _scope(ctx)
        words = rule.split()
        if rule.strip() == "list":
            hook, rules = await self.service.list_alerts(ref, scope)
            lines = [f"{n}. `{text}`" for n, text in enumerate(rules, 1)]
            misses = f"\nFalse for a missing value {hook.alert_misses} time(s)." if rules else ""
            await ctx.send(
                embed=_embed(
                    f"{hook.id} alert rules", ("\n".join(lines) or "none") + misses, INFO_COLOR
                )
            )
            return
        if words and words[0] == "remove" and len(words) == 2:
            removed = await self.service.remove_alert(ref, words[1], scope)
            await ctx.send(embed=_embed("✅ Removed the rule", f"`{removed}`"))
            return
        mention = None
        found = re.search(r"\s--mention\s+(\S+)\s*$", rule)
        if found:
            mention, rule = found[1], rule[: found.start()]
        hook, expression, needs = await self.service.add_alert(
            ref, rule, scope, mention_role=mention
        )
        lines = [f"`{expression}`", "Alerts once when it turns true, again after it was false."]
        if needs:
            lines.append(f"Tick these GitHub webhook events: {', '.join(needs)}.")
        await ctx.send(embed=_embed(f"✅ {hook.id} alert rule added", "\n".join(lines)))

    @turn_on.autocomplete("ref")
    @turn_off.autocomplete("ref")
    @info.autocomplete("ref")
    @delete.autocomplete("ref")
    @test.autocomplete("ref")
    @rotate.autocomplete("ref")
    @events.autocomplete("ref")
    @filter_events.autocomplete("ref")
    @aggregate.autocomplete("ref")
    @logs.autocomplete("ref")
    @alert_if.autocomplete("ref")
    async def ref_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer this server's hook ids and the service names."""
        if interaction.guild_id is None:
            return []
        hooks = await self.service.list_hooks(Scope(guild_id=str(interaction.guild_id)))
        options = [h.id for h in hooks] + sorted(SERVICES)
        return [app_commands.Choice(name=o, value=o) for o in options if current in o][:25]
