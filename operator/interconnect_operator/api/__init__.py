"""The symmetric API on the wire (see README.md, Architecture, "api/").

- :mod:`.models`: pydantic models of every schema of the pinned spec;
- :mod:`.client`: :class:`ProviderClient`, an async client of all 33 operations;
- :mod:`.errors`: typed errors (P32) and OutcomeUnknown (P33);
- :mod:`.retry`: the retry policy (P33);
- :mod:`.auth`: authentication plugins (P34);
- :mod:`.activation_key`: encode/decode of activation keys (P1-P3);
- :mod:`.names`: resource name helpers.
"""

from interconnect_operator.api.client import OPERATIONS, ProviderClient, RequestRecord
from interconnect_operator.api.retry import RetryPolicy

__all__ = ["OPERATIONS", "ProviderClient", "RequestRecord", "RetryPolicy"]
