"""``dataaudit login``, ``dataaudit logout`` and ``dataaudit whoami``.

They share ``huggingface_hub``'s token store: a token stored here is used by
``datasets`` and ``huggingface-cli``, and one stored by ``huggingface-cli login``
is used here. The token is read from a hidden prompt, ``--token-stdin`` (for
scripts and CI) or ``--token``; it is never printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``login``, ``logout`` and ``whoami`` subcommands."""
    login = subparsers.add_parser(
        "login",
        help="store a Hugging Face token for hf:// scans",
        description=(
            "Validate a Hugging Face access token with the Hub and store it where huggingface_hub "
            "keeps it ($HF_HOME/token), so dataaudit, datasets and huggingface-cli all use it. "
            "Without options the token is read from a hidden prompt."
        ),
    )
    source = login.add_mutually_exclusive_group()
    source.add_argument(
        "--token", metavar="TOKEN", help="the token itself (visible in shell history: prefer --token-stdin)"
    )
    source.add_argument("--token-stdin", action="store_true", help="read the token from standard input")
    login.set_defaults(run=run_login)

    logout = subparsers.add_parser(
        "logout", help="remove the stored Hugging Face token", description="Remove the stored Hugging Face tokens."
    )
    logout.set_defaults(run=run_logout)

    whoami = subparsers.add_parser(
        "whoami",
        help="show which Hugging Face account the token belongs to",
        description="Show the Hugging Face account of the token a scan would use (--token, HF_TOKEN, stored).",
    )
    whoami.add_argument("--token", metavar="TOKEN", help="check this token instead")
    whoami.set_defaults(run=run_whoami)


def _read_token(args: argparse.Namespace) -> str:
    from dataaudit.errors import UsageError

    if args.token is not None:
        return str(args.token)
    if args.token_stdin:
        data = sys.stdin.readline()
        if not data.strip():
            raise UsageError("--token-stdin: no token on standard input")
        return data
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError("no terminal to prompt for the token: pipe it with --token-stdin (or pass --token)")
    import getpass

    print("Create a token at https://huggingface.co/settings/tokens (read access is enough).", file=sys.stderr)
    return getpass.getpass("Hugging Face token (input hidden): ")


def run_login(args: argparse.Namespace) -> int:
    """Validate and store the token; exit 2 when the Hub rejects it or cannot be reached."""
    from dataaudit import auth

    auth.install_log_redaction()
    token = _read_token(args)
    auth.register_secret(token.strip())
    identity = auth.login(token)
    role = f", {identity.role} access" if identity.role else ""
    name = f" (token '{identity.token_name}'{role})" if identity.token_name else ""
    print(auth.scrub(f"Logged in to {auth.endpoint()} as {identity.name}{name}."))
    print(auth.scrub(f"Token stored in {auth.token_store_path()} (shared with huggingface-cli and datasets)."))
    env = auth.token_env_var()
    if env:
        print(f"Note: {env} is set and takes precedence over the stored token.", file=sys.stderr)
    return 0


def run_logout(args: argparse.Namespace) -> int:
    """Remove the stored tokens."""
    from dataaudit import auth

    auth.install_log_redaction()
    if auth.logout():
        print("Logged out: the stored Hugging Face token was removed.")
    else:
        print("Not logged in: no stored token.")
    env = auth.token_env_var()
    if env:
        print(f"Note: {env} is still set, so scans still send that token; unset it to log out fully.", file=sys.stderr)
    return 0


def run_whoami(args: argparse.Namespace) -> int:
    """Print the account of the token a scan would use; exit 1 when there is none."""
    from dataaudit import auth

    auth.install_log_redaction()
    resolved = auth.resolve(getattr(args, "token", None))
    if resolved.token is None:
        print("Not logged in: run `dataaudit login` (or set HF_TOKEN).", file=sys.stderr)
        return 1
    identity = auth.whoami(resolved.token)
    print(auth.scrub(identity.name))
    if identity.orgs:
        print(auth.scrub(f"orgs: {', '.join(identity.orgs)}"))
    details = [f"from {resolved.source if resolved.source != 'stored' else 'the token store'}"]
    if identity.token_name:
        details.append(f"name '{identity.token_name}'")
    if identity.role:
        details.append(f"{identity.role} access")
    print(auth.scrub(f"token: {', '.join(details)}"))
    if auth.endpoint() != auth.DEFAULT_ENDPOINT:
        print(f"endpoint: {auth.endpoint()}")
    return 0
