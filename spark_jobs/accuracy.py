"""How right each attribution model is, judged against the simulator's ground truth (the
click that caused each order: ad_assets/generator/truth.py). Pure DataFrame functions.

For a conversion and a model, the credit that reached the truth is the credit the model
gave to touches on the causing click's campaign; for an organic conversion (no cause) it
is 1 when the conversion was left unattributed and 0 when a model credited it to a touch.
Accuracy = credit that reached the truth / conversions (and the same weighted by revenue),
per event date, model and the cause's channel ('organic' for none)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.attribution import MODELS, UNATTRIBUTED

ACCURACY_SCHEMA = (
    "event_date date, model string, cause_channel string, conversions bigint, credit_to_cause double, "
    "revenue_micros bigint, revenue_to_cause_micros double, accuracy double, revenue_accuracy double"
)
ORGANIC = "organic"  # the cause channel of a conversion no ad caused
GRAIN: tuple[str, ...] = ("event_date", "model", "cause_channel")


def attribution_accuracy(attribution: DataFrame, truth: DataFrame) -> DataFrame:
    """Per event date, model and cause channel: conversions, credit_to_cause (credited
    conversions that reached the true campaign), revenue_micros, revenue_to_cause_micros,
    accuracy and revenue_accuracy. Conversions without a truth row are not judged."""
    orders = (
        attribution.groupBy("event_date", "order_id")
        .agg(F.max("value_micros").alias("value_micros"), F.max("touches").alias("touches"))
        .join(truth.select("order_id", "cause_campaign_id", "cause_channel"), "order_id")
    )
    models = F.explode(F.array(*[F.lit(m) for m in MODELS])).alias("model")
    judged = orders.select("*", models)
    to_cause = (
        attribution.where(F.col("model") != UNATTRIBUTED)
        .join(truth.select("order_id", "cause_campaign_id"), "order_id")
        .where(F.col("campaign_id") == F.col("cause_campaign_id"))
        .groupBy("order_id", "model")
        .agg(F.sum("credit").alias("_credit"))
    )
    credit = F.when(F.col("cause_campaign_id").isNull(), F.when(F.col("touches") == 0, 1.0).otherwise(0.0))
    scored = judged.join(to_cause, ["order_id", "model"], "left").withColumn(
        "credit_to_cause", credit.otherwise(F.coalesce("_credit", F.lit(0.0)))
    )
    sums = scored.groupBy(
        "event_date", "model", F.coalesce("cause_channel", F.lit(ORGANIC)).alias("cause_channel")
    ).agg(
        F.count("*").cast("bigint").alias("conversions"),
        # Rounded, as in attribution_campaign_daily: sums of doubles depend on their order.
        F.round(F.sum("credit_to_cause"), 9).alias("credit_to_cause"),
        F.sum("value_micros").cast("bigint").alias("revenue_micros"),
        F.round(F.sum(F.col("credit_to_cause") * F.col("value_micros")), 3).alias("revenue_to_cause_micros"),
    )
    return sums.withColumn("accuracy", F.col("credit_to_cause") / F.col("conversions")).withColumn(
        "revenue_accuracy",
        F.when(F.col("revenue_micros") > 0, F.col("revenue_to_cause_micros") / F.col("revenue_micros")),
    )
