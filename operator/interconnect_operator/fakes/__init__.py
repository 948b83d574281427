"""Local fakes of the two clouds' customer APIs (see docs/customer-apis.md).

Each fake fronts one simulator (the AWS fake the ``aws`` one, the Google fake
the ``gcp`` one); the two coordinate only through the symmetric API between
those simulators, as providers do. The operator never imports this package.

- ``aws_app`` (the awsJson 1.0 wire), ``aws_service`` (the account and its 13
  operations), ``aws_auth`` (SigV4), ``aws_model`` (checks against botocore's
  own ``interconnect`` model);
- ``gcp_app`` (the REST mapping and Google's error JSON), ``gcp_service``
  (transports, profiles, long-running operations), ``gcp_discovery`` (checks
  against the discovery document google-api-python-client ships);
- ``handoff``: what both share: keys issued by the fronted simulator, keys
  confirmed at the peer's, each link's progress;
- ``engine``: the project's own engine (reconcile/'s LinkReconciler) in the
  providers' role, the one module that touches reconcile/;
- ``cli``: the ``fake-aws`` and ``fake-gcp`` commands.
"""
