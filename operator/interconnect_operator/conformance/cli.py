"""``interconnect-operator conformance``: run the kit against one provider endpoint.

Example (a staging endpoint that takes bearer tokens)::

    interconnect-operator conformance \\
        --endpoint https://staging.provider.example --caller gcp \\
        --environment aws-gcp-us-east --auth Bearer --token-file token.txt \\
        --markdown report.md --junit report.xml

Exit codes: 0 when nothing failed, 1 when a check failed or an object was
left behind, 2 for a bad invocation, 130 when interrupted (after cleanup).
Credentials come from files or the environment, never from the command
line, so that they stay out of the process list and shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from interconnect_operator.api.auth import AUTH_KINDS, Auth, BearerToken, Verify, build_auth
from interconnect_operator.conformance.catalog import CATALOG, CheckSpec, catalog_markdown
from interconnect_operator.conformance.report import (
    junit_xml,
    markdown,
    progress_line,
    terminal_summary,
)
from interconnect_operator.conformance.results import CheckResult, Outcome
from interconnect_operator.conformance.runner import run_conformance
from interconnect_operator.conformance.session import KitConfig

__all__ = ["add_arguments", "build_config", "run"]

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{2,19}$")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# Long on purpose: the command line's options, one statement each.
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``conformance`` options to ``parser``."""
    target = parser.add_argument_group("target")
    target.add_argument("--endpoint", help="base URL of the provider's API")
    target.add_argument("--caller", help="the provider id to present (the path prefix)")
    target.add_argument("--environment", help="environment id to use")
    target.add_argument(
        "--interconnect", help="interconnect for the write checks (default: first ACTIVE)"
    )
    auth = parser.add_argument_group("credentials (files or environment, never values)")
    auth.add_argument("--auth", default="None", choices=AUTH_KINDS, help="authentication type")
    auth.add_argument("--token-file", help="Bearer: file holding the token")
    auth.add_argument("--service-account-file", help="OAuth2: service account JSON file")
    auth.add_argument("--scopes", help="OAuth2: comma-separated scopes")
    auth.add_argument(
        "--aws-region",
        help="SigV4: region (keys from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_SESSION_TOKEN)",
    )
    auth.add_argument("--aws-service", default="interconnect", help="SigV4: service name")
    auth.add_argument("--client-cert", help="MTLS: client certificate (PEM file)")
    auth.add_argument("--client-key", help="MTLS: client key (PEM file)")
    auth.add_argument("--ca-file", help="CA bundle that signs the endpoint's certificate")
    auth.add_argument(
        "--insecure", action="store_true", help="do not verify the endpoint's certificate"
    )
    auth.add_argument(
        "--other-caller", help="a second provider id, for the third-party check (Objects)"
    )
    auth.add_argument("--other-token-file", help="bearer token of --other-caller")
    scope = parser.add_argument_group("what the kit may do")
    scope.add_argument(
        "--read-only", action="store_true", help="reads only (for production endpoints)"
    )
    scope.add_argument(
        "--allow-channel-effects",
        action="store_true",
        help="also ask for a MACsec rotation on a provider-managed channel (P30)",
    )
    scope.add_argument(
        "--allow-issues",
        action="store_true",
        help="also open (and close) one issue; issues cannot be deleted",
    )
    scope.add_argument(
        "--prefix",
        default="icokit-",
        help="prefix of every object id the kit creates (default icokit-)",
    )
    inputs = parser.add_argument_group("inputs")
    inputs.add_argument(
        "--spec-dir", help="the OpenAPI spec directory (default: $INTERCONNECT_SPEC_DIR)"
    )
    inputs.add_argument(
        "--activation-key-file",
        help="file holding an encodedKey the provider issued for --environment (P3)",
    )
    inputs.add_argument(
        "--caller-asn", type=int, default=64999, help="the caller's BGP ASN in proposals"
    )
    inputs.add_argument(
        "--provisioning-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for FINAL and VERIFIED (default 300)",
    )
    inputs.add_argument(
        "--request-timeout", type=float, default=30.0, help="seconds per request (default 30)"
    )
    output = parser.add_argument_group("reports")
    output.add_argument("--markdown", metavar="FILE", help="write a Markdown report")
    output.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    output.add_argument("--quiet", action="store_true", help="no progress lines")
    output.add_argument(
        "--list-checks", action="store_true", help="print every check as Markdown and exit"
    )


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ValueError(f"cannot read {what} ({error.strerror})") from None


