"""The `!hook` and `/hook` commands: read by bot.core.verbs, done by HookService, shown here.

`!hook …` passes what was typed to `parse_command`, in either word order; each `/hook`
subcommand writes its options out as the same words. Both then run one request the same
way, so the two forms cannot drift apart. This module only renders answers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.verbs import (
    AddForward,
    Aggregate,
    AlertIf,
    Create,
    Delete,
    Disable,
    Enable,
    Events,
    Filter,
    Format,
    Forward,
    Help,
    Hosts,
    Info,
    ListHooks,
    Logs,
    RemoveAll,
    RemoveOne,
    Replay,
    Request,
    Rotate,
    SendTest,
    ShowAll,
    TryOne,
    VerbError,
    parse_command,
)
from bot.core.wording import format_duration, state_word, window_words
from bot.delivery.words import attempt_words, forward_words
from bot.service import (
    AmbiguousRefError,
    HookCredentials,
    HookError,
    HookService,
    InvalidInputError,
    Scope,
    hint_shows_secret,
    setup_hint,
)
from bot.store import Hook
from formatters.message import Embed, Message, clamp
from parsers import SERVICES

log = logging.getLogger(__name__)

Context = commands.Context[commands.Bot]

OK_COLOR = 0x2DA44E
ERROR_COLOR = 0xCF222E
INFO_COLOR = 0x0969DA
LIST_LIMIT = 25
LOG_LINES = 15
DISCORD_CONTENT_LIMIT = 2000

HELP_TEXT = """\
`!hook on github [owner/repo] [--events push,pr,release]` a GitHub hook posting here \
(the secret comes by DM); also `gitlab`, `ci` (Jenkins, GitLab CI, CircleCI, GitHub Actions) \
· `!hook custom <name|url> [--signed]` any JSON
`!hook docker on [host] [--containers api*] [--events die,oom]` Docker crashes, OOM kills, \
unhealthy containers, restart loops, builds · `!hook docker hosts` each host's stream
`!hook list` every hook of this server · `!hook info <ref>` one in full
`!hook off <ref>` / `!hook on <ref>` pause / resume (deliveries are kept)
`!hook test <ref> [kind]` send the last delivery again · `!hook rotate <ref> [24h]` new URL + secret
`!hook delete <ref>` delete (asks to confirm) · `!hook logs [ref] [--failed] [--page 2]` the ledger
`!hook replay <delivery>` run a stored delivery again
`!hook events <ref> push,pr,-star` choose events · `!hook filter <ref> author!=dependabot[bot]`
`!hook format <ref> "🔔 {{event}}: {{message}}"` your own format (`reset`, `--preview`)
`!hook aggregate <ref> 5m` one digest per window · `!hook alert-if <ref> "pr.reviews >= 2"`
`!hook forward <ref> https://… [--events push] [--header K:V] [--retries 3] [--timeout 30] \
[--body <json template>]` POST its events as signed JSON (secret by DM) · `list`, `remove <n>`, \
`test <n>`

