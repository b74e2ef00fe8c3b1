"""AWS adapters: the implementations of ``automations.ports`` (DynamoDB, Step Functions, SSM).

May import: boto3/botocore, ``automations.errors``, ``automations.settings``,
``automations.observability``, ``automations.domain``, ``automations.nodes``, ``automations.flows``
and ``automations.ports``. Never ``automations.logic`` or ``automations.api``.
"""