def _auth(args: argparse.Namespace) -> Auth:
    kind = str(args.auth)
    settings: dict[str, Any] = {}
    if kind == "Bearer":
        if not args.token_file:
            raise ValueError("--auth Bearer needs --token-file")
        settings["token"] = SecretStr(_read(args.token_file, "--token-file"))
    elif kind == "OAuth2":
        if not args.service_account_file:
            raise ValueError("--auth OAuth2 needs --service-account-file")
        settings["serviceAccountJson"] = SecretStr(
            _read(args.service_account_file, "--service-account-file")
        )
        if args.scopes:
            settings["scopes"] = args.scopes
    elif kind == "SigV4":
        settings = {
            "accessKeyId": os.environ.get("AWS_ACCESS_KEY_ID"),
            "secretAccessKey": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "sessionToken": os.environ.get("AWS_SESSION_TOKEN"),
            "region": args.aws_region,
            "service": args.aws_service,
        }
    elif kind == "MTLS":
        settings = {"certFile": args.client_cert, "keyFile": args.client_key}
        if args.ca_file:
            settings["caFile"] = args.ca_file
    return build_auth(kind, {k: v for k, v in settings.items() if v is not None})


def build_config(args: argparse.Namespace) -> KitConfig:
    """A :class:`KitConfig` from parsed arguments; ValueError if invalid."""
    missing = [f"--{n}" for n in ("endpoint", "caller", "environment") if not getattr(args, n)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if not _PREFIX.match(args.prefix):
        raise ValueError("--prefix: 3-20 characters, lowercase letters, digits and '-'")
    if not args.caller or "/" in args.caller:
        raise ValueError("--caller must be a provider id")
    verify: Verify = False if args.insecure else (args.ca_file or True)
    key = (
        SecretStr(_read(args.activation_key_file, "--activation-key-file"))
        if args.activation_key_file
        else None
    )
    if bool(args.other_caller) != bool(args.other_token_file):
        raise ValueError("--other-caller and --other-token-file go together")
    other_auth = (
        BearerToken(SecretStr(_read(args.other_token_file, "--other-token-file")))
        if args.other_token_file
        else None
    )
    return KitConfig(
        endpoint=args.endpoint,
        caller=args.caller,
        environment=args.environment,
        auth=_auth(args),
        verify=verify,
        interconnect=args.interconnect,
        read_only=args.read_only,
        allow_channel_effects=args.allow_channel_effects,
        allow_issues=args.allow_issues,
        prefix=args.prefix,
        spec_dir=Path(args.spec_dir) if args.spec_dir else None,
        activation_key=key,
        caller_asn=args.caller_asn,
        provisioning_timeout=args.provisioning_timeout,
        request_timeout=args.request_timeout,
        other_caller=args.other_caller,
        other_auth=other_auth,
    )


def run(args: argparse.Namespace) -> int:
    """Run the kit; write the reports; answer the exit code."""
    if args.list_checks:
        sys.stdout.write(catalog_markdown())
        return EXIT_OK
    try:
        config = build_config(args)
    except ValueError as error:
        sys.stderr.write(f"conformance: {error}\n")
        return EXIT_USAGE
    total = len(CATALOG)
    done: list[str] = []

    def progress(spec: CheckSpec, result: CheckResult | None) -> None:
        if result is None:
            return
        done.append(spec.check_id)
        if not args.quiet:
            sys.stdout.write(progress_line(result, len(done), total) + "\n")
            sys.stdout.flush()

    def on_signal(message: str) -> None:
        sys.stderr.write(f"conformance: {message}\n")
        sys.stderr.flush()

    report = asyncio.run(run_conformance(config, progress=progress, on_signal=on_signal))
    sys.stdout.write(terminal_summary(report))
    if args.markdown:
        Path(args.markdown).write_text(markdown(report), encoding="utf-8")
    if args.junit:
        Path(args.junit).write_text(junit_xml(report), encoding="utf-8")
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if report.count(Outcome.FAIL) or report.leftovers else EXIT_OK
