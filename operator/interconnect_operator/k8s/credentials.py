"""Credentials: Secrets -> what the provider clients and the reconciler need.

A CapacityPool names Secrets in the operator's namespace for each provider's
auth and TLS CA; a link names Secrets in its own namespace for its
activation key and BGP MD5. This module reads and decodes them, registers
every value for log redaction, and turns a pool spec into a ``PoolConfig``.
Problems become ``ConfigError`` with a reason for status and Events.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from interconnect_operator.api.auth import Auth, build_auth
from interconnect_operator.k8s.config_error import ConfigError, validation_message
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.resources import (
    AuthType,
    CapacityPoolSpec,
    MulticloudLinkSpec,
    PoolProvider,
    ProviderRole,
    TlsVersion,
)
from interconnect_operator.logging_setup import register_secret
from interconnect_operator.protocol.types import Secret, Side
from interconnect_operator.reconcile.pool import PoolConfig, ProviderConfig

# A secretRef with a `key` names one value; it becomes the setting build_auth reads.
SETTING_FOR_KEY = {AuthType.BEARER: "token", AuthType.OAUTH2: "serviceAccountJson"}


class Credentials:
    """Reads Secrets through the Kubernetes API; the pool's live in ``operator_namespace``."""

    def __init__(self, kube: KubeApi, operator_namespace: str) -> None:
        self._kube = kube
        self._operator_namespace = operator_namespace

    async def secret_data(self, namespace: str, name: str, who: str) -> dict[str, str]:
        """A Secret's decoded values (each registered for redaction); ``who`` names the user."""
        try:
            secret = await self._kube.get_secret(namespace, name)
        except KubeError as exc:
            if exc.status == 404:
                raise ConfigError(
                    "SecretNotFound", f"{who}: secret {namespace}/{name} not found"
                ) from exc
            if exc.status == 403:
                raise ConfigError(
                    "SecretForbidden",
                    f"{who}: the operator may not read secret {namespace}/{name}",
                ) from exc
            raise ConfigError("SecretUnavailable", f"{who}: {exc}") from exc
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            try:
                decoded = base64.b64decode(value).decode("utf-8")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    "SecretMalformed", f"{who}: secret {namespace}/{name} key {key} is not UTF-8"
                ) from exc
            register_secret(decoded)
            data[key] = decoded
        return data

    async def pool_config(self, name: str, body: Mapping[str, Any]) -> PoolConfig:
        """The pool's spec with both providers' credentials resolved."""
        try:
            spec = CapacityPoolSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            raise ConfigError("InvalidSpec", validation_message(exc)) from exc
        roles = {p.role: p for p in spec.providers}
        negotiator = roles.get(ProviderRole.NEGOTIATOR)
        responder = roles.get(ProviderRole.RESPONDER)
        if negotiator is None or responder is None:
            raise ConfigError("InvalidSpec", "P4: the pool needs one Negotiator and one Responder")
        return PoolConfig(
            name=name,
            environment=spec.environment,
            negotiator=await self.provider_config(negotiator, responder, Side.NEGOTIATOR),
            responder=await self.provider_config(responder, negotiator, Side.RESPONDER),
            refresh_interval=float(spec.refresh_interval),
            headroom_mbps=spec.policy.headroom_mbps,
            max_bandwidth_mbps_per_link=spec.policy.max_bandwidth_mbps_per_link,
            macsec_rotate=spec.macsec.rotate,
            macsec_rotation_interval_hours=spec.macsec.rotation_interval_hours,
        )

    async def provider_config(
        self, provider: PoolProvider, other: PoolProvider, side: Side
    ) -> ProviderConfig:
        """Resolve the provider's credentials from Secrets in the operator's namespace."""
        auth, fingerprint = await self._auth(provider)
        return ProviderConfig(
            name=provider.name,
            endpoint=str(provider.endpoint),
            call_as=provider.call_as or other.name,
            side=side,
            auth=auth,
            verify=await self._verify(provider),
            min_tls_version=ssl.TLSVersion.TLSv1_2
            if provider.tls.min_version is TlsVersion.TLS_1_2
            else ssl.TLSVersion.TLSv1_3,
            fingerprint=fingerprint,
        )

    async def _auth(self, provider: PoolProvider) -> tuple[Auth, str]:
        """The provider's auth and a fingerprint of the Secret it came from (to spot changes)."""
        settings: dict[str, Any] = {}
        fingerprint = ""
        if provider.auth.type is not AuthType.NONE and provider.auth.secret_ref is not None:
            ref = provider.auth.secret_ref
            data = await self.secret_data(self._operator_namespace, ref.name, provider.name)
            if ref.key:
                if ref.key not in data:
                    raise ConfigError(
                        "SecretKeyMissing", f"secret {ref.name} has no key {ref.key!r}"
                    )
                settings[SETTING_FOR_KEY.get(provider.auth.type, ref.key)] = data[ref.key]
            else:
                settings.update(data)
                if provider.auth.type is AuthType.OAUTH2 and "credentials.json" in data:
                    settings["serviceAccountJson"] = data["credentials.json"]
            fingerprint = str(hash(tuple(sorted(data.items()))))
        if provider.auth.region:
            settings["region"] = provider.auth.region
        if provider.auth.service:
            settings["service"] = provider.auth.service
        try:
            return build_auth(provider.auth.type.value, settings), fingerprint
        except (ValueError, TypeError) as exc:
            raise ConfigError("InvalidCredentials", f"{provider.name}: {exc}") from exc

    async def _verify(self, provider: PoolProvider) -> bool | ssl.SSLContext:
        """TLS verification: the system trust, a CA from a Secret, or none when asked."""
        verify: bool | ssl.SSLContext = not provider.tls.insecure_skip_verify
        ref = provider.tls.ca_secret_ref
        if ref is None:
            return verify
        data = await self.secret_data(self._operator_namespace, ref.name, provider.name)
        ca_key = ref.key or "ca.crt"
        if ca_key not in data:
            raise ConfigError("SecretKeyMissing", f"secret {ref.name} has no key {ca_key!r}")
        try:
            return ssl.create_default_context(cadata=data[ca_key])
        except ssl.SSLError as exc:
            raise ConfigError("InvalidCA", f"{provider.name}: CA not usable: {exc}") from exc

    async def link_secrets(
        self, key: tuple[str, str], spec: MulticloudLinkSpec, *, deleting: bool
    ) -> tuple[Secret | None, Secret | None]:
        """(activation key, BGP MD5) a link names; none are read while it is being deleted."""
        namespace = key[0]
        who = f"link {key[0]}/{key[1]}"
        activation_key: Secret | None = None
        if spec.activation_key is not None and not deleting:
            ref = spec.activation_key.secret_ref
            data = await self.secret_data(namespace, ref.name, who)
            if ref.key not in data or not data[ref.key].strip():
                raise ConfigError(
                    "SecretKeyMissing", f"secret {namespace}/{ref.name} has no key {ref.key!r}"
                )
            activation_key = Secret(data[ref.key].strip())
        md5: Secret | None = None
        if spec.bgp is not None and spec.bgp.md5_secret_ref is not None and not deleting:
            ref5 = spec.bgp.md5_secret_ref
            data = await self.secret_data(namespace, ref5.name, who)
            if ref5.key not in data:
                raise ConfigError(
                    "SecretKeyMissing", f"secret {namespace}/{ref5.name} has no key {ref5.key!r}"
                )
            md5 = Secret(data[ref5.key])
        return activation_key, md5
