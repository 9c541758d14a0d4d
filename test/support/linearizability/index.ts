/**
 * The project's linearizability checker, for tests that record client histories against a
 * cluster: checkOperations plus the register and key-value models. Parsers for the shared test
 * vectors live in ./formats.ts. See ./checker.ts for how the search works.
 */
export { checkOperations } from "./checker.ts";
export { type KvState, kvModel, makeKvModel, type RegisterState, registerModel } from "./models.ts";
export type {
  CheckOptions,
  CheckResult,
  KvInput,
  KvOutput,
  Model,
  Operation,
  RegisterInput,
  RegisterOutput,
  StepResult,
} from "./types.ts";
