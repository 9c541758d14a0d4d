/**
 * The Raft core's public surface: RawNode (drive it with tick/step/propose, drain ready()),
 * MemoryStorage (tests and simulation), the conf-change entry codec and the shared vocabulary.
 * Nothing in src/raft performs I/O or reads clocks; see ./raw-node.ts for the runtime protocol.
 */
export { decodeConfChange, encodeConfChange } from "./conf-change-codec.ts";
export { RaftError, type RaftErrorCode, RaftInvariantError } from "./errors.ts";
export { MemoryStorage } from "./memory-storage.ts";
export { DEFAULT_MAX_INFLIGHT, DEFAULT_MAX_SIZE_PER_MSG } from "./raft.ts";
export { RawNode } from "./raw-node.ts";
export * from "./types.ts";
