"""``tower users``: dashboard users (first-run admin) and password hashes for the configuration."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from storage import audit
from tower import runtime
from tower.commands.options import ConfigOption, TokenOption
from tower.commands.remote import Api, cli_actor, store_or_api
from web.accounts import AccountError, Accounts, check_password, hash_password
from web.settings import USERNAME_PATTERN, Role

app = typer.Typer(
    name="users",
    help="Dashboard users: add, list, disable, sign out everywhere, hash a password.",
    no_args_is_help=True,
)


def _read_password(password_stdin: bool, username: str | None = None) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password, username)
    except AccountError as exc:
        runtime.fail(str(exc))
    return password


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    role: Annotated[Role, typer.Option("--role", help="viewer, ops or admin.")] = Role.ADMIN,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change an existing user's password/role.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Add a dashboard user to the store (the first-run admin: `tower users add admin`)."""
    settings = runtime.settings_or_exit(config)
    password = _read_password(password_stdin, username)
    with runtime.store_or_exit(settings, "tower users add") as store:
        accounts = Accounts(store, settings.web)
        existed = any(u.username == username and u.source == "store" for u in accounts.list_users())
        try:
            user = accounts.add_user(username, password, role, replace=replace)
        except AccountError as exc:
            audit.record(
                store, cli_actor(), "user.add", username, outcome="failed", details={"reason": str(exc)}
            )
            runtime.fail(str(exc))
        action = "user.update" if existed else "user.add"
        audit.record(store, cli_actor(), action, username, details={"role": role.value})
    typer.echo(f"user {user.username} ({user.role.value}) saved; log in at the dashboard")


@app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """List dashboard users (configuration and store)."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower users list") as store:
        users = Accounts(store, settings.web).list_users()
    if not users:
        typer.echo("no users yet; add one with: tower users add admin")
    for user in users:
        state = " (disabled)" if user.disabled else ""
        typer.echo(f"{user.username}\t{user.role.value}\t{user.source}{state}")


@app.command("disable")
def disable(username: str, config: ConfigOption = None) -> None:
    """Disable a stored user: every session of theirs ends at once."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower users disable") as store:
        try:
            ended = Accounts(store, settings.web).disable_user(username)
        except AccountError as exc:
            runtime.fail(str(exc))
        audit.record(store, cli_actor(), "user.disable", username, details={"sessions_ended": ended})
    typer.echo(f"user {username} disabled; {ended} session(s) ended")


@app.command("signout")
def signout(
    username: Annotated[str, typer.Argument(help="The user to sign out everywhere.")],
    config: ConfigOption = None,
    token: TokenOption = None,
) -> None:
    """Sign a user out everywhere: every dashboard session of theirs ends at once.

    While a tower serve holds the embedded store this asks its API (an admin token).
    """
    if not re.match(USERNAME_PATTERN, username):
        runtime.fail(f"not a user name: {username!r}")
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower users signout", token) as source:
        if isinstance(source, Api):
            ended = int(source.call("DELETE", f"/api/users/{username}/sessions")["sessions_ended"])
        else:
            try:
                ended = Accounts(source, settings.web).sign_out_everywhere(username)
            except AccountError as exc:
                runtime.fail(str(exc))
            audit.record(source, cli_actor(), "user.signout", username, details={"sessions_ended": ended})
    typer.echo(f"user {username} signed out everywhere; {ended} session(s) ended")


@app.command("hash")
def hash_command(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    username: Annotated[
        str | None, typer.Option("--username", help="The user it is for (the password must not contain it).")
    ] = None,
) -> None:
    """Print an argon2 hash for `web.users[].password_hash` in the configuration."""
    typer.echo(hash_password(_read_password(password_stdin, username), username))
