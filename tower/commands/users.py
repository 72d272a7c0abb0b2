"""``tower users``: dashboard users (first-run admin) and password hashes for the configuration."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tower import runtime
from tower.commands.options import ConfigOption
from web.accounts import AccountError, Accounts, check_password, hash_password
from web.settings import Role

app = typer.Typer(
    name="users", help="Dashboard users: add, list, disable, hash a password.", no_args_is_help=True
)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
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
    password = _read_password(password_stdin)
    with runtime.store_or_exit(settings, "tower users add") as store:
        try:
            user = Accounts(store, settings.web).add_user(username, password, role, replace=replace)
        except AccountError as exc:
            runtime.fail(str(exc))
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
    """Disable a stored user: their sessions stop working within seconds."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower users disable") as store:
        try:
            Accounts(store, settings.web).disable_user(username)
        except AccountError as exc:
            runtime.fail(str(exc))
    typer.echo(f"user {username} disabled")


@app.command("hash")
def hash_command(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Print an argon2 hash for `web.users[].password_hash` in the configuration."""
    typer.echo(hash_password(_read_password(password_stdin)))
