/** The decision module's public contract: the only part of it other modules and the gateway may import. */
import { Type as T } from "@sinclair/typebox";
import { defineContract } from "../../runtime/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const decisionContract = defineContract({
  name: "decision",
  description: "Applies business rules to scores and features: approve, review or block, with reasons.",
  operations: { ping: pingOperation },
  events: {},
  routes: [pingRoute("decision")],
  config: T.Object({}, { additionalProperties: false }),
});
