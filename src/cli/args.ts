/** Shared CLI plumbing: argument parsing and how failures reach the terminal (a message and an exit code). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../runtime/config/load";
import { CleaveError, toCleaveError } from "../runtime/errors";

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Prints a failure for a person and returns the exit code: 2 for usage/config mistakes, 1 for the rest. */
export function fail(err: unknown): number {
  if (err instanceof CliError) {
    console.error(`cleave: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    console.error(`cleave: invalid config: ${err.message}`);
    return 2;
  }
  if (err instanceof CleaveError) {
    console.error(`cleave: ${err.message}`);
    return 1;
  }
  // A state of the machine rather than a fault (a full disk): its message, without a stack trace.
  const known = toCleaveError(err);
  if (known.code !== "INTERNAL") {
    console.error(`cleave: ${known.message}`);
    return 1;
  }
  console.error(`cleave: ${(err as Error)?.stack ?? err}`);
  return 1;
}
