"""Settings from the environment, and the Spark conf they lead to (no Spark started)."""

import subprocess
import sys

import pytest

from ad_assets.resources import SparkResource
from ad_assets.settings import load_settings
from spark_jobs.session import SparkSettings, spark_conf


def test_extra_spark_conf_from_the_environment_goes_over_adlakes_own(tmp_path):
    s = load_settings(
        {
            "ADLAKE_HOME": str(tmp_path),
            "ADLAKE_SPARK_CONF": '{"spark.sql.shuffle.partitions": 16, "spark.x": "y"}',
        }
    )
    assert s.spark_conf == (("spark.sql.shuffle.partitions", "16"), ("spark.x", "y"))
    resource = SparkResource(spark_config=dict(s.spark_conf))
    conf = spark_conf(SparkSettings(extra_conf=tuple(resource.spark_config.items())))
    assert conf["spark.sql.shuffle.partitions"] == "16" and conf["spark.x"] == "y"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"  # AdLake's own settings stay
    assert spark_conf(SparkSettings())["spark.sql.shuffle.partitions"] == "4"


@pytest.mark.parametrize("text", ["[1, 2]", "spark.x=y"])
def test_a_spark_conf_that_is_not_a_json_object_is_refused(text, tmp_path):
    with pytest.raises(ValueError, match="ADLAKE_SPARK_CONF must be a JSON object"):
        load_settings({"ADLAKE_HOME": str(tmp_path), "ADLAKE_SPARK_CONF": text})


def test_an_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ADLAKE_ENV must be one of"):
        load_settings({"ADLAKE_HOME": str(tmp_path), "ADLAKE_ENV": "prod"})


def test_what_a_service_needs_imports_without_spark_dagster_or_dbt():
    """Services (collector, prediction API, dashboard) start without the pipeline's engines:
    the contracts, layers, metric and gold definitions, lake paths and settings import
    alone."""
    code = (
        "import sys\n"
        "import ad_assets.settings, spark_jobs.contracts, spark_jobs.layers, spark_jobs.lake\n"
        "import spark_jobs.metric_definitions, spark_jobs.gold_tables\n"
        "import ad_assets.marts_snapshot, ad_assets.alerts.rules, ad_assets.alerts.evaluate\n"
        "import dashboard.ui, dashboard.live, dashboard.sources\n"
        "from dashboard.views import overview, campaigns, auctions, attribution, audiences\n"
        "from dashboard.views import live, models, quality, alerts\n"
        "engines = {'pyspark', 'dagster', 'dbt', 'great_expectations'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & engines))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
