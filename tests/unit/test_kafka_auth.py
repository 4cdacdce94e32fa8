"""How the Kafka clients authenticate (spark_jobs/kafka_auth.py): the exact confluent-kafka
and Spark settings for `none` and `aws_iam`, read once from the environment, and the MSK
IAM token callback.

No AWS is reachable from here, so the token signer (aws-msk-iam-sasl-signer's
MSKAuthTokenProvider.generate_auth_token, which signs with the process's AWS credentials)
is replaced by a stand-in that returns a fixed token: the one stub of these tests. Everything
around it is real: librdkafka is handed the configuration and asks the callback for a token
on its own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

from ad_assets.settings import load_settings
from spark_jobs.kafka_auth import KafkaAuth, MskIamToken, client_config, spark_kafka_options

MSK = "b-1.adlake.abc123.c2.kafka.eu-west-1.amazonaws.com:9098"
EXPIRY_MS = (int(time.time()) + 900) * 1000  # librdkafka refuses a token already expired


@pytest.fixture
def signer(monkeypatch) -> list[str]:
    """The stand-in signer: a fixed token valid for 15 minutes, as MSK's are; records the
    region of each call."""
    calls: list[str] = []

    def generate_auth_token(region: str, aws_debug_creds: bool = False) -> tuple[str, int]:
        calls.append(region)
        return "signed-token", EXPIRY_MS

    monkeypatch.setattr(MSKAuthTokenProvider, "generate_auth_token", generate_auth_token)
    return calls


def test_without_authentication_a_client_gets_the_bootstrap_only() -> None:
    assert client_config("127.0.0.1:9092", KafkaAuth()) == {"bootstrap.servers": "127.0.0.1:9092"}
    assert spark_kafka_options("127.0.0.1:9092", KafkaAuth()) == {"kafka.bootstrap.servers": "127.0.0.1:9092"}


def test_msk_iam_uses_tls_and_oauthbearer_in_confluent_kafka_and_aws_msk_iam_in_spark() -> None:
    auth = KafkaAuth("aws_iam", "eu-west-1")
    assert client_config(MSK, auth) == {
        "bootstrap.servers": MSK,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": MskIamToken("eu-west-1"),
    }
    assert spark_kafka_options(MSK, auth) == {
        "kafka.bootstrap.servers": MSK,
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "AWS_MSK_IAM",
        "kafka.sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
        "kafka.sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
    }


def test_the_callback_returns_the_token_and_its_expiry_in_seconds(signer: list[str]) -> None:
    token, expiry = MskIamToken("eu-west-1")("")
    assert (token, expiry) == ("signed-token", EXPIRY_MS / 1000)  # the signer says milliseconds
    assert signer == ["eu-west-1"]


def test_the_setting_is_read_from_the_environment_once(tmp_path: Path) -> None:
    home = {"ADLAKE_HOME": str(tmp_path)}
    assert load_settings(home).kafka_auth == KafkaAuth()
    aws = {**home, "ADLAKE_KAFKA_AUTH": "aws_iam", "AWS_REGION": "eu-west-1"}
    assert load_settings(aws).kafka_auth == KafkaAuth("aws_iam", "eu-west-1")
    # The region matters to aws_iam only.
    assert KafkaAuth.from_env({"ADLAKE_KAFKA_AUTH": "none", "AWS_REGION": "eu-west-1"}) == KafkaAuth()


def test_a_callers_missing_auth_is_the_environments(monkeypatch) -> None:
    """cli.py and the Dagster assets hand the clients a bootstrap address only: they get the
    process's setting, through the same parser."""
    monkeypatch.setenv("ADLAKE_KAFKA_AUTH", "aws_iam")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert client_config(MSK)["oauth_cb"] == MskIamToken("us-west-2")
    assert spark_kafka_options(MSK)["kafka.sasl.mechanism"] == "AWS_MSK_IAM"
    monkeypatch.delenv("ADLAKE_KAFKA_AUTH")
    assert client_config("127.0.0.1:9092") == {"bootstrap.servers": "127.0.0.1:9092"}


@pytest.mark.parametrize(
    "env, error",
    [
        ({"ADLAKE_KAFKA_AUTH": "sasl_plain"}, "must be one of"),
        ({"ADLAKE_KAFKA_AUTH": "aws_iam"}, "needs AWS_REGION"),  # a token for no region: refused
    ],
)
def test_a_bad_setting_is_refused_at_start(env: dict[str, str], error: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=error):
        load_settings({"ADLAKE_HOME": str(tmp_path), **env})
