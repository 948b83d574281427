"""Conformance kit: black-box checks of one provider's Connection Coordinator endpoint.

``interconnect-operator conformance`` calls a provider the way a peer does,
with the typed client of :mod:`interconnect_operator.api`, and reports one
PASS / FAIL / SKIP per check, grouped by the rule it reads (PROTOCOL.md
P1-P35, the spec's schemas and status codes), with the exchanges as evidence.

The checks are an independent reading of the rules: this package imports
the wire client and models, never the operator's own decisions
(``protocol/``, ``reconcile/``), so that it judges an implementation (the
simulator included) by a second reading.

- :mod:`.results`: outcomes, evidence, check results, the run report;
- :mod:`.catalog`: every check the kit knows (id, rule, expectation, needs);
- :mod:`.recording`: an HTTP transport that records redacted exchanges;
- :mod:`.spec`: the pinned OpenAPI spec, found at run time, as a validator;
- :mod:`.session`: one run's clients, ledger of created objects and cleanup;
- :mod:`.checks`: the scenarios that produce the results;
- :mod:`.runner`: order, progress, interruption, cleanup;
- :mod:`.report`: terminal summary, Markdown and JUnit XML;
- :mod:`.cli`: the ``conformance`` subcommand.
"""
