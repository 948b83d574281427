"""Credentials: Secrets -> what the provider clients and the reconciler need.

A CapacityPool names Secrets in the operator's namespace for each provider's
auth and TLS CA; a link names Secrets in its own namespace for its
activation key and BGP MD5. This module reads and decodes them, holds the
values actually used for redaction (``redaction``: a pool's as the operator's
own, a link's in its namespace's scope, let go when no longer referenced),
and turns a pool spec into a ``PoolConfig``.
Problems become ``ConfigError`` with a reason for status and Events.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from interconnect_operator import redaction
from interconnect_operator.api.ambient import (
    AmbientUnavailable,
    aws_ambient_auth,
    google_ambient_auth,
)
from interconnect_operator.api.auth import Auth, build_auth
from interconnect_operator.k8s.config_error import ConfigError, validation_message
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.resources import (
    AuthSource,
    AuthType,
    CapacityPoolSpec,
    MulticloudLinkSpec,
    PoolProvider,
    ProviderRole,
    TlsVersion,
)
from interconnect_operator.k8s.secret_refs import (
    LINK_SECRET_LABEL,
    data_digest,
    link_secret_digest,
)
from interconnect_operator.protocol.types import Secret, Side
from interconnect_operator.reconcile.pool import PoolConfig, ProviderConfig

#: The label a Secret in a tenant's namespace must carry before a link may use it
#: (``bgp.md5SecretRef``, ``activationKey.secretRef``): a link cannot make the
#: operator read, and send to providers, a Secret that was not meant for it.

# A secretRef with a `key` names one value; it becomes the setting build_auth reads.
SETTING_FOR_KEY = {AuthType.BEARER: "token", AuthType.OAUTH2: "serviceAccountJson"}


class Credentials:
    """Reads Secrets through the Kubernetes API; the pool's live in ``operator_namespace``."""

    def __init__(self, kube: KubeApi, operator_namespace: str) -> None:
        self._kube = kube
        self._operator_namespace = operator_namespace
        self.digests: dict[tuple[str, str], str] = {}
        """(namespace, name) -> digest of the Secret's data at its latest read."""

    @property
    def operator_namespace(self) -> str:
        """Where the pools' Secrets (and the operator's own) live."""
        return self._operator_namespace

    async def secret_data(self, namespace: str, name: str, who: str) -> dict[str, str]:
        """A Secret's decoded values; ``who`` names the user. The caller holds what it uses."""
        try:
            secret = await self._kube.get_secret(namespace, name)
        except KubeError as exc:
            if exc.status == 404:
                self.digests.pop((namespace, name), None)
                raise ConfigError(
                    "SecretNotFound", f"{who}: secret {namespace}/{name} not found"
                ) from exc
            if exc.status == 403:
                raise ConfigError(
                    "SecretForbidden",
                    f"{who}: the operator may not read secret {namespace}/{name}",
                ) from exc
            raise ConfigError("SecretUnavailable", f"{who}: {exc}") from exc
        self.digests[(namespace, name)] = data_digest(secret.get("data"))
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            try:
                decoded = base64.b64decode(value).decode("utf-8")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    "SecretMalformed", f"{who}: secret {namespace}/{name} key {key} is not UTF-8"
                ) from exc
            data[key] = decoded
        return data

    async def link_secret_value(self, namespace: str, name: str, key: str, who: str) -> str:
        """The value under ``key`` of a link Secret that opted in (``LINK_SECRET_LABEL``).

        A Secret that does not exist, may not be read or lacks the label is
        refused with one reason and one message: the answer tells a tenant
        nothing about Secrets it could not read itself.
        """
        refused = ConfigError(
            "LinkSecretRefused",
            f"{who}: secret {namespace}/{name} is not usable by links: it must exist "
            f'and carry the label {LINK_SECRET_LABEL}: "true"',
        )
        try:
            secret = await self._kube.get_secret(namespace, name)
        except KubeError as exc:
            if exc.status in (403, 404):
                self.digests.pop((namespace, name), None)
                raise refused from exc
            raise ConfigError("SecretUnavailable", f"{who}: {exc}") from exc
        # What the link saw: the recheck wakes it when the data or the opt-in change.
        self.digests[(namespace, name)] = link_secret_digest(secret)
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get(LINK_SECRET_LABEL) != "true":
            raise refused
        encoded = (secret.get("data") or {}).get(key)
        if encoded is None:
            raise ConfigError("SecretKeyMissing", f"secret {namespace}/{name} has no key {key!r}")
        try:
            return base64.b64decode(encoded).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(
                "SecretMalformed", f"{who}: secret {namespace}/{name} key {key} is not UTF-8"
            ) from exc

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
            negotiator=await self.provider_config(
                negotiator, responder, Side.NEGOTIATOR, owner=pool_owner(name)
            ),
            responder=await self.provider_config(
                responder, negotiator, Side.RESPONDER, owner=pool_owner(name)
            ),
            refresh_interval=float(spec.refresh_interval),
            headroom_mbps=spec.policy.headroom_mbps,
            max_bandwidth_mbps_per_link=spec.policy.max_bandwidth_mbps_per_link,
            macsec_rotate=spec.macsec.rotate,
            macsec_rotation_interval_hours=spec.macsec.rotation_interval_hours,
        )

    async def provider_config(
        self, provider: PoolProvider, other: PoolProvider, side: Side, *, owner: str
    ) -> ProviderConfig:
        """Resolve the provider's credentials from Secrets in the operator's namespace.

        The values used are held for redaction by ``owner`` + the provider's name.
        """
        auth, fingerprint = await self._auth(provider, f"{owner}{provider.name}")
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

    async def _auth(self, provider: PoolProvider, owner: str) -> tuple[Auth, str]:
        """The provider's auth and a fingerprint of the Secret it came from (to spot changes)."""
        if provider.auth.source is AuthSource.AMBIENT:
            return await self._ambient(provider), f"ambient:{provider.auth.type.value}"
        settings: dict[str, Any] = {}
        fingerprint = ""
        if provider.auth.type is AuthType.NONE or provider.auth.secret_ref is None:
            redaction.release(owner)
        else:
            ref = provider.auth.secret_ref
            data = await self.secret_data(self._operator_namespace, ref.name, provider.name)
            if ref.key:
                if ref.key not in data:
                    raise ConfigError(
                        "SecretKeyMissing", f"secret {ref.name} has no key {ref.key!r}"
                    )
                settings[SETTING_FOR_KEY.get(provider.auth.type, ref.key)] = data[ref.key]
                redaction.hold(owner, [data[ref.key]])
            else:
                settings.update(data)
                if provider.auth.type is AuthType.OAUTH2 and "credentials.json" in data:
                    settings["serviceAccountJson"] = data["credentials.json"]
                # Without a key the whole Secret is the credential: every value is used.
                redaction.hold(owner, data.values())
            fingerprint = str(hash(tuple(sorted(data.items()))))
        if provider.auth.region:
            settings["region"] = provider.auth.region
        if provider.auth.service:
            settings["service"] = provider.auth.service
        try:
            return build_auth(provider.auth.type.value, settings), fingerprint
        except (ValueError, TypeError) as exc:
            raise ConfigError("InvalidCredentials", f"{provider.name}: {exc}") from exc

    @staticmethod
    async def _ambient(provider: PoolProvider) -> Auth:
        """The pod's platform identity, as the pool explicitly asked (never a fallback)."""
        auth = provider.auth
        try:
            if auth.type is AuthType.SIGV4:
                if not auth.region:
                    raise ConfigError(
                        "InvalidCredentials", f"{provider.name}: SigV4 needs auth.region"
                    )
                region, service = auth.region, auth.service or "interconnect"
                # botocore's chain and google-auth block (STS, metadata server): a thread.
                return await asyncio.to_thread(aws_ambient_auth, region, service)
            if auth.type is AuthType.OAUTH2:
                return await asyncio.to_thread(google_ambient_auth)
        except AmbientUnavailable as exc:
            raise ConfigError("AmbientIdentityUnavailable", f"{provider.name}: {exc}") from exc
        raise ConfigError(
            "InvalidSpec", f"{provider.name}: auth.source Ambient needs auth.type SigV4 or OAuth2"
        )

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
        owner = link_owner(key)
        activation_key: Secret | None = None
        if spec.activation_key is None:
            redaction.release(f"{owner}activationKey")
        if spec.bgp is None or spec.bgp.md5_secret_ref is None:
            redaction.release(f"{owner}md5")
        if spec.activation_key is not None and not deleting:
            ref = spec.activation_key.secret_ref
            value = await self.link_secret_value(namespace, ref.name, ref.key, who)
            if not value.strip():
                raise ConfigError(
                    "SecretKeyMissing", f"secret {namespace}/{ref.name} has no key {ref.key!r}"
                )
            activation_key = Secret(value.strip())
            # Only the referenced value, in the tenant's scope (never the other keys).
            redaction.hold(f"{owner}activationKey", [value], scope=namespace)
        md5: Secret | None = None
        if spec.bgp is not None and spec.bgp.md5_secret_ref is not None and not deleting:
            ref5 = spec.bgp.md5_secret_ref
            value = await self.link_secret_value(namespace, ref5.name, ref5.key, who)
            md5 = Secret(value)
            redaction.hold(f"{owner}md5", [value], scope=namespace)
        return activation_key, md5


def pool_owner(pool: str) -> str:
    """Prefix of the redaction owners of a pool's credentials."""
    return f"pool/{pool}/"


def link_owner(key: tuple[str, str]) -> str:
    """Prefix of the redaction owners of a link's Secret values."""
    return f"link/{key[0]}/{key[1]}/"
