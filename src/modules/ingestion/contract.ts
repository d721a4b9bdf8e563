/** The ingestion module's public contract: the only part of it other modules and the gateway may import. */
import { Type as T } from "@sinclair/typebox";
import { defineContract } from "../../runtime/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const ingestionContract = defineContract({
  name: "ingestion",
  description: "Takes events and transactions, validates, deduplicates and stores them durably before acknowledging.",
  operations: { ping: pingOperation },
  events: {},
  routes: [pingRoute("ingestion")],
  config: T.Object({}, { additionalProperties: false }),
});