`<ref>` is a hook id (`hook_001`) or a service (`github`) naming one hook in this channel.
The service-first order works too: `!hook github on`. Every command is also `/hook …`."""


class NotAllowedError(Exception):
    """The author may not manage hooks here."""


class NotInGuildError(Exception):
    """Hooks are managed in a server channel, not in DMs."""


def _embed(title: str, description: str = "", color: int = OK_COLOR) -> discord.Embed:
    answer = clamp(Message(embeds=(Embed(title=title, description=description or None),)))
    embed = answer.embeds[0]
    return discord.Embed(title=embed.title, description=embed.description, color=color)


def _when(timestamp: float | None) -> str:
    return "never" if timestamp is None else f"<t:{int(timestamp)}:R>"


def _state(hook: Hook) -> str:
    word = state_word(hook.enabled, hook.failing)
    return "⚠️ failing" if word == "failing" else word


def _where(hook: Hook) -> str:
    if hook.destination.startswith("discord:channel:"):
        return f"<#{hook.destination.removeprefix('discord:channel:')}>"
    if hook.destination.startswith("webhook:"):
        return "channel webhook"
    return hook.destination


def _scope(ctx: Context) -> Scope:
    if ctx.guild is None:
        raise NotInGuildError
    return Scope(guild_id=str(ctx.guild.id), channel_id=str(ctx.channel.id))


def _secret_lines(creds: HookCredentials) -> str:
    # Plain lines, the secret last and alone: easy to copy on a phone.
    return f"ID: {creds.hook.id}\nURL: {creds.url}\nSecret: {creds.secret}"


def _private_messages(creds: HookCredentials) -> list[str]:
    """What only the author may see: the setup steps when they hold the secret, then the lines."""
    if not hint_shows_secret(creds.hook.service):
        return [_secret_lines(creds)]
    steps, lines = setup_hint(creds), _secret_lines(creds)
    together = f"{steps}\n\n{lines}"
    return [together] if len(together) <= DISCORD_CONTENT_LIMIT else [steps, lines]


def _words(*parts: str | None) -> str:
    """Write a slash command's options as the words `!hook` reads (empty ones left out)."""
    return " ".join(part for part in parts if part)


