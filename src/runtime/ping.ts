/**
 * `ping`: the one operation every built-in module offers so that a deployment can be probed end to end (which
 * process answered, under which trace) before any real traffic flows.
 */
import { Type as T } from "@sinclair/typebox";
import type { CallContext, OperationDef, RouteDef } from "./contract";

export const pingOperation = {
  input: T.Object({ message: T.Optional(T.String({ maxLength: 1024 })) }, { additionalProperties: false }),
  output: T.Object({
    module: T.String(),
    message: T.String(),
    pid: T.Integer(),
    traceId: T.String(),
  }),
  summary: "Answers with the module name, the serving process and the trace id",
} satisfies OperationDef;

export const pingRoute = (module: string): RouteDef => ({
  method: "POST",
  path: `/v1/${module}/ping`,
  operation: "ping",
});

export const ping = (module: string) => (input: { message?: string }, ctx: CallContext) => ({
  module,
  message: input.message ?? "pong",
  pid: process.pid,
  traceId: ctx.traceId,
});
