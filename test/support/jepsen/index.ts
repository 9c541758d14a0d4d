/**
 * Jepsen-style fault runs against a real HeroDB cluster: concurrent clients record a history of
 * gets, puts, compare-and-sets and acknowledged set adds while a nemesis kills, pauses and
 * partitions nodes; afterwards the history must be linearizable and no acknowledged write may be
 * lost. ./run.ts drives one run; the other modules are its parts (setup, client, workload,
 * nemesis, check, history, prng). Used by test/integration/cluster-faults.test.ts (a short CI
 * set) and scripts/jepsen.ts (long campaigns).
 */

export { Conn, type Outcome } from "./client.ts";
export { type FaultEvent, type HistoryOp, saveHistory } from "./history.ts";
export { Prng, randomSeed } from "./prng.ts";
export {
  describe,
  FaultRunError,
  type FaultRunOptions,
  type FaultRunResult,
  runFaultRun,
} from "./run.ts";
export {
  describeHealth,
  type InstanceKind,
  type ProxiedCluster,
  startProxiedCluster,
} from "./setup.ts";