def _patterns(text: str | None) -> str | None:
    """`push pr` or `push, pr` typed in a slash option → `push,pr` (one word)."""
    return ",".join(text.replace(",", " ").split()) if text else None


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
    """Manage webhook hooks from Discord: `!hook …` and `/hook …`."""

    slash = app_commands.Group(
        name="hook", description="Manage webhook hooks in this server", guild_only=True
    )

    def __init__(self, service: HookService, admin_role: str | None = None) -> None:
        self.service = service
        self.admin_role = admin_role

    # -- the two entry points --------------------------------------------------------

    @commands.command(name="hook", rest_is_raw=True)
    async def hook_text(self, ctx: Context, *, text: str = "") -> None:
        """`!hook <verb> [ref] [args]`, or `!hook <ref> <verb> …`; `!hook` alone shows help."""
        await self._run(ctx, text)

    async def _slash(self, interaction: discord.Interaction, *parts: str | None) -> None:
        # The Cog runs only in a commands.Bot (HookBot), which from_interaction requires.
        ctx: Context = await commands.Context.from_interaction(
            cast("discord.Interaction[commands.Bot]", interaction)
        )
        await self._run(ctx, _words(*parts))

    async def _run(self, ctx: Context, text: str) -> None:
        """Check who asks, read the words, do it, answer; every failure gets one answer."""
        try:
            self._check(ctx)
            await self._answer(ctx, parse_command(text))
        except Exception as exc:  # every failure is answered, the unexpected ones logged
            await self._fail(ctx, exc)

    def _check(self, ctx: Context) -> None:
        """Allow Manage Server, Manage Webhooks or HOOKBOT_ADMIN_ROLE; never in DMs."""
        if ctx.guild is None or not isinstance(ctx.author, discord.Member):
            raise NotInGuildError
        permissions = ctx.author.guild_permissions
        if permissions.manage_guild or permissions.manage_webhooks:
            return
        role = self.admin_role
        if role and any(r.name == role or str(r.id) == role for r in ctx.author.roles):
            return
        raise NotAllowedError("managing hooks needs Manage Server or Manage Webhooks")

    async def _fail(self, ctx: Context, error: Exception) -> None:
        """Answer in one line that says what was wrong and what to type instead."""
        help_word = "`/hook help`" if ctx.interaction is not None else "`!hook help`"
        if isinstance(error, AmbiguousRefError):
            ids = ", ".join(f"`{h.id}` ({_where(h)})" for h in error.candidates)
            text = f"{error} Candidates: {ids}"
        elif isinstance(error, HookError):
            text = str(error)
        elif isinstance(error, VerbError):
            text = f"{error}; see {help_word}"
        elif isinstance(error, NotInGuildError):
            text = "hooks are managed in a server channel, not in DMs"
        elif isinstance(error, NotAllowedError):
            text = f"{error} (or the admin role)"
        else:
            reference = uuid.uuid4().hex[:8]
            log.error("command %r failed (ref %s)", ctx.message.content, reference, exc_info=error)
            text = f"something went wrong on our side (reference `{reference}`); please try again"
        head, _, rest = text.partition("; ")
        if len(head) > 200:
            head, rest = "That did not work", text
        await ctx.send(embed=_embed(f"❌ {head}", rest, ERROR_COLOR), ephemeral=True)

    # -- one answer per request ------------------------------------------------------

    async def _answer(self, ctx: Context, request: Request) -> None:
        scope = _scope(ctx)
        match request:
            case Help():
                await ctx.send(embed=_embed("hookbot", HELP_TEXT, INFO_COLOR))
            case Create():
                creds = await self.service.create(
                    request.service,
                    f"discord:channel:{ctx.channel.id}",
                    scope,
                    target=request.target,
                    creator=str(ctx.author.id),
                    new=request.new,
                    events=request.events,
                    signed=request.signed,
                    containers=request.containers,
                )
                if not SERVICES[creds.hook.service].http:  # docker: no URL, no secret
                    title = f"✅ {creds.hook.service} hook {creds.hook.id}"
                    await ctx.send(embed=_embed(title, self.service.docker_summary(creds.hook)))
                    return
                await self._show_credentials(ctx, creds)
            case Enable(ref):
                hook, requeued = await self.service.enable(ref, scope)
                extra = f"{requeued} kept message(s) are being sent." if requeued else ""
                await ctx.send(embed=_embed(f"✅ {hook.id} is on", extra))
            case Disable(ref):
                hook = await self.service.disable(ref, scope)
                await ctx.send(
                    embed=_embed(f"✅ {hook.id} is off", f"`!hook on {hook.id}` resumes.")
                )
            case ListHooks():
                await self._list(ctx, await self.service.list_hooks(scope))
            case Info(ref):
                await self._info(ctx, ref, scope)
            case Delete(ref, confirmed):
                await self._delete(ctx, ref, confirmed, scope)
            case SendTest(ref, kind):
                hook, what = await self.service.test(ref, scope, kind)
                await ctx.send(embed=_embed(f"✅ Sent {what} through {hook.id}"))
            case Rotate(ref, grace):
                await self._show_credentials(
                    ctx, await self.service.rotate(ref, scope, grace=grace)
                )
            case Logs():
                await self._logs(ctx, request, scope)
            case Replay(delivery):
                retried = await self.service.retry_forwards(delivery, scope)
                if retried is not None:
                    hook, count = retried
                    title = f"✅ Sending {count} failed forward request(s) again"
                    await ctx.send(embed=_embed(title, f"through {hook.id} (same webhook-id)"))
                    return
                hook, new_id = await self.service.replay(delivery, scope)
                await ctx.send(embed=_embed(f"✅ Replaying through {hook.id}", f"as `{new_id}`"))
            case Events(ref, None):
                hook, words = await self.service.describe_events(ref, scope)
                await ctx.send(embed=_embed(f"{hook.id} posts", words, INFO_COLOR))
            case Events(ref, str() as patterns):
                hook, words = await self.service.set_events(ref, patterns, scope)
                await ctx.send(embed=_embed(f"✅ {hook.id} now posts", words))
            case Filter():
                await self._filter(ctx, request, scope)
            case Format(target, kind, template, preview):
                change = await self.service.set_template(
                    target, kind, template, scope, preview=preview
                )
                await self._show_template(ctx, change.reset, preview, change.where, change.preview)
            case Aggregate(ref, window):
                hook, seconds, released = await self.service.set_window(ref, window, scope)
                await self._show_window(ctx, hook, seconds, released)
            case AlertIf():
                await self._alert_if(ctx, request, scope)
            case Forward():
                await self._forward(ctx, request, scope)
            case Hosts(service):
                now = time.time()
                lines = [s.describe(now) for s in await self.service.docker_hosts()]
                none = "No host is watched: set DOCKER_HOSTS and restart hookbot"
                await ctx.send(
                    embed=_embed(f"🐳 {service} hosts", "\n".join(lines) or none, INFO_COLOR)
                )

    async def _show_credentials(self, ctx: Context, creds: HookCredentials) -> None:
        hook = creds.hook
        verb = "created" if creds.created else "ready"
        if hint_shows_secret(hook.service):
            lines = [
                f"**URL:** {creds.url}",
                "The setup steps hold the secret: they come privately.",
            ]
        else:
            lines = [setup_hint(creds)]
        if creds.remote and creds.remote.startswith("✅"):  # GitHub's API added the webhook
            lines = [creds.remote, f"**URL:** {creds.url}"]
        elif creds.remote:
            lines.insert(0, creds.remote)
        if hook.target:
            lines.insert(0, f"**Target:** {hook.target}")
        if ctx.interaction is None:
            try:
                for text in _private_messages(creds):
                    await ctx.author.send(text)
                lines.append("The secret was sent to you by DM.")
            except discord.Forbidden:
                lines.append(
                    "❌ I could not DM you the secret (your DMs are closed). "
                    f"Use `/hook rotate ref:{hook.id}` to get a new one privately."
                )
        await ctx.send(embed=_embed(f"✅ {hook.service} hook {hook.id} {verb}", "\n".join(lines)))
        if ctx.interaction is not None:
            for text in _private_messages(creds):
                await ctx.send(text, ephemeral=True)

    async def _list(self, ctx: Context, hooks: Sequence[Hook]) -> None:
        if not hooks:
            await ctx.send(
                embed=_embed("No hooks yet", "Create one: `!hook on github`", INFO_COLOR)
            )
            return
        lines = []
        for h in hooks[:LIST_LIMIT]:
            rejected = ", ".join(f"{r}: {n}" for r, n in sorted(h.rejections.items()))
            lines.append(
                f"`{h.id}` {h.service}{f' {h.target}' if h.target else ''} → {_where(h)} · "
                f"{_state(h)} · last {_when(h.last_delivery_at)} ({h.last_delivery_status or '-'})"
                + (f" · rejected {h.rejected} ({rejected})" if h.rejected else "")
                + (f"\n  ⚠️ {h.failing}" if h.failing else "")
            )
        if len(hooks) > LIST_LIMIT:
            lines.append(f"…and {len(hooks) - LIST_LIMIT} more")
        await ctx.send(embed=_embed(f"Hooks ({len(hooks)})", "\n".join(lines), INFO_COLOR))

    async def _info(self, ctx: Context, ref: str, scope: Scope) -> None:
        details = await self.service.details(ref, scope)
        hook = details.hook
        embed = _embed(f"{hook.id} · {hook.service}", color=INFO_COLOR)
        rejected = ", ".join(f"{r}: {n}" for r, n in sorted(hook.rejections.items())) or "none"
        embed.add_field(name="State", value=_state(hook))
        embed.add_field(name="Target", value=hook.target or "none")
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
        forwards = "\n".join(f"{f.number}. {forward_words(f)}" for f in details.forwards)
        embed.add_field(name="Forwards", value=forwards[:1024] or "none", inline=False)
        templates = "\n".join(
            f"{'every event' if kind == '*' else kind}: `{source[:200]}`"
            for kind, source in sorted(hook.templates.items())
        )
        embed.add_field(name="Templates", value=templates[:1024] or "default", inline=False)
        embed.add_field(name="Aggregate", value=window_words(hook.window_seconds))
        rules = "\n".join(f"{n}. `{r['expression']}`" for n, r in enumerate(hook.alerts, 1))
        if rules:
            rules += f"\n(false for a missing value {hook.alert_misses} time(s))"
        embed.add_field(name="Alert rules", value=rules[:1024] or "none", inline=False)
        embed.add_field(name="URL", value=details.url, inline=False)
        embed.timestamp = datetime.fromtimestamp(hook.created_at, UTC)
        embed.set_footer(text="created")
        await ctx.send(embed=embed)

    async def _delete(self, ctx: Context, ref: str, confirmed: bool, scope: Scope) -> None:
        hook = await self.service.resolve(ref, scope)
        if not confirmed:
            view = ConfirmDelete(ctx.author.id)
            await ctx.send(
                embed=_embed(f"Delete {hook.id}?", "Its URL stops working.", ERROR_COLOR),
                view=view,
            )
            await view.wait()
            if not view.confirmed:
                await ctx.send(embed=_embed(f"✅ Kept {hook.id}"))
                return
        _, remote = await self.service.delete(hook.id, scope)
        done = "Its URL no longer works." + (f"\n{remote}" if remote else "")
        await ctx.send(embed=_embed(f"✅ Deleted {hook.id}", done))

    async def _logs(self, ctx: Context, request: Logs, scope: Scope) -> None:
        entries = await self.service.logs(
            request.ref, scope, limit=LOG_LINES, failed=request.failed, page=request.page
        )
        lines = [
            f"{_when(e.at)} **{e.outcome}** {'' if request.ref else (e.hook_id or '-') + ' '}"
            f"{e.kind or ''} `{e.delivery_id or '-'}` {attempt_words(e)[:160]}"
            for e in entries
        ]
        title = f"{request.ref or 'All hooks'}: ledger"
        if request.failed:
            title += ", failures"
        if request.page > 1:
            title += f", page {request.page}"
        more = (
            f"\nOlder: `!hook logs … --page {request.page + 1}`" if len(lines) == LOG_LINES else ""
        )
        await ctx.send(embed=_embed(title, ("\n".join(lines) or "nothing yet") + more, INFO_COLOR))

    async def _filter(self, ctx: Context, request: Filter, scope: Scope) -> None:
        ref = request.ref
        match request.sub:
            case ShowAll():
                hook, counts = await self.service.filter_counts(ref, scope)
                lines = [
                    f"{n}. `{text}` (kept {kept}, dropped {dropped})"
                    for n, (text, kept, dropped) in enumerate(counts, 1)
                ]
                body = "\n".join(lines) or "none"
                await ctx.send(embed=_embed(f"{hook.id} filters", body, INFO_COLOR))
            case RemoveOne(number):
                removed = await self.service.remove_filter(ref, str(number), scope)
                await ctx.send(embed=_embed(f"✅ Removed filter `{removed}`"))
            case RemoveAll():
                count = await self.service.clear_filters(ref, scope)
                await ctx.send(embed=_embed(f"✅ Removed {count} filter(s)"))
            case None:
                hook, added, applies = await self.service.add_filter(ref, request.rule, scope)
                await ctx.send(
                    embed=_embed(
                        f"✅ {hook.id}: filter `{added.text}` added",
                        f"Applies to {', '.join(applies)} events; others pass unchanged.",
                    )
                )
            case _:
                raise InvalidInputError("filter takes list, remove <n>, clear or key=glob")

    async def _show_template(
        self, ctx: Context, reset: bool, preview: bool, where: str, text: str | None
    ) -> None:
        if reset:
            await ctx.send(embed=_embed(f"✅ Default format for {where}"))
            return
        title = "Preview" if preview else f"✅ Template set for {where}"
        await ctx.send(embed=_embed(title, f"Next message will read:\n{text}"))

    async def _show_window(
        self, ctx: Context, hook: Hook, seconds: int | None, released: int
    ) -> None:
        if seconds is None:
            text = f"Each event is posted again; {released} held event(s) are being posted."
            await ctx.send(embed=_embed(f"✅ {hook.id}: aggregation off", text))
            return
        await ctx.send(
            embed=_embed(
                f"✅ {hook.id}: one digest every {format_duration(seconds)}",
                "Windows end at UTC multiples of the window; alerts are never held.",
            )
        )

    async def _forward(self, ctx: Context, request: Forward, scope: Scope) -> None:
        ref = request.ref
        match request.sub, request.add:
            case ShowAll(), _:
                hook, forwards = await self.service.list_forwards(ref, scope)
                lines = [f"{f.number}. {forward_words(f)}" for f in forwards]
                body = "\n".join(lines) or "none"
                await ctx.send(embed=_embed(f"{hook.id} forwards", body, INFO_COLOR))
            case RemoveOne(number), _:
                hook, removed, dropped = await self.service.remove_forward(ref, number, scope)
                extra = f"{dropped} queued request(s) dropped." if dropped else ""
                title = f"✅ {hook.id}: removed forward {number}"
                await ctx.send(embed=_embed(title, f"{removed.url}\n{extra}".strip()))
            case TryOne(number), _:
                hook, tried, entry = await self.service.test_forward(ref, number, scope)
                color = ERROR_COLOR if entry.failed else OK_COLOR
                mark = "❌" if entry.failed else "✅"
                title = f"{mark} {hook.id}: forward {tried.number} test"
                await ctx.send(embed=_embed(title, attempt_words(entry), color))
            case None, AddForward() as add:
                hook, added = await self.service.add_forward(ref, add, scope)
                await self._show_forward_secret(ctx, hook.id, added.number, added.secret)
                await ctx.send(
                    embed=_embed(
                        f"✅ {hook.id}: forward {added.number} added",
                        f"{forward_words(added)}\nSigned with Standard Webhooks headers and "
                        "X-Hookbot-Signature-256; the secret is shown once, privately.",
                    )
                )
            case _:
                raise InvalidInputError("forward takes a URL, list, remove <n> or test <n>")

    async def _show_forward_secret(
        self, ctx: Context, hook_id: str, number: int, secret: str
    ) -> None:
        """The forward's secret, once: by DM for `!hook`, ephemeral for `/hook`."""
        text = f"{hook_id} forward {number}\nSecret: {secret}"
        if ctx.interaction is not None:
            await ctx.send(text, ephemeral=True)
            return
        try:
            await ctx.author.send(text)
        except discord.Forbidden:
            await ctx.send(
                embed=_embed(
                    "❌ I could not DM you the forward's secret (your DMs are closed)",
                    f"Remove it and add it again with `/hook forward`: `forward {hook_id} "
                    f"remove {number}`.",
                    ERROR_COLOR,
                )
            )

    async def _alert_if(self, ctx: Context, request: AlertIf, scope: Scope) -> None:
        ref = request.ref
        match request.sub:
            case ShowAll():
                hook, rules = await self.service.list_alerts(ref, scope)
                lines = [f"{n}. `{text}`" for n, text in enumerate(rules, 1)]
                misses = (
                    f"\nFalse for a missing value {hook.alert_misses} time(s)." if rules else ""
                )
                body = ("\n".join(lines) or "none") + misses
                await ctx.send(embed=_embed(f"{hook.id} alert rules", body, INFO_COLOR))
            case RemoveOne(number):
                removed = await self.service.remove_alert(ref, str(number), scope)
                await ctx.send(embed=_embed("✅ Removed the rule", f"`{removed}`"))
            case None:
                hook, expression, needs = await self.service.add_alert(
                    ref, request.expression, scope, mention_role=request.mention
                )
                lines = [
                    f"`{expression}`",
                    "Alerts once when it turns true, again after it was false.",
                ]
                if needs:
                    lines.append(f"Tick these GitHub webhook events: {', '.join(needs)}.")
                await ctx.send(embed=_embed(f"✅ {hook.id} alert rule added", "\n".join(lines)))
            case _:
                raise InvalidInputError("alert-if takes list, remove <n> or a rule")

    # -- /hook: each subcommand writes its options as `!hook` words ------------------

    @slash.command(name="help", description="How to use hookbot")
    async def slash_help(self, interaction: discord.Interaction) -> None:
        """Show the grammar with examples."""
        await self._slash(interaction, "help")

    @slash.command(name="on", description="Create a hook posting here, or turn one back on")
    @app_commands.describe(
        ref="a service to create a hook for (github), or a hook id to enable",
        target="what it is for: owner/repo, a docker host, a custom sender's name",
        events="the events to post, e.g. push,pr,release (default: the service's)",
        new="make another hook even if this channel has one for that service and target",
        signed="custom hooks: refuse unsigned posts",
        containers="docker hooks: which containers, by name (glob, e.g. api*,web)",
    )
    async def slash_on(
        self,
        interaction: discord.Interaction,
        ref: str,
        target: str | None = None,
        events: str | None = None,
        new: bool = False,
        signed: bool = False,
        containers: str | None = None,
    ) -> None:
        """Create a hook posting here, or turn a hook back on."""
        await self._slash(
            interaction,
            "on",
            ref,
            target,
            f"--events {_patterns(events)}" if events else None,
            "--new" if new else None,
            "--signed" if signed else None,
            f"--containers {containers}" if containers else None,
        )

    @slash.command(name="hosts", description="Each Docker host's event stream")
    async def slash_hosts(self, interaction: discord.Interaction) -> None:
        """Show each Docker host's stream: state, last event, reconnects."""
        await self._slash(interaction, "docker", "hosts")

    @slash.command(name="off", description="Pause a hook: deliveries are kept, not posted")
    @app_commands.describe(ref="hook id or service")
    async def slash_off(self, interaction: discord.Interaction, ref: str) -> None:
        """Pause a hook."""
        await self._slash(interaction, "off", ref)

    @slash.command(name="list", description="This server's hooks with their state")
    async def slash_list(self, interaction: discord.Interaction) -> None:
        """List this server's hooks."""
        await self._slash(interaction, "list")

    @slash.command(name="info", description="One hook in full, with its last error")
    @app_commands.describe(ref="hook id or service")
    async def slash_info(self, interaction: discord.Interaction, ref: str) -> None:
        """Show one hook in full."""
        await self._slash(interaction, "info", ref)

    @slash.command(name="delete", description="Delete a hook for good (asks to confirm)")
    @app_commands.describe(ref="hook id or service", confirm="skip the buttons")
    async def slash_delete(
        self, interaction: discord.Interaction, ref: str, confirm: bool = False
    ) -> None:
        """Delete a hook."""
        await self._slash(interaction, "delete", ref, "--yes" if confirm else None)

    @slash.command(name="test", description="Send the last delivery (or a sample) again")
    @app_commands.describe(ref="hook id or service", kind="send the bundled sample of this kind")
    async def slash_test(
        self, interaction: discord.Interaction, ref: str, kind: str | None = None
    ) -> None:
        """Send a delivery through the pipeline again."""
        await self._slash(interaction, "test", ref, kind)

    @slash.command(name="rotate", description="A new URL and secret; the old ones work a while")
    @app_commands.describe(ref="hook id or service", grace="how long the old URL keeps working")
    async def slash_rotate(
        self, interaction: discord.Interaction, ref: str, grace: str | None = None
    ) -> None:
        """Give a hook a new URL and secret."""
        await self._slash(interaction, "rotate", ref, f"--grace {grace}" if grace else None)

    @slash.command(name="logs", description="The ledger: deliveries in, messages out")
    @app_commands.describe(
        ref="hook id or service (default: every hook here)",
        failed="only what failed",
        page="older lines: 2, 3, …",
    )
    async def slash_logs(
        self,
        interaction: discord.Interaction,
        ref: str | None = None,
        failed: bool = False,
        page: app_commands.Range[int, 1, 1000] = 1,
    ) -> None:
        """Show the ledger."""
        await self._slash(
            interaction, "logs", ref, "--failed" if failed else None, f"--page {page}"
        )

    @slash.command(name="replay", description="Run a stored delivery through its hook again")
    @app_commands.describe(delivery="a delivery id from logs")
    async def slash_replay(self, interaction: discord.Interaction, delivery: str) -> None:
        """Replay a delivery."""
        await self._slash(interaction, "replay", delivery)

    @slash.command(name="events", description="Show or choose the events a hook posts")
    @app_commands.describe(ref="hook id or service", patterns="e.g. push,pr,release,-star")
    async def slash_events(
        self, interaction: discord.Interaction, ref: str, patterns: str | None = None
    ) -> None:
        """Show or set a hook's events."""
        await self._slash(interaction, "events", ref, patterns)

    @slash.command(name="filter", description="Keep or drop events by field")
    @app_commands.describe(
        ref="hook id or service", rule="key=glob, key!=glob, list, remove <n> or clear"
    )
    async def slash_filter(self, interaction: discord.Interaction, ref: str, rule: str) -> None:
        """Add, list or remove filters."""
        await self._slash(interaction, "filter", ref, rule)

    @slash.command(name="format", description="Your own message format (Jinja2)")
    @app_commands.describe(
        target="hook id, service, or service-kind (github-push) for this channel",
        template="the template, optionally a kind first; or reset",
        preview="show the next message without saving",
    )
    async def slash_format(
        self,
        interaction: discord.Interaction,
        target: str,
        template: str,
        preview: bool = False,
    ) -> None:
        """Set, preview or reset a template."""
        await self._slash(interaction, "format", target, template, "--preview" if preview else None)

    @slash.command(name="aggregate", description="One digest per window instead of each event")
    @app_commands.describe(ref="hook id or service", window="1m to 24h, e.g. 5m, or off")
    async def slash_aggregate(
        self, interaction: discord.Interaction, ref: str, window: str
    ) -> None:
        """Set or end an aggregation window."""
        await self._slash(interaction, "aggregate", ref, window)

    @slash.command(name="alert-if", description="An extra ⚡ alert when a rule turns true")
    @app_commands.describe(
        ref="hook id or service",
        rule="e.g. pr.status == 'approved' and pr.reviews >= 2; or list / remove <n>",
        mention="a role id to ping with this rule's alerts",
    )
    async def slash_alert_if(
        self,
        interaction: discord.Interaction,
        ref: str,
        rule: str,
        mention: str | None = None,
    ) -> None:
        """Add, list or remove alert rules."""
        await self._slash(
            interaction, "alert-if", ref, rule, f"--mention {mention}" if mention else None
        )

    @slash.command(name="forward", description="POST this hook's events to your endpoint")
    @app_commands.describe(
        ref="hook id or service",
        action="the endpoint URL (https://…); or list, remove <n>, test <n>",
        events="only these events, e.g. push,pr (default: every event the hook posts)",
        headers="extra headers, K:V separated by commas",
        retries="tries after the first (0-10, default 3)",
        timeout="seconds per try (5-300, default 30)",
        body='a Jinja2 template that renders JSON, e.g. {"text": {{ title|tojson }}}',
    )
    async def slash_forward(
        self,
        interaction: discord.Interaction,
        ref: str,
        action: str,
        events: str | None = None,
        headers: str | None = None,
        retries: app_commands.Range[int, 0, 10] | None = None,
        timeout: app_commands.Range[int, 5, 300] | None = None,  # noqa: ASYNC109 - an option
        body: str | None = None,
    ) -> None:
        """Add, list, remove or test forwards."""
        header_words = [f"--header {h.strip()}" for h in (headers or "").split(",") if h.strip()]
        await self._slash(
            interaction,
            "forward",
            ref,
            action,
            f"--events {_patterns(events)}" if events else None,
            *header_words,
            f"--retries {retries}" if retries is not None else None,
            f"--timeout {timeout}" if timeout is not None else None,
            f"--body {body}" if body else None,
        )

    @slash_on.autocomplete("ref")
    @slash_off.autocomplete("ref")
    @slash_info.autocomplete("ref")
    @slash_delete.autocomplete("ref")
    @slash_test.autocomplete("ref")
    @slash_rotate.autocomplete("ref")
    @slash_logs.autocomplete("ref")
    @slash_events.autocomplete("ref")
    @slash_filter.autocomplete("ref")
    @slash_aggregate.autocomplete("ref")
    @slash_alert_if.autocomplete("ref")
    @slash_forward.autocomplete("ref")
    async def ref_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer this server's hook ids and the service names."""
        if interaction.guild_id is None:
            return []
        hooks = await self.service.list_hooks(Scope(guild_id=str(interaction.guild_id)))
        options = [h.id for h in hooks] + sorted(SERVICES)
        return [app_commands.Choice(name=o, value=o) for o in options if current in o][:25]
