"""Click-through-rate prediction (docs/prediction.md): features defined once for training and
serving, the models and their evaluation against the simulator's truth, the model registry in
the lake and the online feature store in Redis. Importable without Spark or Dagster."""

import os

# LightGBM's and scikit-learn's OpenMP threads spin while they wait unless told otherwise:
# on two busy cores that makes training 8x slower. libgomp reads this when it is loaded, so
# it is set before any module of this package imports either library.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
