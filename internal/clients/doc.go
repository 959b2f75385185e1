// Package clients finds the Python environment of the real clients that
// tests hold featurizer's output to (PySpark, pyarrow, DuckDB, MLflow,
// Keras): the virtual environment `make setup` installs in .venv/ at the
// repository root from requirements-clients.txt. A test that needs it
// calls Python; without the environment the test skips with a message,
// unless FEATURIZER_REQUIRE_CLIENTS is set (CI), where it fails.
package clients
