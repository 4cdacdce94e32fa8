"""How every AdLake Kafka client authenticates to its broker: one definition for the
confluent-kafka clients (the collector's producer, the stream's dead-letter producer, the
topic admin of `adlake stack init`, the lag probe, the demo) and for Spark's Kafka source
(the counters query and the lake landing). Imports neither Spark nor a Kafka client.

ADLAKE_KAFKA_AUTH (ad_assets/settings.py):

- `none` (the default): plaintext, the local broker and the docker stack's.
- `aws_iam`: MSK with IAM access control (infra/terraform/modules/streaming), TLS on port
  9098. confluent-kafka has no AWS_MSK_IAM mechanism, so it uses SASL/OAUTHBEARER with a
  token that aws-msk-iam-sasl-signer signs with the process's AWS credentials (the ECS
  task role); Spark's Kafka client (Java) uses the AWS_MSK_IAM mechanism of the
  `software.amazon.msk:aws-msk-iam-auth` jar, which the image carries (docs/deploy.md).
  The token is signed for AWS_REGION, the region of the deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

KAFKA_AUTHS = ("none", "aws_iam")


@dataclass(frozen=True)
class KafkaAuth:
    """How to authenticate to the broker: `mode` one of KAFKA_AUTHS; `region` signs MSK's
    IAM tokens (aws_iam only)."""

    mode: str = "none"
    region: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in KAFKA_AUTHS:
            raise ValueError(f"ADLAKE_KAFKA_AUTH must be one of {KAFKA_AUTHS}, got {self.mode!r}")
        if self.mode == "aws_iam" and not self.region:
            # A token signed for another region is refused by the brokers: no default.
            raise ValueError("ADLAKE_KAFKA_AUTH=aws_iam needs AWS_REGION, the region of the MSK cluster")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaAuth:
        """The environment's setting (Settings.kafka_auth reads it through here)."""
        e = os.environ if environ is None else environ
        mode = e.get("ADLAKE_KAFKA_AUTH") or "none"
        return cls(mode, (e.get("AWS_REGION") or None) if mode == "aws_iam" else None)


@dataclass(frozen=True)
class MskIamToken:
    """confluent-kafka's `oauth_cb` for MSK: a fresh IAM token (valid 15 minutes) each time
    librdkafka asks; librdkafka asks again before it expires. A dataclass, so that two
    configurations compare equal."""

    region: str

    def __call__(self, _oauthbearer_config: str | None = None) -> tuple[str, float]:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(self.region)
        return token, expiry_ms / 1000  # the signer says milliseconds, librdkafka wants seconds


def client_config(bootstrap: str, auth: KafkaAuth | None = None) -> dict[str, object]:
    """A confluent-kafka client's connection settings; callers add their own (acks,
    group.id...). `auth` None: this process's environment, for the callers that are handed
    only a bootstrap address."""
    auth = KafkaAuth.from_env() if auth is None else auth
    config: dict[str, object] = {"bootstrap.servers": bootstrap}
    if auth.mode == "aws_iam":
        assert auth.region is not None  # KafkaAuth checked it
        config.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "OAUTHBEARER",
                # confluent-kafka 2.13+ serves the callback on a background thread: no
                # poll() is needed before an admin or producer call can authenticate.
                "oauth_cb": MskIamToken(auth.region),
            }
        )
    return config


# The aws-msk-iam-auth jar's login module and callback handler (Spark's Kafka client).
MSK_IAM_JAAS = "software.amazon.msk.auth.iam.IAMLoginModule required;"
MSK_IAM_CALLBACK_HANDLER = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"


def spark_kafka_options(bootstrap: str, auth: KafkaAuth | None = None) -> dict[str, str]:
    """The `kafka.*` options of Spark's Kafka source for the same broker (`auth` None: the
    environment's, as in client_config)."""
    auth = KafkaAuth.from_env() if auth is None else auth
    options = {"kafka.bootstrap.servers": bootstrap}
    if auth.mode == "aws_iam":
        # The Java client signs with the default AWS credentials chain (the task role) and
        # finds the region itself; the jar must be on spark.jars (the image has it).
        options.update(
            {
                "kafka.security.protocol": "SASL_SSL",
                "kafka.sasl.mechanism": "AWS_MSK_IAM",
                "kafka.sasl.jaas.config": MSK_IAM_JAAS,
                "kafka.sasl.client.callback.handler.class": MSK_IAM_CALLBACK_HANDLER,
            }
        )
    return options
