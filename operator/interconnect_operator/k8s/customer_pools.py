"""Customer pools: a CapacityPool on AWS Interconnect and Google transports -> its driver.

For a pool whose providers speak the clouds' customer APIs (``api.type``
AwsInterconnect and GoogleTransports), build the two customer clients from
the pool's spec and Secrets and put them behind the driver seam
(``reconcile.driver``): a :class:`CustomerPool` for the pool loop and a
:class:`CustomerDriver` for the link workers. Credentials: AWS keys from the
Secret (``accessKeyId``/``secretAccessKey``[/``sessionToken``], or the
``AWS_*`` names), or botocore's chain (IRSA, EKS Pod Identity) when the pool
says ``auth.source: Ambient``; Google: the pool's Bearer or OAuth2 auth
(Application Default Credentials, GKE Workload Identity, with ``source:
Ambient``). Never a silent fallback: a provider with ``auth.type: None`` is
a configuration error. A link's ``spec.customer`` becomes its ``CustomerTarget``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interconnect_operator.api.customer_aws import AwsCredentials, AwsInterconnectClient
from interconnect_operator.api.customer_gcp import GoogleTransportsClient
from interconnect_operator.k8s.config_error import ConfigError
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.resources import (
    AuthSource,
    AuthType,
    CapacityPoolSpec,
    MulticloudLinkSpec,
    PoolProvider,
    ProviderApiType,
    ProviderRole,
)
from interconnect_operator.protocol.customer_link import Attachment, Cloud, CustomerTarget
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.customer import CustomerDriver
from interconnect_operator.reconcile.customer_pool import AwsAccount, CustomerPool, GoogleProject
from interconnect_operator.reconcile.pool import PoolConfig

__all__ = ["customer_driver", "customer_target"]

_SIDE = {ProviderRole.NEGOTIATOR: Side.NEGOTIATOR, ProviderRole.RESPONDER: Side.RESPONDER}


async def customer_driver(
    credentials: Credentials,
    operator_namespace: str,
    spec: CapacityPoolSpec,
    config: PoolConfig,
    *,
    max_concurrency: int = 8,
) -> tuple[CustomerPool, CustomerDriver]:
    """The pool's customer clients, its bulk view and its link driver."""
    aws_provider = _provider(spec, ProviderApiType.AWS_INTERCONNECT)
    google_provider = _provider(spec, ProviderApiType.GOOGLE_TRANSPORTS)
    aws_api, google_api = aws_provider.api.aws, google_provider.api.google
    if aws_api is None or google_api is None:  # the spec validator rules this out
        raise ConfigError("InvalidSpec", "a customer pool needs api.aws and api.google")
    aws = AwsInterconnectClient(
        aws_api.region,
        endpoint_url=str(aws_provider.endpoint),
        credentials=await _aws_credentials(credentials, operator_namespace, aws_provider),
        max_workers=max_concurrency,
    )
    google_side = _SIDE[google_provider.role]
    google_auth = config.provider(google_side).auth
    if google_provider.auth.type is AuthType.NONE or google_auth is None:
        raise _credentials_required(google_provider, "OAuth2")
    google = GoogleTransportsClient(
        google_api.project,
        google_api.location,
        auth=google_auth,
        endpoint=str(google_provider.endpoint),
        max_concurrency=max_concurrency,
    )
    pool = CustomerPool(
        aws_account=AwsAccount(aws_api.region, aws_api.environment_id, aws_api.account_id),
        google_project=GoogleProject(
            google_api.project, google_api.location, google_api.remote_profile
        ),
        aws=aws,
        google=google,
        config=config,
        sides={Cloud.AWS: _SIDE[aws_provider.role], Cloud.GOOGLE: google_side},
    )
    return pool, CustomerDriver(pool, spec.environment)


def customer_target(body: Mapping[str, Any], spec: MulticloudLinkSpec) -> CustomerTarget | None:
    """A link's ``spec.customer`` as the driver takes it (ids derive from the link's uid)."""
    customer = spec.customer
    if customer is None:
        return None
    google = customer.google
    return CustomerTarget(
        uid=str(body["metadata"]["uid"]),
        initiator=customer.initiator,
        attachment=Attachment(
            gateway=customer.aws.direct_connect_gateway,
            network=google.network,
            hub=google.hub,
            advertised_routes=tuple(google.advertised_routes),
            ipv6=spec.ipv6,
        ),
    )


def _credentials_required(provider: PoolProvider, kind: str) -> ConfigError:
    return ConfigError(
        "CredentialsRequired",
        f"{provider.name}: a {provider.api.type.value} provider needs credentials: "
        f"auth.type {kind} with a secretRef, or with source Ambient to use the pod's identity",
    )


def _provider(spec: CapacityPoolSpec, api: ProviderApiType) -> PoolProvider:
    for provider in spec.providers:
        if provider.api.type is api:
            return provider
    raise ConfigError("InvalidSpec", f"a customer pool needs a provider of api.type {api.value}")


async def _aws_credentials(
    credentials: Credentials, namespace: str, provider: PoolProvider
) -> AwsCredentials | None:
    """Static keys from the pool's Secret, or None: botocore's chain (IRSA, Pod Identity).

    The chain is used only when the pool chose ``source: Ambient``; ``Credentials``
    has already checked it yields an identity (AmbientIdentityUnavailable otherwise).
    """
    if provider.auth.type is AuthType.NONE:
        raise _credentials_required(provider, "SigV4")
    if provider.auth.source is AuthSource.AMBIENT:
        return None
    ref = provider.auth.secret_ref
    if ref is None:  # the spec validator rules this out
        raise _credentials_required(provider, "SigV4")
    data = await credentials.secret_data(namespace, ref.name, provider.name)
    try:
        return AwsCredentials.from_secret(data)
    except ValueError as exc:
        raise ConfigError("InvalidCredentials", f"{provider.name}: {exc}") from exc
