// The linearizability checker of the nemesis suite (hack/ensure-lincheck.sh builds it): etcd's
// KV model for porcupine (github.com/anishathalye/porcupine), the checker etcd's own robustness
// tests use.
module tsetcd.local/lincheck

go 1.26.0

require github.com/anishathalye/porcupine v1.3.1
