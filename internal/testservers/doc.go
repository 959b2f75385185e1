// Package testservers starts real storage servers on loopback for tests:
// Azurite (Azure Blob), MinIO (S3) and fake-gcs-server (Google Cloud
// Storage's JSON API), as make setup installs them, and FaultProxy, which
// sits in front of one and injects seeded faults (503 SlowDown, connections
// dropped before or halfway through a response, slow responses). A test
// that needs a server skips when it is not installed, unless
// FEATURIZER_REQUIRE_SERVERS is set (CI), where it fails.
package testservers
