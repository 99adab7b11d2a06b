/**
 * Largest encoded PolicySnapshot, in bytes: the control plane refuses a config that compiles to more, and a
 * data plane's policy stream accepts messages up to this (plus the response's few framing bytes). gRPC's
 * usual default of 4 MiB is a few tens of thousands of API keys, which a large deployment does configure.
 */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;
